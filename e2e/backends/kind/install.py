"""Install and uninstall the plugin on one kind node.

Layout (as cniqs.build.install_into makes it): /opt/cni/bin/cni-quickstart.d/ holds the one-folder
build, /opt/cni/bin/cni-quickstart is a symlink to cni-quickstart.d/cni-quickstart. The conflist
goes through cniqs.conflist (the one installer for every backend) over DockerExecFiles.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cniqs import conflist
from cniqs.build import NAME
from e2e.backends.kind import commands as c
from e2e.backends.kind import parse
from e2e.backends.kind.nodeutils import DockerExecFiles, Runner, check, crictl_info, exists, readlink, sha256sums

BIN_DIR = "/opt/cni/bin"
CONF_DIR = "/etc/cni/net.d"
FOLDER = f"{BIN_DIR}/{NAME}.d"
LINK = f"{BIN_DIR}/{NAME}"
LINK_TARGET = f"{NAME}.d/{NAME}"
TMP_FOLDER = f"{BIN_DIR}/.{NAME}.d.cniqs.tmp"
TMP_LINK = f"{BIN_DIR}/.{NAME}.cniqs.tmp"


class NodeInstallError(Exception):
    """The node is not in a state install understands, or the copy did not arrive intact."""


@dataclass(frozen=True)
class Installed:
    """What install did on one node."""

    node: str
    binary: bool
    conflist: str | None


def binary_steps(node: str, folder: Path) -> list[list[str]]:
    """The commands that put a build folder in place on a node, in order.

    Copy to a temp folder, swap it in, then replace the symlink by renaming a fresh one over it,
    so the runtime never finds a half-copied executable behind /opt/cni/bin/cni-quickstart.
    """
    return [
        c.node_rm(node, TMP_FOLDER, recursive=True),
        c.docker_cp(str(folder), node, TMP_FOLDER),
        c.node_rm(node, FOLDER, recursive=True),
        c.node_rename(node, TMP_FOLDER, FOLDER),
        c.node_rm(node, TMP_LINK),
        c.node_symlink(node, LINK_TARGET, TMP_LINK),
        c.node_rename(node, TMP_LINK, LINK),
    ]


def removal_steps(node: str) -> list[list[str]]:
    return [c.node_rm(node, LINK), c.node_rm(node, FOLDER, recursive=True)]


def ours(run: Runner, node: str) -> bool | None:
    """True: our symlink is there; None: nothing named cni-quickstart; False: something else is."""
    if readlink(run, node, LINK) == LINK_TARGET:
        return True
    return False if exists(run, node, LINK) else None


def install_binary(run: Runner, node: str, folder: Path, expected: dict[str, str]) -> None:
    present = ours(run, node)
    if present is False:
        raise NodeInstallError(f"{node}: {LINK} exists and is not cni-quickstart's symlink; not touching it")
    if not (present and verified(run, node, expected)):
        for argv in binary_steps(node, folder):
            check(run, argv, f"install the plugin on {node}", timeout=300)
        verify_binary(run, node, expected)
    out = check(run, c.node_plugin_version(node, LINK), f"run {LINK} on {node}", input="", timeout=60)
    try:
        versions = json.loads(out).get("supportedVersions")
    except ValueError:
        versions = None
    if not versions:
        raise NodeInstallError(f"{node}: {LINK} VERSION printed {out[:200]!r}, not a CNI version answer")


def verified(run: Runner, node: str, expected: dict[str, str]) -> bool:
    try:
        verify_binary(run, node, expected)
    except NodeInstallError:
        return False
    return True


def verify_binary(run: Runner, node: str, expected: dict[str, str]) -> None:
    """sha256 of every file on the node against the build; the executable also through the symlink."""
    paths = [f"{FOLDER}/{rel}" for rel in sorted(expected)]
    actual = sha256sums(run, node, [*paths, LINK])
    problems = parse.manifest_problems(expected, actual, FOLDER)
    if actual.get(LINK) != expected.get(NAME):
        problems.append(f"{LINK} does not resolve to the built executable")
    if problems:
        raise NodeInstallError(f"{node}: the copied plugin does not match the build: " + "; ".join(problems))


def install(
    run: Runner, node: str, folder: Path, expected: dict[str, str], entry: dict[str, Any]
) -> tuple[Installed, conflist.Plan | None]:
    install_binary(run, node, folder, expected)
    plan = conflist.install(DockerExecFiles(run, node), CONF_DIR, entry)
    return Installed(node, True, None if plan is None else plan.path), plan


def uninstall_conflist(run: Runner, node: str) -> bool:
    return conflist.uninstall(DockerExecFiles(run, node), CONF_DIR)


def uninstall_binary(run: Runner, node: str) -> bool:
    """Remove the symlink and folder when they are ours; leave anything else alone."""
    if not ours(run, node):
        return False
    for argv in removal_steps(node):
        check(run, argv, f"remove the plugin from {node}")
    return True


def chain_state(run: Runner, node: str, entry: dict[str, Any] | None) -> tuple[bool, str]:
    """(loaded as wanted, one-line description of what containerd has loaded)."""
    text = crictl_info(run, node)
    return parse.chain_matches(text, entry), parse.describe_chain(text)


# Base chain variants: kindnetd owns 10-kindnet.conflist and rewrites it whenever it restarts, so a
# variant goes into its own file that sorts before it (and after the plugin's 00- file, which is
# then derived from it). Network name, dataDir and ranges stay kindnet's: host-local keys its
# allocations by network name, so pods keep one allocation store.
BASE_NAME = "05-cniqs-base.conflist"
KINDNET_NAME = "10-kindnet.conflist"


def base_variant(kindnet: dict[str, Any], cni_version: str, dual_stack: bool) -> dict[str, Any]:
    """The node's own kindnet chain in another cniVersion; refuses a family mix the node lacks."""
    ranges = kindnet["plugins"][0].get("ipam", {}).get("ranges", [])
    families = {":" in r[0]["subnet"] for r in ranges if r and isinstance(r[0], dict) and "subnet" in r[0]}
    if dual_stack and len(families) < 2:
        raise NotImplementedError("this kind cluster is single-stack; create it with --kind-ip-family dual")
    if not dual_stack and len(families) > 1:
        raise NotImplementedError("this kind cluster is dual-stack; a single-stack chain would drop a family")
    derived = json.loads(json.dumps(kindnet))
    derived["cniVersion"] = cni_version
    return derived


def use_base(run: Runner, node: str, cni_version: str | None, dual_stack: bool = False) -> dict[str, Any]:
    """Write (or with cni_version None remove) the base variant on a node; returns the chain now in force."""
    files = DockerExecFiles(run, node)
    kindnet = conflist.parse_chain(files.read_text(f"{CONF_DIR}/{KINDNET_NAME}"), f"{node}:{CONF_DIR}/{KINDNET_NAME}")
    if cni_version is None:
        if BASE_NAME in files.list_dir(CONF_DIR):
            files.remove(f"{CONF_DIR}/{BASE_NAME}")
        return kindnet
    chain = base_variant(kindnet, cni_version, dual_stack)
    files.write_atomic(f"{CONF_DIR}/{BASE_NAME}", conflist.render(chain))
    return chain


def base_state(run: Runner, node: str, chain: dict[str, Any]) -> tuple[bool, str]:
    text = crictl_info(run, node)
    return parse.base_matches(text, chain["name"], chain["cniVersion"]), parse.describe_chain(text)

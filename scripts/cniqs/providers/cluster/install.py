"""Install and uninstall the plugin on one node of a Kubernetes cluster, through NodeShellFiles.

Layout (cniqs.install.executable.install_executable, the one executable install): /opt/cni/bin/cni-quickstart.d/
holds the one-folder build, /opt/cni/bin/cni-quickstart is a symlink to cni-quickstart.d/cni-quickstart.
The conflist goes through cniqs.install.conflist (the one conflist installer for every provider).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cniqs.common import cniconfig
from cniqs.common.errors import InstallError
from cniqs.common.run import CommandError
from cniqs.common.waits import CNI_LOADED_SECONDS, NotYet, wait_until
from cniqs.install import conflist, executable
from cniqs.install.executable import NAME
from cniqs.providers.cluster import commands as cmd
from cniqs.providers.cluster import parse
from cniqs.providers.cluster.nodes import KUBELET_CNI, Nodes, NodeShellFiles, crictl_info
from cniqs.ship import build

# The default CNI dirs (kubelet's and containerd's), where a provider's Nodes name no others.
BIN_DIR, FOLDER, LINK = KUBELET_CNI.bin_dir, KUBELET_CNI.folder, KUBELET_CNI.link
TMP_FOLDER, TMP_LINK = executable.temp_names(BIN_DIR)


# What to do about a build on too new a userland (glibc_message), per install path.
CONTAINER_BUILD = "Build it in the container build instead (plugin/Dockerfile, Debian bookworm: docs/plugin.md)"
DAEMONSET_BUILD = (
    "The installer image carries the plugin built on this machine: build the image on a Linux machine whose glibc "
    "is no newer than the nodes' (Debian bookworm, glibc 2.36, suits every node image of the versions table)"
)


class NodeInstallError(InstallError):
    """The node is not in a state install understands, or the copy did not arrive intact."""


@dataclass(frozen=True)
class Installed:
    """What install did on one node."""

    node: str
    binary: bool
    conflist: str | None


def node_glibc(nodes: Nodes, node: str) -> str:
    """The node's C library as getconf names it (`glibc 2.36`); empty when it cannot be read."""
    return nodes.run(cmd.node_glibc_version(nodes.access, node), timeout=30).stdout.strip()


def check_glibc(nodes: Nodes, node: str, folder: Path, remedy: str = CONTAINER_BUILD, glibc: str | None = None) -> None:
    """Refuse (NodeInstallError) a build whose glibc floor (build.required_glibc) is newer than the node's C
    library (glibc: node_glibc's answer, asked here when not given), before anything reaches the node. A node
    whose glibc cannot be read is not refused here: the plain install's VERSION run on the node still catches a
    build that cannot start."""
    needed = build.required_glibc(folder)
    if needed is None:
        return
    found = node_glibc(nodes, node) if glibc is None else glibc
    have = build.glibc_version(found)
    wanted = build.glibc_version(needed)
    if have is not None and wanted is not None and wanted > have:
        raise NodeInstallError(glibc_message(node, needed, found, remedy))


def install_binary(nodes: Nodes, node: str, folder: Path, expected: dict[str, str], glibc: str | None = None) -> None:
    """The build in place on the node, checked: every file against the build, and one VERSION run. Where the
    node holds it intact already, nothing is copied (two execs: the look at the link, the check)."""
    check_glibc(nodes, node, folder, glibc=glibc)
    files = NodeShellFiles(nodes, node)
    checked = check_plugin(nodes, node, expected) if files.readlink(nodes.cni.link) == executable.LINK_TARGET else None
    if checked is None or checked.problems:
        try:
            executable.install_executable(files, folder, nodes.cni.bin_dir)
        except InstallError as exc:
            raise NodeInstallError(f"{node}: {exc}") from None
        checked = check_plugin(nodes, node, expected)
        checked.raise_problems()
    if checked.version_rc != 0 and "GLIBC_" in checked.version_output:
        found = node_glibc(nodes, node) or "unknown"
        raise NodeInstallError(glibc_message(node, build.required_glibc(folder), found))
    if checked.version_rc != 0:
        raise NodeInstallError(
            f"{node}: {nodes.cni.link} VERSION failed (exit {checked.version_rc}): {checked.version_output[-500:]}"
        )
    try:
        versions = json.loads(checked.version_output).get("supportedVersions")
    except (ValueError, AttributeError):
        versions = None
    if not versions:
        raise NodeInstallError(
            f"{node}: {nodes.cni.link} VERSION printed {checked.version_output[:200]!r}, not a CNI version answer"
        )


def glibc_message(node: str, needed: str | None, node_glibc: str, remedy: str = CONTAINER_BUILD) -> str:
    """Why the executable cannot start on a node, and what to do about it (remedy)."""
    return (
        f"{node}: the plugin executable needs glibc {needed or '(newer)'} but the node has {node_glibc or 'unknown'}: "
        f"it was built on a newer userland than the node's. {remedy}; nothing was configured on the node."
    )


@dataclass(frozen=True)
class PluginCheck:
    """What one look at the installed plugin found (check_plugin): its files against the build, and its VERSION
    run."""

    node: str
    problems: list[str]  # empty: every file matches the build
    version_output: str
    version_rc: int

    def raise_problems(self) -> None:
        if self.problems:
            raise NodeInstallError(
                f"{self.node}: the copied plugin does not match the build: " + "; ".join(self.problems)
            )


def check_plugin(nodes: Nodes, node: str, expected: dict[str, str]) -> PluginCheck:
    """sha256 of every file on the node against the build (the executable also through the symlink), and the
    plugin run once (CNI VERSION), in one exec."""
    paths = [f"{nodes.cni.folder}/{rel}" for rel in sorted(expected)]
    boundary = cmd.boundary()
    argv = cmd.node_check_plugin(nodes.access, node, nodes.cni.link, boundary, [*paths, nodes.cni.link])
    result = nodes.run(argv, timeout=60)
    if result.rc != 0:
        raise CommandError(result, f"check the plugin on {node}")
    actual, printed, rc = parse.plugin_check(result.stdout, boundary)
    problems = parse.manifest_problems(expected, actual, nodes.cni.folder)
    if actual.get(nodes.cni.link) != expected.get(NAME):
        problems.append(f"{nodes.cni.link} does not resolve to the built executable")
    return PluginCheck(node, problems, printed, rc)


def verify_binary(nodes: Nodes, node: str, expected: dict[str, str]) -> None:
    """The installed files against the build (NodeInstallError names what differs)."""
    check_plugin(nodes, node, expected).raise_problems()


def install(
    nodes: Nodes, node: str, folder: Path, expected: dict[str, str], entry: dict[str, Any], glibc: str | None = None
) -> tuple[Installed, conflist.Plan | None]:
    """The executable, then the conflist, on one node (glibc: the node's, as node_glibc read it before)."""
    install_binary(nodes, node, folder, expected, glibc)
    plan = conflist.install(NodeShellFiles(nodes, node), nodes.cni.conf_dir, entry)
    return Installed(node, True, None if plan is None else plan.path), plan


def uninstall_conflist(nodes: Nodes, node: str) -> bool:
    return conflist.uninstall(NodeShellFiles(nodes, node), nodes.cni.conf_dir)


def uninstall_binary(nodes: Nodes, node: str) -> bool:
    """Remove the symlink and folder when they are ours; leave anything else alone."""
    return executable.uninstall_executable(NodeShellFiles(nodes, node), nodes.cni.bin_dir)


def _until_loaded(what: str, state: Callable[[], tuple[bool, str]]) -> None:
    """Until state() says the node's runtime has loaded what is wanted (its second item: what it has loaded)."""

    def probe() -> bool:
        loaded, seen = state()
        if not loaded:
            raise NotYet(f"loaded {seen}")
        return True

    wait_until(what, probe, CNI_LOADED_SECONDS, retry_on=(CommandError,))


def wait_chain(nodes: Nodes, node: str, entry: dict[str, Any] | None) -> None:
    """Until the node's runtime has loaded the chain with this entry last (None: a chain without the plugin)."""
    what = "cni-quickstart in the loaded chain" if entry is not None else "a chain without cni-quickstart"
    _until_loaded(f"{what} on {node} (crictl info)", lambda: chain_state(nodes, node, entry))


def chain_state(nodes: Nodes, node: str, entry: dict[str, Any] | None) -> tuple[bool, str]:
    """(loaded as wanted, one-line description of what containerd has loaded)."""
    text = crictl_info(nodes, node)
    return conflist.chain_matches(text, entry), cniconfig.describe_chain(text)


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
        raise NotImplementedError(
            "this cluster is single-stack (kind: create it with --kind-ip-family dual; kube: IPv4 only)"
        )
    if not dual_stack and len(families) > 1:
        raise NotImplementedError("this cluster is dual-stack; a single-stack chain would drop a family")
    derived = json.loads(json.dumps(kindnet))
    derived["cniVersion"] = cni_version
    return derived


def use_base(nodes: Nodes, node: str, cni_version: str | None, dual_stack: bool = False) -> dict[str, Any] | None:
    """Write (or with cni_version None remove) the base variant on a node; the chain now in force, or None when
    nothing changed (no variant to remove: the runtime runs kindnet's own chain already)."""
    files = NodeShellFiles(nodes, node)
    base, source = f"{nodes.cni.conf_dir}/{BASE_NAME}", f"{nodes.cni.conf_dir}/{KINDNET_NAME}"
    listed = files.read_dir(nodes.cni.conf_dir, conflist.CONF_EXTENSIONS)  # one exec: is there a variant, kindnet's
    if cni_version is None and BASE_NAME not in listed:
        return None
    text = listed.get(KINDNET_NAME)
    if text is None:
        raise InstallError(f"{node}:{source} is missing or not a file: kindnetd writes it when it starts")
    kindnet = conflist.parse_chain(text, f"{node}:{source}")
    if cni_version is None:
        files.remove(base)
        return kindnet
    chain = base_variant(kindnet, cni_version, dual_stack)
    files.write_atomic(base, conflist.render(chain))
    return chain


def use_base_loaded(nodes: Nodes, node: str, cni_version: str | None, dual_stack: bool = False) -> None:
    """use_base, then wait until the node's runtime has loaded the chain now in force (if it changed)."""
    chain = use_base(nodes, node, cni_version, dual_stack)
    if chain is None:
        return
    what = f"base chain {chain['name']} {chain['cniVersion']} loaded on {node} (crictl info)"
    _until_loaded(what, lambda: base_state(nodes, node, chain))


def base_state(nodes: Nodes, node: str, chain: dict[str, Any]) -> tuple[bool, str]:
    text = crictl_info(nodes, node)
    return conflist.base_matches(text, chain["name"], chain["cniVersion"]), cniconfig.describe_chain(text)

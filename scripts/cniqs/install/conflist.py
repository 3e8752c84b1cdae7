"""Install and uninstall the plugin into a node's CNI conf dir: one implementation for every provider.

The installer never edits the runtime's active conflist (kindnetd rewrites 10-kindnet.conflist
whenever it restarts). It writes a separate file that sorts first, so containerd, which loads only
the lexicographically first config, picks it: the active chain with cni-quickstart appended after
its last plugin (after portmap, which DNATs to the prevResult IPs), and the network name kept,
because host-local keys its IP allocations by network name.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from cniqs.common.cniconfig import loaded_networks, pod_network
from cniqs.common.errors import InstallError
from cniqs.install.nodefs import NodeFiles
from cniqs.resources import CONFLIST_DIR

CNI_TYPE = "cni-quickstart"
INSTALLED_NAME = f"00-{CNI_TYPE}.conflist"
# libcni's ConfFiles: files with these extensions, sorted by name.
CONF_EXTENSIONS = (".conf", ".conflist", ".json")


def chain_entry(**overrides: Any) -> dict[str, Any]:
    """The plugin's chain entry from conflist/cni-quickstart.json, with overrides (None removes a key)."""
    entry = json.loads((CONFLIST_DIR / f"{CNI_TYPE}.json").read_text())
    for key, value in overrides.items():
        if value is None:
            entry.pop(key, None)
        else:
            entry[key] = value
    return entry


def conf_files(names: list[str]) -> list[str]:
    """What libcni would consider, in its order: by extension only (a hidden file counts too)."""
    return sorted(n for n in names if n.endswith(CONF_EXTENSIONS))


def has_plugin(chain: dict[str, Any]) -> bool:
    return any(isinstance(p, dict) and p.get("type") == CNI_TYPE for p in chain.get("plugins", []))


def parse_chain(text: str, source: str) -> dict[str, Any]:
    try:
        chain = json.loads(text)
    except ValueError as exc:
        raise InstallError(f"{source} is not valid JSON: {exc}") from None
    if not isinstance(chain, dict) or not isinstance(chain.get("plugins"), list) or not chain["plugins"]:
        raise InstallError(f"{source} is not a conflist with a 'plugins' list; cni-quickstart can only be chained")
    if not isinstance(chain.get("name"), str) or not isinstance(chain.get("cniVersion"), str):
        raise InstallError(f"{source} has no 'name' or 'cniVersion'")
    for n, plugin in enumerate(chain["plugins"]):
        if not isinstance(plugin, dict) or not isinstance(plugin.get("type"), str):
            raise InstallError(f"{source}: plugins[{n}] has no 'type'")
    return chain


def derive(chain: dict[str, Any], entry: dict[str, Any]) -> dict[str, Any]:
    """The active chain with entry appended; name, cniVersion and every other plugin unchanged."""
    if has_plugin(chain):
        raise InstallError("the active chain already contains cni-quickstart")
    if entry.get("type") != CNI_TYPE:
        raise InstallError(f"the chain entry must have type {CNI_TYPE!r}")
    derived = dict(chain)
    derived["plugins"] = [*chain["plugins"], dict(entry)]
    return derived


def render(chain: dict[str, Any]) -> str:
    return json.dumps(chain, indent=2) + "\n"


@dataclass(frozen=True)
class Plan:
    """What install will write: the derived conflist and the file it is derived from."""

    path: str
    source: str
    text: str
    chain: dict[str, Any]


def active_source(
    files: NodeFiles, conf_dir: str, listed: dict[str, str | None] | None = None
) -> tuple[str, dict[str, Any]]:
    """(file name, chain) of the config install derives from: the first one libcni loads besides ours (listed:
    conf_dir as files.read_dir read it, when the caller has just read it)."""
    if listed is None:
        listed = files.read_dir(conf_dir, CONF_EXTENSIONS)
    others = [n for n in conf_files(list(listed)) if n != INSTALLED_NAME]
    if not others:
        raise InstallError(f"no CNI config in {conf_dir}: install the cluster's network first")
    source = others[0]
    if source < INSTALLED_NAME:
        raise InstallError(
            f"{conf_dir}/{source} sorts before {INSTALLED_NAME}; containerd would keep loading it. "
            "Rename it or remove it first."
        )
    text = listed[source]
    if text is None:
        raise InstallError(f"{conf_dir}/{source} is not a file; cni-quickstart can only be chained to a conflist")
    return source, parse_chain(text, f"{conf_dir}/{source}")


# Plugins known to act on prevResult after ADD, and what the rewritten result makes them do. From 0.4.0 on,
# libcni hands the cached final result (the fake) to every plugin of the chain at DEL and CHECK.
PREV_RESULT_USERS = {
    "firewall": "at DEL it removes the rules of the fake address, so its rules for the real one stay behind; "
    "CHECK of the chain fails",
    "bridge": "CHECK of the chain fails (the fake is not on the interface)",
    "ptp": "CHECK of the chain fails (the fake is not on the interface)",
    "host-device": "CHECK of the chain fails (the fake is not on the interface)",
    "macvlan": "CHECK of the chain fails (the fake is not on the interface)",
    "ipvlan": "CHECK of the chain fails (the fake is not on the interface)",
}


def _version_key(version: str) -> tuple[int, ...]:
    return tuple(int(p) for p in version.split(".") if p.isdigit())


def prev_result_risks(chain: dict[str, Any]) -> list[str]:
    """What goes wrong in this chain once cni-quickstart rewrites its result (empty below cniVersion 0.4.0,
    where libcni hands no cached result to DEL and CHECK does not exist)."""
    if _version_key(str(chain.get("cniVersion", "0"))) < (0, 4, 0):
        return []
    kinds = [str(p.get("type")) for p in chain.get("plugins", [])]
    return [f"{kind}: {PREV_RESULT_USERS[kind]}" for kind in dict.fromkeys(kinds) if kind in PREV_RESULT_USERS]


def plan_install(files: NodeFiles, conf_dir: str, entry: dict[str, Any]) -> Plan | None:
    """None when the plugin is already installed with this entry; raises InstallError when it cannot be. The conf
    dir is read once (files.read_dir): its names and every config's text."""
    listed = files.read_dir(conf_dir, CONF_EXTENSIONS)
    source, chain = active_source(files, conf_dir, listed)
    derived = derive(chain, entry)
    text = render(derived)
    target = f"{conf_dir}/{INSTALLED_NAME}"
    if INSTALLED_NAME in listed:
        current = listed[INSTALLED_NAME]
        if current is None or not _ours(current):
            raise InstallError(f"{target} exists and was not written by cni-quickstart; not touching it")
        if current == text:
            return None
    return Plan(target, f"{conf_dir}/{source}", text, derived)


def _read_if_present(files: NodeFiles, path: str) -> str | None:
    """The file's text, or None when it went away since it was listed (a concurrent uninstall)."""
    try:
        return files.read_text(path)
    except FileNotFoundError:
        return None


def _ours(text: str) -> bool:
    try:
        return has_plugin(json.loads(text))
    except (ValueError, AttributeError):
        return False


def install(files: NodeFiles, conf_dir: str, entry: dict[str, Any]) -> Plan | None:
    plan = plan_install(files, conf_dir, entry)
    if plan is not None:
        files.write_atomic(plan.path, plan.text)
    return plan


def uninstall(files: NodeFiles, conf_dir: str) -> bool:
    """Remove the file install wrote, and nothing else. False when it was not there."""
    target = f"{conf_dir}/{INSTALLED_NAME}"
    current = _read_if_present(files, target)
    if current is None:
        return False
    if not _ours(current):
        raise InstallError(f"{target} was not written by cni-quickstart; not removing it")
    files.remove(target)
    return True


def chain_matches(text: str, entry: dict[str, Any] | None) -> bool:
    """Whether the loaded pod network ends with exactly this chain entry (None: has no cni-quickstart)."""
    net = pod_network(loaded_networks(text))
    if net is None:
        return False
    ours = [n for n, t in enumerate(net.types) if t == CNI_TYPE]
    if entry is None:
        return not ours
    if ours != [len(net.types) - 1]:
        return False
    last = net.plugins[-1]
    # Compare the whole entry when containerd reports the plugin's source; else the type only.
    return last == entry if "Source" not in last else True


def base_matches(text: str, name: str, cni_version: str) -> bool:
    """Whether the loaded pod network is this base chain (name, version) without cni-quickstart."""
    net = pod_network(loaded_networks(text))
    return net is not None and net.name == name and net.cni_version == cni_version and CNI_TYPE not in net.types

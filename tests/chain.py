"""Run a CNI conflist the way libcni does, for tests and tools that need a chain without a runtime.

ADD runs each plugin in order, handing it the previous plugin's result as prevResult; DEL runs them
in reverse. Each plugin gets the network's name and cniVersion injected, as libcni does.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any


class ChainError(Exception):
    def __init__(self, plugin: str, rc: int, stdout: str, stderr: str) -> None:
        super().__init__(f"{plugin} failed (exit {rc}): {stdout.strip() or stderr.strip()}")
        self.plugin, self.rc, self.stdout, self.stderr = plugin, rc, stdout, stderr


@dataclass(frozen=True)
class Invocation:
    container_id: str
    netns: str
    ifname: str = "eth0"
    args: str = ""


def plugin_config(conflist: dict[str, Any], plugin: dict[str, Any], prev: dict[str, Any] | None) -> dict[str, Any]:
    conf = dict(plugin)
    conf["name"] = conflist["name"]
    conf["cniVersion"] = conflist["cniVersion"]
    if prev is not None:
        conf["prevResult"] = prev
    return conf


def exec_plugin(
    bin_dirs: Sequence[str],
    command: str,
    conf: dict[str, Any],
    inv: Invocation,
    prefix: Sequence[str] = (),
    timeout: float = 30,
) -> dict[str, Any] | None:
    """Run one plugin binary found in bin_dirs; prefix wraps it (e.g. ['ip', 'netns', 'exec', NODE])."""
    kind = conf["type"]
    path = next((f"{d}/{kind}" for d in bin_dirs if os.access(f"{d}/{kind}", os.X_OK)), None)
    if path is None:
        raise ChainError(kind, 127, "", f"plugin {kind!r} not found in {':'.join(bin_dirs)}")
    env = {
        "PATH": os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin"),
        "CNI_COMMAND": command,
        "CNI_CONTAINERID": inv.container_id,
        "CNI_NETNS": inv.netns,
        "CNI_IFNAME": inv.ifname,
        "CNI_PATH": ":".join(bin_dirs),
        "CNI_ARGS": inv.args,
    }
    if "QEMU_LD_PREFIX" in os.environ:  # a plugin of another architecture, run by qemu-user (tests/arm64)
        env["QEMU_LD_PREFIX"] = os.environ["QEMU_LD_PREFIX"]
    proc = subprocess.run(
        [*prefix, path], input=json.dumps(conf), env=env, capture_output=True, text=True, timeout=timeout
    )
    if proc.returncode != 0:
        raise ChainError(kind, proc.returncode, proc.stdout, proc.stderr)
    return json.loads(proc.stdout) if proc.stdout.strip() else None


def add(
    conflist: dict[str, Any], bin_dirs: Sequence[str], inv: Invocation, prefix: Sequence[str] = ()
) -> dict[str, Any]:
    prev: dict[str, Any] | None = None
    for plugin in conflist["plugins"]:
        prev = exec_plugin(bin_dirs, "ADD", plugin_config(conflist, plugin, prev), inv, prefix)
    assert prev is not None, "a chain's last plugin returned no result"
    return prev


def delete(
    conflist: dict[str, Any],
    bin_dirs: Sequence[str],
    inv: Invocation,
    prefix: Sequence[str] = (),
    cached: dict[str, Any] | None = None,
) -> None:
    """DEL in reverse order; like libcni, prevResult only for cniVersion >= 0.4.0."""
    prev = cached if cached is not None and not conflist["cniVersion"].startswith("0.3.") else None
    for plugin in reversed(conflist["plugins"]):
        exec_plugin(bin_dirs, "DEL", plugin_config(conflist, plugin, prev), inv, prefix)

"""A runc wrapper for dockerd on hosts whose capability bounding set lacks some capabilities.

Docker 20.10 gives a --privileged container every capability the kernel knows; on a host (or a sandbox) whose
bounding set is shorter, runc then fails ("unable to apply caps: operation not permitted"). kind's nodes are
privileged containers, and `kind` runs `docker exec --privileged` in them. The wrapper drops, from the OCI
spec runc is handed (a bundle's config.json, or an exec's --process file), every capability outside this
host's bounding set, then runs the real runc. Podman asks only for what the set allows and needs none of this.

The wrapper is this module run by the system's python3: `python3 -m`-free, stdlib only, so dockerd can exec it.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

# Linux capability numbers (linux/capability.h), in order.
CAPABILITIES = (
    "CHOWN", "DAC_OVERRIDE", "DAC_READ_SEARCH", "FOWNER", "FSETID", "KILL", "SETGID", "SETUID", "SETPCAP",
    "LINUX_IMMUTABLE", "NET_BIND_SERVICE", "NET_BROADCAST", "NET_ADMIN", "NET_RAW", "IPC_LOCK", "IPC_OWNER",
    "SYS_MODULE", "SYS_RAWIO", "SYS_CHROOT", "SYS_PTRACE", "SYS_PACCT", "SYS_ADMIN", "SYS_BOOT", "SYS_NICE",
    "SYS_RESOURCE", "SYS_TIME", "SYS_TTY_CONFIG", "MKNOD", "LEASE", "AUDIT_WRITE", "AUDIT_CONTROL", "SETFCAP",
    "MAC_OVERRIDE", "MAC_ADMIN", "SYSLOG", "WAKE_ALARM", "BLOCK_SUSPEND", "AUDIT_READ", "PERFMON", "BPF",
    "CHECKPOINT_RESTORE",
)  # fmt: skip
REAL_RUNC = "/usr/sbin/runc"
SETS = ("bounding", "effective", "inheritable", "permitted", "ambient")


def bounding_set(status: str) -> set[str]:
    """CAP_* names in a /proc/<pid>/status CapBnd mask."""
    for line in status.splitlines():
        if line.startswith("CapBnd:"):
            mask = int(line.split()[1], 16)
            return {f"CAP_{name}" for bit, name in enumerate(CAPABILITIES) if mask >> bit & 1}
    raise ValueError("no CapBnd line")


def limit(capabilities: dict[str, list[str]], allowed: set[str]) -> dict[str, list[str]]:
    return {key: [c for c in value if c in allowed] if key in SETS else value for key, value in capabilities.items()}


def spec_file(argv: list[str]) -> tuple[Path, bool] | None:
    """(file, is_process_file) of a runc command line that starts a process: create/run (bundle) or exec."""
    if "--process" in argv:
        return Path(argv[argv.index("--process") + 1]), True
    if any(verb in argv for verb in ("create", "run")):
        bundle = Path(argv[argv.index("--bundle") + 1]) if "--bundle" in argv else Path.cwd()
        return bundle / "config.json", False
    return None


def adjust(path: Path, is_process: bool, allowed: set[str]) -> None:
    spec = json.loads(path.read_text())
    process = spec if is_process else spec.get("process", {})
    if process.get("capabilities"):
        process["capabilities"] = limit(process["capabilities"], allowed)
        path.write_text(json.dumps(spec))


def main() -> None:
    argv = sys.argv[1:]
    found = spec_file(argv)
    if found is not None and found[0].is_file():
        adjust(found[0], found[1], bounding_set(Path("/proc/self/status").read_text()))
    os.execv(REAL_RUNC, [REAL_RUNC, *argv])  # noqa: S606 (the real runc, same arguments)


if __name__ == "__main__":
    main()

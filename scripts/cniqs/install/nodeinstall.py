"""The node installer that runs in the DaemonSet's pod on every node (frozen into the installer image).

    cniqs-installer install   --bin DIR --conf DIR --plugin FOLDER --entry JSON [--every SECONDS]
    cniqs-installer uninstall --bin DIR --conf DIR [--final]
    cniqs-installer ready     --socket PATH [--entry JSON]

The same code as every other provider's install: the plugin folder goes in with executable.install_executable
(copy beside, rename over), the conflist with conflist.install (a derived file that sorts first, the
network name kept). `install` then stays up, re-applying every few seconds, so a node whose base chain
changes (kindnetd rewriting its conflist) gets the derived file re-derived, and an installer restart
finds its own work and changes nothing. A node it cannot install on (no chain it understands, a foreign
file that would still win) is left untouched; the reason goes to the pod log and `ready` fails. `ready`
asks the node's runtime whether the loaded chain ends in cni-quickstart: CRI Status (verbose) over the
runtime's socket, its info["cniconfig"] being what `crictl info` prints (cniqs.common.cristatus, the
standard library only: the image carries no crictl and no grpcio). It needs no API access at all.

The pod's preStop hook runs `uninstall --final` while `install` may be in the middle of an apply (a pod
deleted just after it started, as a DaemonSet's pods are when it is deleted): one lock in the container
serializes the two, and --final leaves a mark under it that stops `install` from applying ever again, so
what the last uninstall removed stays removed.
"""

from __future__ import annotations

import argparse
import fcntl
import json
import signal
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import FrameType

from cniqs.common import cristatus
from cniqs.common.errors import InstallError, ParseError
from cniqs.install import conflist, executable
from cniqs.install.nodefs import LocalFiles

STATE = Path("/tmp")  # inside the installer's own container: the not-ready reason, the lock, the final mark
NOT_READY = "cniqs-not-ready"
LOCK = "cniqs-installer.lock"
FINAL = "cniqs-uninstalled"


def _say(text: str) -> None:
    print(f"cniqs-installer: {text}", file=sys.stderr, flush=True)


def apply(files: LocalFiles, bin_dir: str, conf_dir: str, plugin: Path, entry: dict[str, object]) -> str:
    """Install (or confirm) the executable and the derived conflist; what it did, in words. The conf dir is
    checked first, so a node it refuses (InstallError) is left exactly as it was."""
    plan = conflist.plan_install(files, conf_dir, dict(entry))  # None: the conflist is in place already
    installed = Path(bin_dir, f"{executable.NAME}.d")
    current = (
        files.readlink(f"{bin_dir}/{executable.NAME}") == executable.LINK_TARGET
        and installed.is_dir()
        and executable.manifest(installed) == executable.manifest(plugin)
    )
    if not current:
        executable.install_executable(files, plugin, bin_dir)
    if plan is not None:
        files.write_atomic(plan.path, plan.text)
    return "installed" if plan is not None or not current else "in place"


@contextmanager
def _locked(state: Path) -> Iterator[None]:
    """The container's one lock: an apply and an uninstall never overlap."""
    with (state / LOCK).open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield  # the lock goes with the file's close


def _stop(signum: int, _frame: FrameType | None) -> None:
    raise SystemExit(0)


def install(args: argparse.Namespace) -> int:
    files = LocalFiles()
    entry = json.loads(args.entry)
    state = Path(args.state)
    not_ready = state / NOT_READY
    signal.signal(signal.SIGTERM, signal.SIG_IGN)  # as for PID 1 in a container: handled only between applies
    last = ""
    while True:
        with _locked(state):
            if (state / FINAL).exists():
                _say("uninstalled for good (preStop): not applying again")
                return 0
            try:
                did = apply(files, args.bin, args.conf, Path(args.plugin), entry)
                not_ready.unlink(missing_ok=True)
                message = f"{did}: {args.conf}/{conflist.INSTALLED_NAME} and {args.bin}/{executable.NAME}"
            except (InstallError, OSError, ValueError) as exc:
                not_ready.write_text(f"{exc}\n")
                message = f"not installing on this node, its CNI config is left as it is: {exc}"
        if message != last:
            _say(message)
            last = message
        if args.once:
            return 0 if not not_ready.exists() else 1
        # SIGTERM comes after preStop's uninstall: between applies, never in the middle of one.
        signal.signal(signal.SIGTERM, _stop)
        time.sleep(args.every)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)


def uninstall(args: argparse.Namespace) -> int:
    files = LocalFiles()
    state = Path(args.state)
    try:
        with _locked(state):
            if args.final:
                (state / FINAL).touch()
            removed = conflist.uninstall(files, args.conf)
            binary = executable.uninstall_executable(files, args.bin)
    except InstallError as exc:
        _say(f"uninstall left the node as it is: {exc}")
        return 1
    _say(
        f"removed: conflist {'yes' if removed else 'was not there'}, executable {'yes' if binary else 'was not there'}"
    )
    return 0


def ready(args: argparse.Namespace) -> int:
    not_ready = Path(args.state) / NOT_READY
    if not_ready.exists():
        _say(f"not ready: {not_ready.read_text().strip()}")
        return 1
    entry = json.loads(args.entry) if args.entry else None
    problem = runtime_problem(args.socket, entry, args.timeout)
    if problem is not None:
        _say(f"not ready: {problem}")
        return 1
    return 0


def runtime_problem(socket: str, entry: dict[str, object] | None, timeout: float = 15) -> str | None:
    """Why the runtime at socket has not loaded the chain ending in entry (None: cni-quickstart anywhere in
    it); None when it has."""
    try:
        info = cristatus.status(socket, timeout=timeout)
    except cristatus.CriError as exc:
        return f"CRI Status on {socket} failed: {exc}"
    text = json.dumps(info)
    try:
        loaded = (
            conflist.CNI_TYPE in info.get("cniconfig", "") if entry is None else conflist.chain_matches(text, entry)
        )
    except ParseError as exc:
        return f"the runtime's CRI Status: {exc}"
    return None if loaded else "the runtime has not loaded the chain with cni-quickstart yet"


def main(argv: Sequence[str] | None = None) -> int:
    # No __doc__ here: the frozen build strips docstrings (PyInstaller --optimize 2).
    parser = argparse.ArgumentParser(prog="cniqs-installer", description="cni-quickstart's node installer")
    sub = parser.add_subparsers(dest="command", required=True)
    inst = sub.add_parser("install")
    inst.add_argument("--bin", required=True)
    inst.add_argument("--conf", required=True)
    inst.add_argument("--plugin", required=True)
    inst.add_argument("--entry", required=True, help="the chain entry, as JSON")
    inst.add_argument("--every", type=float, default=5.0)
    inst.add_argument("--once", action="store_true", help="apply once and exit (1 when the node was refused)")
    inst.set_defaults(func=install)
    rm = sub.add_parser("uninstall")
    rm.add_argument("--bin", required=True)
    rm.add_argument("--conf", required=True)
    rm.add_argument("--final", action="store_true", help="the pod is going: install must not apply again")
    rm.set_defaults(func=uninstall)
    rd = sub.add_parser("ready")
    rd.add_argument("--socket", required=True)
    rd.add_argument("--timeout", type=float, default=15.0, help="seconds for the runtime to answer")
    rd.add_argument("--entry", default="")
    rd.set_defaults(func=ready)
    for each in (inst, rm, rd):
        each.add_argument("--state", default=str(STATE), help="the container's own state dir (default /tmp)")
    args = parser.parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    raise SystemExit(main())

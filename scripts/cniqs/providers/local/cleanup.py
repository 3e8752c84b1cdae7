"""Tear a run down completely, from what its state file records: usable after a kept run, or a crash.

    python -m cniqs.providers.local.cleanup RUN_ROOT     # a node kept with --local-keep
    python -m cniqs.providers.local.cleanup --stale      # every run whose test process was killed

Order matters: pods' processes and containerd's namespace go first, then the namespaces and
cgroups they lived in, then the files. Every step runs even if an earlier one failed; what could not
be cleaned is returned (and printed), never silently left behind.
"""

from __future__ import annotations

import argparse
import shutil
import signal
from pathlib import Path

from cniqs.common import procs, teardowns
from cniqs.common.mountinfo import mounts_under
from cniqs.common.run import CommandError, run
from cniqs.providers.local import containerd, netns
from cniqs.providers.local.layout import STATE_FILE, Layout, RunState


def unmount_all(root: Path) -> list[str]:
    problems = []
    for point in mounts_under(root):
        try:
            run(["umount", "--lazy", point])
        except CommandError as exc:
            problems.append(str(exc))
    return problems


def end_processes(layout: Layout, state: RunState) -> list[str]:
    problems: list[str] = []
    if state.containerd_pid:
        problems += containerd.stop(state.containerd_pid, layout)
    suspects: set[int] = set()
    if state.containerd_mntns:
        suspects.update(procs.in_mount_ns(state.containerd_mntns))  # shims, runc
    suspects.update(procs.mentioning(str(layout.socket)))  # shims: -address <the run's socket>
    for ns in (layout.node_netns, layout.ext_netns):
        suspects.update(netns.pids_in(ns))  # DNS and web servers, anything left in the node
    suspects.update(procs.in_cgroups(layout.cgroup_parent))  # the pods' own processes
    procs.kill(suspects, signal.SIGKILL)
    left = procs.wait_gone(suspects, 5)
    # A pod process may have been forked while we looked: one more sweep of the cgroups.
    late = procs.in_cgroups(layout.cgroup_parent)
    procs.kill(late)
    left += procs.wait_gone(late, 2)
    problems += [f"process {pid} ({procs.cmdline(pid)[:80]}) did not exit" for pid in sorted(set(left))]
    return problems


def teardown(layout: Layout, state: RunState | None = None, remove_root: bool = True) -> list[str]:
    if state is None:
        try:
            state = RunState.load(layout.state_file)
        except (OSError, ValueError, TypeError):
            state = RunState(layout.run_id, str(layout.root))
    problems = end_processes(layout, state)
    problems += unmount_all(layout.root)
    for ns in (layout.node_netns, layout.ext_netns):
        try:
            netns.delete(ns)
        except Exception as exc:  # noqa: BLE001 - keep going: every later step still has to run
            problems.append(f"netns {ns}: {exc}")
    problems += procs.remove_cgroups(layout.cgroup_parent)
    if remove_root and layout.root.exists():
        if mounts_under(layout.root):
            problems.append(f"{layout.root} still has mounts; not removing it")
        else:
            shutil.rmtree(layout.root, ignore_errors=True)
            if layout.root.exists():
                problems.append(f"{layout.root} could not be removed")
    return problems


def stale_roots(parent: Path, include_kept: bool = False) -> list[Path]:
    """Run roots under parent whose test process is gone (killed before it could tear down)."""
    return teardowns.stale_roots(parent.glob(f"cniqs-*/{STATE_FILE}"), RunState.load, include_kept)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Tear down local e2e nodes: kept ones, or ones a killed run left")
    teardowns.add_arguments(
        parser,
        roots="run roots (printed by a kept run)",
        stale="also every run root whose test process is gone",
        kept="with --stale: kept nodes too",
    )
    roots = teardowns.chosen_roots(parser.parse_args(argv), stale_roots)

    def one(root: Path) -> list[str]:
        state = RunState.load(root / STATE_FILE)
        return teardown(Layout(state.run_id, Path(state.root)), state)

    return teardowns.report(roots, one, "cleanup")


if __name__ == "__main__":
    raise SystemExit(main())

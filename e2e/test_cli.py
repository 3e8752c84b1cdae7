"""The README's quick start and the `cniqs` subcommands, run for real on the local backend.

The demo command is read out of README.md's Quick start and run exactly as written, so a README
command that stops working fails here. Then one up..down cycle of the subcommands, each asserted
on its real output, and a check that `down` leaves nothing behind.

These tests drive their own local nodes through the `cniqs` console script (not the `backend`
fixture), so they run only with `--backend local`; prerequisites as for the rest of the suite:
skip with the reason, but fail where CI=true.
"""

from __future__ import annotations

import ipaddress
import json
import re
import shlex
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from cniqs.common import procs
from cniqs.common.mountinfo import mounts_under
from cniqs.providers.local import netns
from cniqs.providers.local.layout import Layout, RunState
from cniqs.providers.local.provider import LocalProvider
from cniqs.providers.local.render import EXT_HOST, POD_CIDR_V4
from e2e.support_cli import Ran, require_cli, run_cniqs

pytestmark = [pytest.mark.e2e, pytest.mark.local_only]
REPO = Path(__file__).resolve().parents[1]

FAKE = "1.2.3.0"


@pytest.fixture(scope="module", autouse=True)
def local_prerequisites() -> None:
    require_cli(LocalProvider())


def quick_start_commands(readme: str) -> list[str]:
    """The commands of the first code block under the `## Quick start` heading."""
    section = readme.split("\n## Quick start", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```[a-z]*\n(.*?)```", section, re.S)
    assert block, "README's Quick start has no code block"
    return [ln.split(" #", 1)[0].strip() for ln in block.group(1).splitlines() if ln.strip() and ln[0] != "#"]


def real_address(text: str) -> ipaddress.IPv4Interface:
    """The real address reveal printed on the `ip a s eth0` line."""
    line = next(ln for ln in text.splitlines() if "(ip a s eth0)" in ln)
    return ipaddress.IPv4Interface(re.findall(r"\d+\.\d+\.\d+\.\d+/\d+", line)[0])


def node_left_nothing(run_id: str, root: Path | None = None, containerd_pid: int | None = None) -> list[str]:
    """What a torn-down local node left behind: namespaces, processes, mounts, cgroups, files."""
    layout = Layout(run_id, root or Path("/nonexistent"))
    left = [f"netns {ns}" for ns in (layout.node_netns, layout.ext_netns) if netns.exists(ns)]
    left += [f"cgroup {d}" for d in procs.cgroup_dirs(layout.cgroup_parent)]
    left += [f"process {pid}: {procs.cmdline(pid)}" for pid in procs.mentioning(f"cniqs-{run_id}") if procs.alive(pid)]
    if containerd_pid and procs.alive(containerd_pid):
        left.append(f"containerd {containerd_pid}: {procs.cmdline(containerd_pid)}")
    if root is not None:
        left += [f"mount {m}" for m in mounts_under(root)]
        left += [f"dir {p}" for p in (root, root.parent) if p.exists() and p.name.startswith("cniqs-")]
    return left


# -- the README's quick start ------------------------------------------------------------------------


def test_readme_quick_start_demo_runs_as_written(tmp_path: Path) -> None:
    demo = quick_start_commands((REPO / "README.md").read_text())[0]
    ran = run_cniqs(shlex.split(demo), tmp_path)
    assert ran.rc == 0, ran
    assert "using the local backend" in ran.err and "cniqs: demo finished in" in ran.err, ran
    assert re.search(r"==> Bringing up a local containerd node.*\n    done \(\d+\.\d s\)", ran.err), ran
    reported = next(ln for ln in ran.out.splitlines() if "CRI PodSandboxStatus" in ln)
    assert reported.split()[-1] == FAKE, ran
    real = real_address(ran.out)
    assert real.ip in POD_CIDR_V4 and str(real.ip) != FAKE, ran
    assert f"real {real} -> reported {FAKE}/24" in ran.out, ran
    assert "4/4 connectivity checks ok" in ran.out and "FAIL" not in ran.out, ran
    run_id = re.search(r"on node cniqs-([0-9a-f]{8}) ", ran.out)
    assert run_id, ran
    assert node_left_nothing(run_id.group(1)) == [], ran
    assert not (tmp_path / "state.json").exists(), "a demo without --keep records nothing"


# -- up .. down ------------------------------------------------------------------------------------------


@dataclass
class Cycle:
    state_dir: Path
    ran: dict[str, Ran] = field(default_factory=dict)
    state: dict[str, Any] = field(default_factory=dict)
    run: RunState | None = None
    left_after_down: list[str] = field(default_factory=list)


STEPS = [
    ("up", ["cniqs", "up"]),
    ("install", ["cniqs", "install"]),
    ("run", ["cniqs", "run", "test"]),
    ("reveal", ["cniqs", "reveal", "test"]),
    ("reveal --json", ["cniqs", "reveal", "test", "--json"]),
    ("uninstall", ["cniqs", "uninstall"]),
    ("run after uninstall", ["cniqs", "run", "after"]),
    ("reveal after uninstall", ["cniqs", "reveal", "after", "--json"]),
    ("status", ["cniqs", "status"]),
    ("down", ["cniqs", "down"]),
    ("down again", ["cniqs", "down"]),
]


@pytest.fixture(scope="module")
def cycle(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cycle]:
    """Every subcommand once, in order, each in its own process; the node is torn down whatever happens."""
    c = Cycle(tmp_path_factory.mktemp("cniqs-state"))
    try:
        for name, argv in STEPS:
            if name == "down":
                c.state = json.loads((c.state_dir / "state.json").read_text())
                c.run = RunState.load(Path(c.state["root"]) / "run.json")
            c.ran[name] = run_cniqs(argv, c.state_dir)
            if c.ran[name].rc != 0:
                break
        if c.run is not None:
            c.left_after_down = node_left_nothing(c.run.run_id, Path(c.run.root), c.run.containerd_pid)
        yield c
    finally:
        if (c.state_dir / "state.json").exists():
            saved = json.loads((c.state_dir / "state.json").read_text())
            if saved.get("backend") == "local" and (Path(saved["root"]) / "run.json").exists():
                from cniqs.providers.local import attach

                attach.destroy(Path(saved["root"]))


def step(c: Cycle, name: str) -> Ran:
    if name not in c.ran:
        pytest.fail(f"`{name}` did not run: an earlier step failed:\n" + "\n".join(map(str, c.ran.values())))
    ran = c.ran[name]
    assert ran.rc == 0, ran
    return ran


def test_up_leaves_a_node_running_that_later_commands_find(cycle: Cycle) -> None:
    up = step(cycle, "up")
    assert re.match(r"local node [0-9a-f]{8} \(run root /.+\) is up\.\n", up.out), up
    assert "cniqs install" in up.out and "==> Bringing up a local containerd node" in up.err
    status = step(cycle, "status")
    assert "pods: after, test" in status.out and "node shell: nsenter --net=/run/netns/cniqs-" in status.out, status


def test_install_and_run(cycle: Cycle) -> None:
    assert step(cycle, "install").out.endswith(f"new pods report {FAKE}.\n")
    assert re.match(r"pod default/test runs on cniqs-[0-9a-f]{8}\. Next: cniqs reveal test\n", step(cycle, "run").out)


def test_reveal_shows_the_fake_ip_reported_and_the_real_one_in_the_pod(cycle: Cycle) -> None:
    out = step(cycle, "reveal").out
    assert out.startswith("Pod default/test on node cniqs-"), out
    reported = next(ln for ln in out.splitlines() if "CRI PodSandboxStatus" in ln)
    assert reported.split()[-1] == FAKE, out
    real = real_address(out)
    assert real.ip in POD_CIDR_V4, out
    assert f"in the node's pod CIDR {POD_CIDR_V4}" in out
    assert f"real {real} -> reported {FAKE}/24 (ADD" in out
    assert f"ok    ping {EXT_HOST}" in out and "4/4 connectivity checks ok" in out and "FAIL" not in out, out
    assert f"Verdict: the runtime reports {FAKE}, but eth0 really is {real.ip}" in out


def test_reveal_json_carries_the_same_facts(cycle: Cycle) -> None:
    data = json.loads(step(cycle, "reveal --json").out)
    assert data["pod"] == "test" and data["backend"] == "local"
    assert data["reported"] == {"PodSandboxStatus": [FAKE]}
    [real] = data["real"]
    assert ipaddress.ip_interface(real).ip in POD_CIDR_V4 and data["real_in_pod_cidr"] is True
    assert data["plugin_log"]["real"] == [real] and data["plugin_log"]["reported"] == [f"{FAKE}/24"]
    assert [c["ok"] for c in data["checks"]] == [True] * 4 and data["connected"] is True
    assert data["shows_the_trick"] is True and data["rewritten"] is True


def test_after_uninstall_a_new_pod_reports_its_real_ip(cycle: Cycle) -> None:
    assert "new pods report their real IP again" in step(cycle, "uninstall").out
    step(cycle, "run after uninstall")
    data = json.loads(step(cycle, "reveal after uninstall").out)
    [real] = data["real"]
    assert data["reported"] == {"PodSandboxStatus": [real.split("/")[0]]}
    assert data["rewritten"] is False and data["plugin_log"] is None and data["connected"] is True


def test_down_leaves_nothing_behind(cycle: Cycle) -> None:
    down = step(cycle, "down")
    assert re.match(r"local node [0-9a-f]{8} \(run root .+\) is gone\.\n$", down.out), down
    assert cycle.left_after_down == [], cycle.left_after_down
    assert not (cycle.state_dir / "state.json").exists()
    assert cycle.run is not None and cycle.run.containerd_pid and cycle.run.service_pids
    assert not any(procs.alive(pid) for pid in [cycle.run.containerd_pid, *cycle.run.service_pids])
    assert step(cycle, "down again").out == "nothing is up.\n"

"""The `cniqs` subcommands, run for real on the local provider: one up..down cycle, each step asserted on
its real output, and a check that `down` leaves nothing behind (the README's quick start demo runs in
e2e/test_quickstart.py).

These tests drive their own local nodes through the `cniqs` console script (not the `backend`
fixture), so they run only with `--provider local`; prerequisites as for the rest of the suite:
skip with the reason, but fail where CI=true.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from cniqs.common import procs
from cniqs.providers.local.layout import RunState
from cniqs.providers.local.provider import LocalProvider
from cniqs.providers.local.render import EXT_HOST, POD_CIDR_V4
from e2e.support_cli import Ran, node_left_nothing, real_address, require_cli, run_cniqs

pytestmark = [pytest.mark.e2e, pytest.mark.local_only]
REPO = Path(__file__).resolve().parents[1]

FAKE = "1.2.3.0"


@pytest.fixture(scope="module", autouse=True)
def local_prerequisites() -> None:
    require_cli(LocalProvider())


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
            if saved.get("provider") == "local" and (Path(saved["root"]) / "run.json").exists():
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
    assert data["pod"] == "test" and data["provider"] == "local"
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

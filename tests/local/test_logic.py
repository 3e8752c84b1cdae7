"""Pure logic of the local provider: chains, loaded-config parsing, waits, run state, mounts, settings."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from cniqs.common import procs
from cniqs.common.cniconfig import chain_summary, loaded_chain
from cniqs.common.waits import Fatal, WaitTimeout, until
from cniqs.install import kindnet
from cniqs.provider import ChainVariant
from cniqs.providers.local import cleanup
from cniqs.providers.local.layout import Layout, RunState, new_run_id
from cniqs.providers.local.settings import Settings


def test_kindnet_chain_has_kindnetd_shape() -> None:
    chain = kindnet.kindnet_chain(kindnet.KINDNET, ["10.244.0.0/24"], "/run/ipam")
    assert chain["cniVersion"] == "0.3.1" and chain["name"] == "kindnet"
    assert [p["type"] for p in chain["plugins"]] == ["ptp", "portmap"]
    ipam = chain["plugins"][0]["ipam"]
    assert ipam == {
        "type": "host-local",
        "dataDir": "/run/ipam",
        "routes": [{"dst": "0.0.0.0/0"}],
        "ranges": [[{"subnet": "10.244.0.0/24"}]],
    }
    assert chain["plugins"][1]["capabilities"] == {"portMappings": True}


def test_dual_stack_chain_has_a_range_and_a_default_route_per_family() -> None:
    v = ChainVariant("1.0.0", dual_stack=True)
    chain = kindnet.kindnet_chain(v, ["10.244.0.0/24", "fd00:10:244::/64"], "/d")
    ipam = chain["plugins"][0]["ipam"]
    assert chain["cniVersion"] == "1.0.0"
    assert ipam["ranges"] == [[{"subnet": "10.244.0.0/24"}], [{"subnet": "fd00:10:244::/64"}]]
    assert ipam["routes"] == [{"dst": "0.0.0.0/0"}, {"dst": "::/0"}]


CNI_CONFIG = {
    "Networks": [
        {"Config": {"Name": "cni-loopback", "Source": json.dumps({"name": "cni-loopback"})}, "IFName": "lo"},
        {
            "Config": {
                "Name": "kindnet",
                "Source": json.dumps({"name": "kindnet", "cniVersion": "0.3.1", "plugins": [{"type": "ptp"}]}),
            },
            "IFName": "eth0",
        },
    ]
}


def test_the_loaded_chain_is_eth0s_source() -> None:
    chain = loaded_chain(CNI_CONFIG)
    assert chain == {"name": "kindnet", "cniVersion": "0.3.1", "plugins": [{"type": "ptp"}]}
    assert chain_summary(chain) == "kindnet (cniVersion 0.3.1): ptp"
    assert loaded_chain({}) is None
    assert chain_summary(None) == "no CNI network loaded"


def test_until_returns_the_first_truthy_answer() -> None:
    answers = iter([None, 0, "", "ready"])
    assert until("the answer", lambda: next(answers), timeout=5, interval=0) == "ready"


def test_until_names_what_it_waited_for() -> None:
    with pytest.raises(WaitTimeout, match=r"waiting for the moon \(last answer: False\)"):
        until("the moon", lambda: False, timeout=0.1, interval=0.01)


def test_until_reports_the_last_error() -> None:
    def probe() -> bool:
        raise ConnectionError("socket not there")

    with pytest.raises(WaitTimeout, match="last error: ConnectionError: socket not there"):
        until("the socket", probe, timeout=0.1, interval=0.01)


def test_a_fatal_error_ends_the_wait_at_once() -> None:
    calls = []

    def probe() -> bool:
        calls.append(1)
        raise Fatal("containerd exited")

    with pytest.raises(Fatal):
        until("containerd", probe, timeout=10, interval=0.01)
    assert len(calls) == 1


def test_run_ids_differ() -> None:
    assert len({new_run_id() for _ in range(50)}) == 50


def test_run_state_round_trips(tmp_path: Path) -> None:
    state = RunState("ab", str(tmp_path), containerd_pid=12, containerd_mntns="mnt:[1]", service_pids=[3], owner_pid=9)
    state.save(tmp_path / "run.json")
    assert RunState.load(tmp_path / "run.json") == state


def test_stale_runs_are_those_whose_test_process_is_gone(tmp_path: Path) -> None:
    dead_pid = 2**22 + 1  # above any kernel's pid_max limit: never alive
    for name, owner, kept in (
        ("cniqs-a", dead_pid, False),
        ("cniqs-b", os.getpid(), False),
        ("cniqs-c", dead_pid, True),
    ):
        (tmp_path / name).mkdir()
        RunState(name, str(tmp_path / name), owner_pid=owner, kept=kept).save(tmp_path / name / "run.json")
    assert cleanup.stale_roots(tmp_path) == [tmp_path / "cniqs-a"]
    assert cleanup.stale_roots(tmp_path, include_kept=True) == [tmp_path / "cniqs-a", tmp_path / "cniqs-c"]


MOUNTINFO = """\
22 1 0:21 / / rw shared:1 - ext4 /dev/vda rw
90 22 0:50 / /tmp/cniqs-ab-x/containerd/state/netns/cni-1 rw shared:2 - nsfs nsfs rw
91 22 0:51 / /tmp/cniqs-ab-x/with\\040space rw - tmpfs tmpfs rw
92 22 0:52 / /tmp/cniqs-ab-xy rw - tmpfs tmpfs rw
"""


def test_mounts_under_a_root_are_found_deepest_first() -> None:
    found = cleanup.mounts_under(Path("/tmp/cniqs-ab-x"), MOUNTINFO)
    assert found == ["/tmp/cniqs-ab-x/containerd/state/netns/cni-1", "/tmp/cniqs-ab-x/with space"]


def test_the_root_cgroup_is_never_a_run_parent() -> None:
    with pytest.raises(ValueError):
        procs.cgroup_dirs("/")


def test_our_own_mount_namespace_is_never_swept() -> None:
    own = procs.mount_ns("self")
    assert own is not None
    assert procs.in_mount_ns(own) == []


def test_settings_come_from_the_environment_and_options() -> None:
    env = {"CNIQS_KEEP": "1", "CNIQS_IMAGE_ARCHIVE": "/x/img.tar", "CNIQS_LOCAL_ROOT": "/var/tmp"}
    s = Settings.from_env(env)
    assert s.keep and s.image_archive == Path("/x/img.tar") and s.root_parent == Path("/var/tmp")
    assert Settings.from_env({}, image="mine:1").image == "mine:1"
    assert not Settings.from_env({"CNIQS_KEEP": "no"}).keep


def test_layout_paths() -> None:
    layout = Layout("id", Path("/r"))
    assert layout.socket == Path("/r/containerd/containerd.sock")
    assert layout.plugin_log == Path("/r/logs/cni-quickstart.log")


def test_prerequisites_name_what_is_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    from cniqs.provider import RunOptions
    from cniqs.providers.local import provider as local

    monkeypatch.setattr(local.os, "geteuid", lambda: 1000)
    monkeypatch.setattr(local.shutil, "which", lambda name, path=None: None if name in ("dnsmasq", "ctr") else name)
    problems = local.LocalProvider().prerequisites(RunOptions())
    assert any("needs root" in p for p in problems)
    assert any("missing commands: ctr, dnsmasq" in p for p in problems)


def test_prerequisites_need_linux(monkeypatch: pytest.MonkeyPatch) -> None:
    from cniqs.provider import RunOptions
    from cniqs.providers.local import provider as local

    monkeypatch.setattr(local.sys, "platform", "darwin")
    assert local.LocalProvider().prerequisites(RunOptions()) == [
        "needs Linux (this is darwin); elsewhere use the kind provider"
    ]

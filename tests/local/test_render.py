"""containerd's config and the external side's servers, rendered for one run."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import pytest

from cniqs.providers.local import render
from cniqs.providers.local.layout import Layout

tomllib = pytest.importorskip("tomllib")  # Python 3.11+

LAYOUT = Layout("ab12cd34", Path("/tmp/cniqs-ab12cd34-x"))


def config() -> dict:
    return tomllib.loads(render.containerd_config(LAYOUT, render.ContainerdOptions(sandbox_image="cniqs.local/p:1")))


def test_every_containerd_path_is_inside_the_run_root() -> None:
    cfg = config()
    cri = cfg["plugins"]["io.containerd.grpc.v1.cri"]
    paths = [
        cfg["root"], cfg["state"], cfg["grpc"]["address"], cfg["ttrpc"]["address"],
        cfg["plugins"]["io.containerd.internal.v1.opt"]["path"],
        cri["cni"]["bin_dir"], cri["cni"]["conf_dir"],
        cri["containerd"]["runtimes"]["runc"]["options"]["Root"],
    ]  # fmt: skip
    for path in paths:
        assert Path(path).is_relative_to(LAYOUT.root), path


def test_cri_is_set_up_like_a_kind_node_that_runs_here() -> None:
    cri = config()["plugins"]["io.containerd.grpc.v1.cri"]
    assert cri["restrict_oom_score_adj"] is True
    assert cri["netns_mounts_under_state_dir"] is True
    assert cri["sandbox_image"] == "cniqs.local/p:1"
    assert cri["cni"]["max_conf_num"] == 1
    runc = cri["containerd"]["runtimes"]["runc"]
    assert runc["runtime_type"] == "io.containerd.runc.v2"
    assert runc["options"]["SystemdCgroup"] is False


def test_nri_is_left_to_containerd_unless_a_socket_is_given() -> None:
    assert "io.containerd.nri.v1.nri" not in config()["plugins"]  # containerd 1.6 has no NRI plugin


def test_a_node_with_its_own_nri_socket_keeps_it_inside_the_run_root() -> None:
    opts = render.ContainerdOptions(sandbox_image="x", nri_socket=str(LAYOUT.nri_socket))
    cfg = tomllib.loads(render.containerd_config(LAYOUT, opts))
    socket = cfg["plugins"]["io.containerd.nri.v1.nri"]["socket_path"]
    assert Path(socket).is_relative_to(LAYOUT.root) and socket != "/var/run/nri/nri.sock"
    assert cfg["plugins"]["io.containerd.grpc.v1.cri"]["cni"]["max_conf_num"] == 1  # the CRI table is intact


def test_paths_with_quotes_stay_valid_toml() -> None:
    odd = Layout("ab12cd34", Path('/tmp/with "quotes" and \\ slash'))
    cfg = tomllib.loads(render.containerd_config(odd, render.ContainerdOptions(sandbox_image="x")))
    assert cfg["root"] == str(odd.containerd_root)


def test_the_internet_is_made_of_documentation_and_benchmark_ranges_only() -> None:
    allowed = [ipaddress.ip_network("203.0.113.0/24"), ipaddress.ip_network("198.18.0.0/15")]
    for address in (render.EXT_HOST, render.EXT_DNS, render.NODE_UPLINK.ip, render.EXT_DOWNLINK.ip):
        assert any(address in net for net in allowed), address


def test_the_dns_server_answers_locally_and_never_forwards() -> None:
    argv = render.dnsmasq_argv("/x/log", "/x/pid")
    assert "--no-resolv" in argv and "--conf-file=/dev/null" in argv
    assert not any(a.startswith("--server") for a in argv)
    assert f"--host-record={render.EXT_NAME},{render.EXT_HOST}" in argv
    assert f"--listen-address={render.EXT_DNS}" in argv


def test_run_names_carry_the_run_id() -> None:
    assert LAYOUT.node_netns == "cniqs-ab12cd34-node"
    assert LAYOUT.ext_netns == "cniqs-ab12cd34-ext"
    assert LAYOUT.cgroup_parent == "/cniqs-ab12cd34"
    assert all(d.is_relative_to(LAYOUT.root) for d in LAYOUT.dirs())

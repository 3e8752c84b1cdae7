from __future__ import annotations

import re

import pytest
import yaml

from cniqs.providers.kind import cluster


def test_default_config_is_one_control_plane_and_one_worker() -> None:
    config = cluster.kind_config()
    assert config == {
        "kind": "Cluster",
        "apiVersion": "kind.x-k8s.io/v1alpha4",
        "nodes": [{"role": "control-plane"}, {"role": "worker"}],
    }


def test_workers_and_ip_family() -> None:
    config = cluster.kind_config(workers=3, ip_family="dual")
    assert [n["role"] for n in config["nodes"]] == ["control-plane", "worker", "worker", "worker"]
    assert config["networking"] == {"ipFamily": "dual"}
    assert "networking" not in cluster.kind_config(ip_family="ipv4")


def test_bad_config_requests() -> None:
    with pytest.raises(ValueError):
        cluster.kind_config(workers=-1)
    with pytest.raises(ValueError):
        cluster.kind_config(ip_family="ipx")


def test_rendered_config_is_yaml_of_the_same_dict() -> None:
    config = cluster.kind_config(workers=2, ip_family="dual")
    text = cluster.render_config(config)
    assert text.startswith("kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\n")
    assert yaml.safe_load(text) == config


def test_cluster_names_are_unique_and_valid() -> None:
    names = {cluster.cluster_name("1.35") for _ in range(50)}
    assert len(names) == 50
    for name in names:
        assert re.fullmatch(r"cniqs-1-35-[0-9a-f]{6}", name)
        assert cluster.valid_name(name)
    assert cluster.cluster_name("1.34", token="abc123") == "cniqs-1-34-abc123"


def test_invalid_names_are_refused() -> None:
    with pytest.raises(ValueError):
        cluster.cluster_name("1.35", token="UPPER")
    assert not cluster.valid_name("-leading")
    assert not cluster.valid_name("x" * 41)


def test_create_writes_the_config_and_runs_kind_create(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from cniqs.common.run import Completed

    calls: list[list[str]] = []

    def run(argv, *, input=None, timeout=None):  # type: ignore[no-untyped-def]
        calls.append(list(argv))
        out = "other\n" if argv[1:3] == ["get", "clusters"] else ""
        return Completed(list(argv), 0, out, "")

    made = cluster.prepare("/k/kind", "cniqs-1-35-abcdef", tmp_path)
    cluster.create(run, made, "IMG", workers=2, ip_family="ipv4")
    assert calls[0] == ["/k/kind", "get", "clusters"]
    config = tmp_path / "cniqs-1-35-abcdef.kind.yaml"
    assert calls[1] == cluster_create_argv(config, tmp_path / "cniqs-1-35-abcdef.kubeconfig")
    assert yaml.safe_load(config.read_text()) == cluster.kind_config(workers=2)
    assert made.created


def cluster_create_argv(config, kubeconfig):  # type: ignore[no-untyped-def]
    from cniqs.providers.kind import commands

    return commands.kind_create("/k/kind", "cniqs-1-35-abcdef", "IMG", str(config), str(kubeconfig))


def test_an_existing_name_is_never_taken_over(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from cniqs.common.run import Completed

    def run(argv, *, input=None, timeout=None):  # type: ignore[no-untyped-def]
        return Completed(list(argv), 0, "cniqs-1-35-abcdef\n", "")

    made = cluster.prepare("kind", "cniqs-1-35-abcdef", tmp_path)
    with pytest.raises(RuntimeError, match="exists already"):
        cluster.create(run, made, "IMG", 1, "ipv4")
    assert not made.created  # teardown will not delete someone else's cluster
    with pytest.raises(RuntimeError, match="no such kind cluster"):
        cluster.reuse(run, "kind", "mine", tmp_path)

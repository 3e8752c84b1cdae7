from __future__ import annotations

import re

import pytest
import yaml

from e2e.backends.kind import cluster


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
    config = cluster.kind_config(workers=2, ip_family="ipv6")
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

"""Pure parts of the kube provider: addresses, command lines, kubelet config, routes, certificates, versions."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from cniqs.providers.kube import pki, render
from cniqs.providers.kube.provider import select


def kubelet_paths(tmp_path: Path) -> render.KubeletPaths:
    return render.KubeletPaths(
        root_dir=tmp_path / "kubelet",
        config=tmp_path / "config.json",
        kubeconfig=tmp_path / "kubeconfig.json",
        ca=tmp_path / "ca.crt",
        serving_cert=tmp_path / "k.crt",
        serving_key=tmp_path / "k.key",
        resolv_conf=tmp_path / "resolv.conf",
        pod_logs=tmp_path / "pods",
    )


def test_node_addresses_start_after_the_gateway() -> None:
    assert str(render.node_address(0)) == "198.19.0.2/24"
    assert str(render.node_address(1)) == "198.19.0.3/24"
    assert render.NODE_GATEWAY.ip not in {render.node_address(i).ip for i in range(4)}


@pytest.mark.parametrize(("minor", "refuses_v1"), [(34, None), (35, False), (36, False)])
def test_kubelet_config_tolerates_cgroup_v1_from_1_35(tmp_path: Path, minor: int, refuses_v1: bool | None) -> None:
    config = render.kubelet_config(kubelet_paths(tmp_path), render.node_address(1).ip, ["203.0.113.53"], "/x", minor)
    assert config.get("failCgroupV1") is refuses_v1
    assert config["cgroupRoot"] == "/x"  # each node's pods under their own cgroup root
    assert config["clusterDNS"] == ["203.0.113.53"]
    assert config["address"] == "198.19.0.3"
    json.dumps(config)  # the config file is JSON


def test_kindnet_routes_lead_to_the_other_nodes_pods_only() -> None:
    cidrs = {"cp": "10.244.0.0/24", "w": "10.244.1.0/24", "w2": "10.244.2.0/24"}
    addresses = {"cp": "198.19.0.2", "w": "198.19.0.3", "w2": "198.19.0.4"}
    assert render.kindnet_routes("w", cidrs, addresses) == [
        ("10.244.0.0/24", "198.19.0.2"),
        ("10.244.2.0/24", "198.19.0.4"),
    ]


def test_control_plane_command_lines_name_the_run_files(tmp_path: Path) -> None:
    paths = render.ControlPlanePaths(
        pki=tmp_path / "pki",
        etcd_data=tmp_path / "etcd",
        admin_kubeconfig=tmp_path / "admin.conf",
        controller_manager_kubeconfig=tmp_path / "cm.conf",
        scheduler_kubeconfig=tmp_path / "s.conf",
    )
    api = render.apiserver_argv(tmp_path / "bin", paths, render.node_address(0).ip)
    assert api[0] == str(tmp_path / "bin" / "kube-apiserver")
    assert f"--client-ca-file={tmp_path / 'pki' / 'ca.crt'}" in api
    cm = render.controller_manager_argv(tmp_path / "bin", paths)
    assert "--allocate-node-cidrs=true" in cm and f"--cluster-cidr={render.CLUSTER_CIDR}" in cm
    assert f"--kubeconfig={tmp_path / 's.conf'}" in render.scheduler_argv(tmp_path / "bin", paths)
    assert f"--data-dir={tmp_path / 'etcd'}" in render.etcd_argv(tmp_path / "etcd", "n")


def test_certificates_carry_the_names_and_usages_kubernetes_checks(tmp_path: Path) -> None:
    ca = pki.Authority(tmp_path)
    node = ca.issue("kubelet-1", "system:node:w", ["system:nodes"], client=True)
    cert = x509.load_pem_x509_certificate(node.cert.read_bytes())
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "system:node:w"
    assert cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value == "system:nodes"
    usages = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(usages) == [ExtendedKeyUsageOID.CLIENT_AUTH]
    cert.verify_directly_issued_by(ca.cert)
    server = ca.issue("api", "kube-apiserver", server=True, dns=["kubernetes"], ips=[render.API_SERVICE_IP])
    sans = x509.load_pem_x509_certificate(server.cert.read_bytes()).extensions.get_extension_for_class(
        x509.SubjectAlternativeName
    )
    assert sans.value.get_values_for_type(x509.IPAddress) == [render.API_SERVICE_IP]
    assert oct(node.key.stat().st_mode & 0o777) == "0o600"


def test_kubeconfig_references_the_run_files(tmp_path: Path) -> None:
    ca = pki.Authority(tmp_path)
    pair = ca.issue("admin", "admin", ["system:masters"], client=True)
    doc = json.loads(pki.kubeconfig("https://127.0.0.1:1234", ca.pair.cert, pair, "admin"))
    assert doc["clusters"][0]["cluster"] == {
        "server": "https://127.0.0.1:1234",
        "certificate-authority": str(ca.pair.cert),
    }
    assert doc["users"][0]["user"]["client-key"] == str(pair.key)


def test_version_selection(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CNIQS_K8S_VERSION", raising=False)
    assert select("") == ["1.37"]
    assert select("all") == ["1.37", "1.36", "1.35", "1.34"]
    assert select("v1.35") == ["1.35"]
    monkeypatch.setenv("CNIQS_K8S_VERSION", "all")
    assert select("") == ["1.37", "1.36", "1.35", "1.34"]
    assert select("1.34") == ["1.34"]
    with pytest.raises(ValueError, match="pinned for the kube provider are 1.37, 1.36, 1.35, 1.34"):
        select("1.20")

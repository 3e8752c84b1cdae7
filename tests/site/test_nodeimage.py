"""The site's kind node image (cniqs.site.nodeimage): what kubeadm asks for, the image name that follows its
inputs, the layers. Nothing here runs podman or debootstrap."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cniqs.site import componentimages, nodeimage

# --- node image: what kubeadm asks for, the cache key ----------------------------------------------------

LISTING = """registry.k8s.io/kube-apiserver:v1.35.4
registry.k8s.io/kube-controller-manager:v1.35.4
registry.k8s.io/kube-scheduler:v1.35.4
registry.k8s.io/kube-proxy:v1.35.4
registry.k8s.io/coredns/coredns:v1.12.4
registry.k8s.io/pause:3.10.1
registry.k8s.io/etcd:3.6.5-0
"""


def test_image_refs_by_component() -> None:
    refs = nodeimage.image_refs(LISTING, "v1.35.4")
    assert refs["coredns"] == "registry.k8s.io/coredns/coredns:v1.12.4"
    assert refs["pause"] == "registry.k8s.io/pause:3.10.1"
    assert set(refs) == {*nodeimage.REQUIRED_COMPONENTS, "coredns"}


def test_image_refs_name_what_is_missing() -> None:
    listing = "\n".join(line for line in LISTING.splitlines() if "etcd" not in line and "pause" not in line)
    with pytest.raises(nodeimage.ImageBuildError, match="no image for etcd, pause"):
        nodeimage.image_refs(listing, "v1.35.4")


def inputs(tmp_path: Path, refs: dict[str, str] | None = None) -> nodeimage.Inputs:
    kube, tools, root = tmp_path / "kube", tmp_path / "tools", tmp_path / "rootfs-bookworm-abc"
    for folder in (kube, tools, root):
        folder.mkdir(exist_ok=True)
    if not (kube / "kubelet").exists():
        (kube / "kubelet").write_bytes(b"k" * 10)
    return nodeimage.Inputs("1.35", "v1.35.4", root, kube, tools, refs or nodeimage.image_refs(LISTING, "v1.35.4"))


def test_image_name_is_per_release_and_changes_with_its_inputs(tmp_path: Path) -> None:
    first = inputs(tmp_path)
    name = nodeimage.image_name(first)
    assert name.startswith(f"{nodeimage.IMAGE_REPO}:v1.35.4-")
    assert nodeimage.image_name(inputs(tmp_path)) == name  # same inputs, same tag
    refs = dict(first.image_refs, pause="registry.k8s.io/pause:3.99")
    assert nodeimage.image_name(inputs(tmp_path, refs)) != name
    (tmp_path / "kube" / "kubelet").write_bytes(b"k" * 11)
    assert nodeimage.image_name(inputs(tmp_path)) != name


def test_binary_layer_holds_the_files_executable(tmp_path: Path) -> None:
    import io
    import tarfile

    src = tmp_path / "kube-proxy"
    src.write_bytes(b"\x7fELF")
    layer = componentimages.binary_layer({"usr/local/bin/kube-proxy": src}, with_base=False)
    with tarfile.open(fileobj=io.BytesIO(layer)) as tar:
        member = tar.getmember("usr/local/bin/kube-proxy")
        assert member.mode & 0o777 == 0o755
        extracted = tar.extractfile(member)
        assert extracted is not None and extracted.read() == b"\x7fELF"


def test_node_packages_hold_what_kind_nodes_need() -> None:
    for package in ("systemd", "iptables", "iproute2", "runc", "containernetworking-plugins", "conntrack"):
        assert package in nodeimage.NODE_PACKAGES
    assert nodeimage.CNI_PLUGINS == ("host-local", "loopback", "ptp", "portmap")
    assert nodeimage.DEBIAN_RELEASE == "bookworm"  # kind v0.23 to v0.31's base (facts: images/base/Dockerfile)
    assert json.loads(json.dumps(nodeimage.NODE_PACKAGES)) == list(nodeimage.NODE_PACKAGES)


def test_stale_images_are_earlier_builds_of_the_same_release_only() -> None:
    repo = nodeimage.IMAGE_REPO
    listing = "\n".join(
        [f"{repo}:v1.35.4-aaaaaaaaaaaa", f"{repo}:v1.35.4-bbbbbbbbbbbb", f"{repo}:v1.34.4-cccccccccccc",
         "localhost/cniqs/kind-target:1", f"{repo}:v1.35.40-dddddddddddd"]
    )  # fmt: skip
    assert nodeimage.stale_images(listing, f"{repo}:v1.35.4-bbbbbbbbbbbb") == [f"{repo}:v1.35.4-aaaaaaaaaaaa"]
    assert nodeimage.stale_images("", f"{repo}:v1.35.4-bbbbbbbbbbbb") == []

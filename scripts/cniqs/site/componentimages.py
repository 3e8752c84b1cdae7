"""The images inside a site node image (cniqs.site.nodeimage): kube-apiserver, kube-controller-manager,
kube-scheduler, kube-proxy, etcd, coredns, pause, the test pod and the kindnet stand-in, built in Python from
this machine's binaries as one OCI image layout tar, imported into the node image's containerd store while the
image is built (cniqs.site.prefill)."""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import tarfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from cniqs.providers.local import images
from cniqs.site import nodefiles

KINDNET_IMAGE = "cniqs.local/kindnet:1"
# Userland for the images whose binaries run iptables (kube-proxy, kindnet): the node's Debian, trimmed.
USERLAND_SKIP = (
    "usr/share/doc", "usr/share/man", "usr/share/locale", "usr/share/info", "var/cache", "var/lib/apt",
    "usr/lib/cni", "usr/sbin/runc", "usr/lib/systemd", "usr/bin/systemd", "boot", "dev", "proc", "sys",
)  # fmt: skip
PATH_ENV = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def _base_entries() -> list[images.Entry]:
    dirs = ("etc", "tmp", "var", "var/lib", "var/run", "usr", "usr/local", "usr/local/bin", "run", "root")
    entries = [images.Entry(d, "dir", mode=0o1777 if d == "tmp" else 0o755) for d in dirs]
    entries.append(
        images.Entry("etc/passwd", "file", b"root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534::/:/bin/false\n")
    )
    entries.append(images.Entry("etc/group", "file", b"root:x:0:\nnobody:x:65534:\n"))
    entries.append(images.Entry("etc/nsswitch.conf", "file", b"hosts: files dns\n"))
    return entries


def binary_layer(files: dict[str, Path], with_base: bool = True) -> bytes:
    """One layer: each path -> a file's bytes (mode 0755), plus a minimal /etc and /tmp."""
    entries = _base_entries() if with_base else []
    for dest, src in files.items():
        entries.append(images.Entry(dest, "file", src.read_bytes(), mode=0o755))
    return images.tar_bytes(entries)


def userland_layer(root: Path, dest: Path) -> str:
    """The node's Debian userland, trimmed, as a layer file at dest (deterministic); returns its digest."""
    skip = tuple(s.rstrip("/") for s in USERLAND_SKIP)

    def keep(rel: str) -> bool:
        return not any(rel == s or rel.startswith(s + "/") for s in skip)

    with tarfile.open(dest, "w", format=tarfile.PAX_FORMAT) as tar:
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames.sort()
            for name in sorted(dirnames + filenames):
                full = Path(dirpath) / name
                rel = full.relative_to(root).as_posix()
                if not keep(rel):
                    continue
                info = tar.gettarinfo(str(full), rel)
                info.mtime = 0
                info.uname = info.gname = ""
                if info.isreg():
                    with full.open("rb") as fh:
                        tar.addfile(info, fh)
                elif info.isdir() or info.issym() or info.islnk():
                    tar.addfile(info)
            dirnames[:] = [d for d in dirnames if keep((Path(dirpath) / d).relative_to(root).as_posix())]
    return _file_digest(dest)


@dataclass(frozen=True)
class ImageSpec:
    name: str
    layers: tuple[Path, ...]  # layer files, bottom first
    entrypoint: tuple[str, ...] = ()
    cmd: tuple[str, ...] = ()


def _file_digest(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return "sha256:" + h.hexdigest()


def write_oci_archive(specs: Iterable[ImageSpec], arch: str, dest: Path) -> None:
    """One OCI image layout tar holding several images; blobs shared between them are stored once."""
    blobs: dict[str, Path | bytes] = {}
    manifests = []
    for spec in specs:
        layer_descs = []
        diff_ids = []
        for layer in spec.layers:
            digest = _file_digest(layer)
            blobs[digest] = layer
            layer_descs.append({"mediaType": images.LAYER, "digest": digest, "size": layer.stat().st_size})
            diff_ids.append(digest)
        config: dict[str, object] = {
            "architecture": arch,
            "os": "linux",
            "config": {"Env": [PATH_ENV], "WorkingDir": "/"},
            "rootfs": {"type": "layers", "diff_ids": diff_ids},
        }
        if spec.entrypoint:
            config["config"]["Entrypoint"] = list(spec.entrypoint)  # type: ignore[index]
        if spec.cmd:
            config["config"]["Cmd"] = list(spec.cmd)  # type: ignore[index]
        config_blob = images.canonical(config)
        blobs[images.sha256(config_blob)] = config_blob
        manifest = {
            "schemaVersion": 2,
            "mediaType": images.MANIFEST,
            "config": {"mediaType": images.CONFIG, "digest": images.sha256(config_blob), "size": len(config_blob)},
            "layers": layer_descs,
        }
        manifest_blob = images.canonical(manifest)
        blobs[images.sha256(manifest_blob)] = manifest_blob
        manifests.append(
            {
                "mediaType": images.MANIFEST,
                "digest": images.sha256(manifest_blob),
                "size": len(manifest_blob),
                "annotations": {images.CONTAINERD_NAME: spec.name, images.OCI_REF_NAME: spec.name.rpartition(":")[2]},
                "platform": {"architecture": arch, "os": "linux"},
            }
        )
    with tarfile.open(dest, "w", format=tarfile.PAX_FORMAT) as tar:

        def add_bytes(name: str, data: bytes) -> None:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))

        add_bytes("oci-layout", images.canonical({"imageLayoutVersion": "1.0.0"}))
        add_bytes("index.json", images.canonical({"schemaVersion": 2, "manifests": manifests}))
        for digest, blob in sorted(blobs.items(), key=lambda kv: kv[0]):
            name = "blobs/sha256/" + digest.split(":", 1)[1]
            if isinstance(blob, bytes):
                add_bytes(name, blob)
            else:
                tar.add(str(blob), name)


def control_plane_specs(kube: Path, tools: Path, refs: dict[str, str], layers: Path, userland: Path) -> list[ImageSpec]:
    """Every image the node imports: kube (kubebin's release folder) and tools (its tools folder) give the binaries,
    refs the names kubeadm asks for; layers is where the layer files go, userland the trimmed Debian layer."""
    specs = []

    def layer(name: str, files: dict[str, Path], with_base: bool = True) -> Path:
        path = layers / f"{name}.tar"
        path.write_bytes(binary_layer(files, with_base))
        return path

    for component in ("kube-apiserver", "kube-controller-manager", "kube-scheduler"):
        one = layer(component, {f"usr/local/bin/{component}": kube / component})
        specs.append(ImageSpec(refs[component], (one,), cmd=(f"/usr/local/bin/{component}",)))
    proxy = layer("kube-proxy", {"usr/local/bin/kube-proxy": kube / "kube-proxy"}, with_base=False)
    specs.append(ImageSpec(refs["kube-proxy"], (userland, proxy), cmd=("/usr/local/bin/kube-proxy",)))
    etcd = layer("etcd", {"usr/local/bin/etcd": tools / "etcd"})
    specs.append(ImageSpec(refs["etcd"], (etcd,), cmd=("/usr/local/bin/etcd",)))
    if "coredns" in refs:
        coredns = layer("coredns", {"coredns": tools / "coredns"})
        specs.append(ImageSpec(refs["coredns"], (coredns,), entrypoint=("/coredns",)))
    busybox = Path(shutil.which("busybox") or "/bin/busybox").read_bytes()
    arch = kubebin_arch()
    for built in (images.pause_image(busybox, arch, refs["pause"]), images.test_image(busybox, arch)):
        # Their single layer, taken from the archive the local provider builds.
        path = layers / (built.name.replace("/", "_").replace(":", "_") + ".layer.tar")
        path.write_bytes(_only_layer(built.archive))
        cmd = ("/bin/busybox", "sleep", "infinity") if built.name == refs["pause"] else ("sh",)
        specs.append(ImageSpec(built.name, (path,), cmd=cmd))
    script = layers / "kindnet-script"
    script.write_text(nodefiles.KINDNET_SCRIPT)
    kindnet = layer(
        "kindnet", {"usr/local/bin/kubectl": kube / "kubectl", "usr/local/bin/cniqs-kindnet": script}, with_base=False
    )
    specs.append(ImageSpec(KINDNET_IMAGE, (userland, kindnet), cmd=("/bin/sh", "/usr/local/bin/cniqs-kindnet")))
    return specs


def _only_layer(archive: bytes) -> bytes:
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        index = json.load(tar.extractfile("index.json"))  # type: ignore[arg-type]
        manifest_digest = index["manifests"][0]["digest"].split(":", 1)[1]
        manifest = json.load(tar.extractfile(f"blobs/sha256/{manifest_digest}"))  # type: ignore[arg-type]
        layer_digest = manifest["layers"][0]["digest"].split(":", 1)[1]
        return tar.extractfile(f"blobs/sha256/{layer_digest}").read()  # type: ignore[union-attr]


def kubebin_arch() -> str:
    from cniqs.ship.build import host_arch

    return host_arch()

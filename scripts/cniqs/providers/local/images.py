"""OCI image archives built in Python from busybox-static, so a local node needs no registry.

Archives are deterministic (fixed mtimes and owners, sorted entries, uncompressed layers), so the same
busybox gives the same digests on every run. `ctr images import` reads them (OCI image layout in a tar).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import tarfile
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

LAYER = "application/vnd.oci.image.layer.v1.tar"
CONFIG = "application/vnd.oci.image.config.v1+json"
MANIFEST = "application/vnd.oci.image.manifest.v1+json"
CONTAINERD_NAME = "io.containerd.image.name"
OCI_REF_NAME = "org.opencontainers.image.ref.name"

# What the e2e tests run in a pod, plus a few applets that make poking at a kept node pleasant.
TEST_APPLETS = (
    "sh", "ash", "ip", "ping", "ping6", "wget", "nslookup", "sleep", "cat", "ls", "echo", "ps", "hostname",
    "ifconfig", "route", "nc", "env", "true", "false", "grep", "head", "tail", "id", "uname", "date",
)  # fmt: skip
TEST_IMAGE = "cniqs.local/busybox-test:1"
PAUSE_IMAGE = "cniqs.local/pause:1"


@dataclass(frozen=True)
class Entry:
    """One file, directory or symlink of a layer."""

    path: str
    kind: str  # "file", "dir" or "symlink"
    data: bytes = b""
    mode: int = 0o644
    target: str = ""


@dataclass(frozen=True)
class Built:
    name: str
    manifest_digest: str
    archive: bytes


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def canonical(obj: Any) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()


def tar_bytes(entries: Iterable[Entry]) -> bytes:
    """A deterministic tar of entries, sorted by path, owned by root, mtime 0."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for entry in sorted(entries, key=lambda e: e.path):
            info = tarfile.TarInfo(entry.path.strip("/"))
            info.mtime = 0
            info.uid = info.gid = 0
            info.uname = info.gname = "root"
            info.mode = entry.mode
            if entry.kind == "dir":
                info.type = tarfile.DIRTYPE
                tar.addfile(info)
            elif entry.kind == "symlink":
                info.type = tarfile.SYMTYPE
                info.linkname = entry.target
                tar.addfile(info)
            elif entry.kind == "file":
                info.size = len(entry.data)
                tar.addfile(info, io.BytesIO(entry.data))
            else:
                raise ValueError(f"unknown entry kind {entry.kind!r} for {entry.path}")
    return buf.getvalue()


def busybox_rootfs(busybox: bytes, applets: Sequence[str]) -> list[Entry]:
    """A tiny root filesystem: /bin/busybox, applet symlinks and the directories a runtime expects."""
    entries = [
        Entry("bin", "dir", mode=0o755),
        Entry("bin/busybox", "file", busybox, mode=0o755),
        Entry("etc", "dir", mode=0o755),
        Entry("etc/passwd", "file", b"root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n"),
        Entry("etc/group", "file", b"root:x:0:\nnobody:x:65534:\n"),
        Entry("root", "dir", mode=0o700),
        Entry("tmp", "dir", mode=0o1777),
        *(Entry(d, "dir", mode=0o755) for d in ("dev", "proc", "sys", "run", "var")),
    ]
    entries += [Entry(f"bin/{name}", "symlink", target="busybox") for name in sorted(set(applets))]
    return entries


def image_archive(name: str, layer: bytes, cmd: Sequence[str], arch: str, env: Sequence[str] = ()) -> Built:
    """An OCI image layout tar holding one single-layer image, tagged name."""
    config = {
        "architecture": arch,
        "os": "linux",
        "config": {"Cmd": list(cmd), "Env": ["PATH=/bin", *env], "WorkingDir": "/"},
        "rootfs": {"type": "layers", "diff_ids": [sha256(layer)]},
    }
    config_blob = canonical(config)
    manifest = {
        "schemaVersion": 2,
        "mediaType": MANIFEST,
        "config": {"mediaType": CONFIG, "digest": sha256(config_blob), "size": len(config_blob)},
        "layers": [{"mediaType": LAYER, "digest": sha256(layer), "size": len(layer)}],
    }
    manifest_blob = canonical(manifest)
    index = {
        "schemaVersion": 2,
        "manifests": [
            {
                "mediaType": MANIFEST,
                "digest": sha256(manifest_blob),
                "size": len(manifest_blob),
                "annotations": {CONTAINERD_NAME: name, OCI_REF_NAME: name.rpartition(":")[2]},
                "platform": {"architecture": arch, "os": "linux"},
            }
        ],
    }
    blobs = [Entry("blobs", "dir", mode=0o755), Entry("blobs/sha256", "dir", mode=0o755)]
    for blob in (layer, config_blob, manifest_blob):
        blobs.append(Entry(f"blobs/sha256/{sha256(blob).split(':', 1)[1]}", "file", blob))
    files = [
        *blobs,
        Entry("oci-layout", "file", canonical({"imageLayoutVersion": "1.0.0"})),
        Entry("index.json", "file", canonical(index)),
    ]
    return Built(name, sha256(manifest_blob), tar_bytes(files))


def test_image(busybox: bytes, arch: str, name: str = TEST_IMAGE) -> Built:
    layer = tar_bytes(busybox_rootfs(busybox, TEST_APPLETS))
    return image_archive(name, layer, ["sh"], arch)


def pause_image(busybox: bytes, arch: str, name: str = PAUSE_IMAGE) -> Built:
    """The sandbox image: PID 1 sleeps forever (containerd stops sandboxes with SIGKILL)."""
    layer = tar_bytes(busybox_rootfs(busybox, ()))
    return image_archive(name, layer, ["/bin/busybox", "sleep", "infinity"], arch)


def write(built: Built, folder: Path) -> Path:
    """The archive into folder, under its image's name. Written beside it and renamed into place: runs that
    share the folder (two kube clusters on two workers) write the same bytes at once, and a reader copying the
    file while another run truncated it got a short blob ("short read: expected ... got ...")."""
    path = folder / (built.name.replace("/", "_").replace(":", "_") + ".oci.tar")
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(built.archive)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def archive_image_names(path: Path) -> list[str]:
    """Image names an archive carries: OCI index annotations, or a docker-save manifest's RepoTags."""
    with tarfile.open(path) as tar:
        members = {m.name.lstrip("./"): m for m in tar.getmembers()}

        def load(member: str) -> Any:
            fh = tar.extractfile(members[member])
            return json.load(fh) if fh is not None else None

        names: list[str] = []
        if "index.json" in members:
            for desc in (load("index.json") or {}).get("manifests", []):
                annotations = desc.get("annotations") or {}
                name = annotations.get(CONTAINERD_NAME) or annotations.get(OCI_REF_NAME)
                if isinstance(name, str) and name:
                    names.append(name)
        if not names and "manifest.json" in members:
            for item in load("manifest.json") or []:
                names.extend(t for t in item.get("RepoTags") or [] if isinstance(t, str))
    return names

"""OCI image archives built in Python: deterministic, self-consistent, runnable layouts."""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
from pathlib import Path

import pytest

from cniqs.providers.local import images

FAKE_BUSYBOX = b"\x7fELF fake busybox for tests"


def members(data: bytes) -> dict[str, tarfile.TarInfo]:
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        return {m.name: m for m in tar.getmembers()}


def read(data: bytes, name: str) -> bytes:
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        fh = tar.extractfile(name)
        assert fh is not None
        return fh.read()


def blob(archive: bytes, digest: str) -> bytes:
    return read(archive, f"blobs/sha256/{digest.split(':', 1)[1]}")


def test_the_same_input_gives_the_same_bytes() -> None:
    a = images.test_image(FAKE_BUSYBOX, "amd64")
    b = images.test_image(FAKE_BUSYBOX, "amd64")
    assert a.archive == b.archive
    assert a.manifest_digest == b.manifest_digest


def test_a_different_busybox_gives_a_different_image() -> None:
    assert (
        images.test_image(FAKE_BUSYBOX, "amd64").manifest_digest != images.test_image(b"other", "amd64").manifest_digest
    )


def test_index_manifest_config_and_layer_are_consistent() -> None:
    built = images.test_image(FAKE_BUSYBOX, "arm64")
    index = json.loads(read(built.archive, "index.json"))
    (desc,) = index["manifests"]
    assert desc["annotations"][images.CONTAINERD_NAME] == images.TEST_IMAGE
    assert desc["digest"] == built.manifest_digest
    manifest_bytes = blob(built.archive, desc["digest"])
    assert "sha256:" + hashlib.sha256(manifest_bytes).hexdigest() == desc["digest"]
    assert len(manifest_bytes) == desc["size"]
    manifest = json.loads(manifest_bytes)
    config = json.loads(blob(built.archive, manifest["config"]["digest"]))
    layer = blob(built.archive, manifest["layers"][0]["digest"])
    assert config["architecture"] == "arm64"
    assert config["rootfs"]["diff_ids"] == [manifest["layers"][0]["digest"]]
    assert manifest["layers"][0]["mediaType"] == images.LAYER
    assert "sha256:" + hashlib.sha256(layer).hexdigest() == manifest["layers"][0]["digest"]
    assert json.loads(read(built.archive, "oci-layout")) == {"imageLayoutVersion": "1.0.0"}


def test_the_test_layer_has_busybox_and_the_applets_the_tests_run() -> None:
    built = images.test_image(FAKE_BUSYBOX, "amd64")
    manifest = json.loads(blob(built.archive, built.manifest_digest))
    layer = blob(built.archive, manifest["layers"][0]["digest"])
    entries = members(layer)
    assert read(layer, "bin/busybox") == FAKE_BUSYBOX
    assert entries["bin/busybox"].mode == 0o755
    for applet in ("sh", "ip", "ping", "wget", "nslookup", "sleep"):
        assert entries[f"bin/{applet}"].issym() and entries[f"bin/{applet}"].linkname == "busybox"
    assert entries["tmp"].mode == 0o1777
    assert all(m.mtime == 0 and m.uid == 0 and m.gid == 0 for m in entries.values())
    assert list(entries) == sorted(entries)


def test_the_pause_image_sleeps_forever() -> None:
    built = images.pause_image(FAKE_BUSYBOX, "amd64")
    manifest = json.loads(blob(built.archive, built.manifest_digest))
    config = json.loads(blob(built.archive, manifest["config"]["digest"]))
    assert config["config"]["Cmd"] == ["/bin/busybox", "sleep", "infinity"]
    assert built.name == images.PAUSE_IMAGE


def test_unknown_entry_kinds_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown entry kind"):
        images.tar_bytes([images.Entry("x", "fifo")])


def test_names_are_read_from_an_oci_archive(tmp_path: Path) -> None:
    path = images.write(images.test_image(FAKE_BUSYBOX, "amd64", name="example.test/mine:2"), tmp_path)
    assert images.archive_image_names(path) == ["example.test/mine:2"]


def test_a_rewrite_leaves_a_reader_of_the_archive_its_whole_file(tmp_path: Path) -> None:
    first = images.test_image(FAKE_BUSYBOX, "amd64")
    second = images.test_image(FAKE_BUSYBOX + b"\0", "amd64")
    path = images.write(first, tmp_path)
    with path.open("rb") as reader:  # another run copying the archive while this one writes it again
        images.write(second, tmp_path)
        assert reader.read() == first.archive
    assert path.read_bytes() == second.archive
    assert [p.name for p in tmp_path.iterdir()] == [path.name]
    assert path.stat().st_mode & 0o777 == 0o644


def test_names_are_read_from_a_docker_save_archive(tmp_path: Path) -> None:
    manifest = json.dumps([{"Config": "c.json", "RepoTags": ["alpine:3.20"], "Layers": []}]).encode()
    path = tmp_path / "docker.tar"
    path.write_bytes(images.tar_bytes([images.Entry("manifest.json", "file", manifest)]))
    assert images.archive_image_names(path) == ["alpine:3.20"]

"""cniqs.site.prefill: the build's containerd config, the import's command line, and fill()'s handling of the
daemon (started, waited for, stopped on success and on failure, only the store left behind), here with small
stand-ins for containerd and ctr. The real ones fill every site node image, which the kind tier's nodes use."""

from __future__ import annotations

import sys
import tempfile
import textwrap
from pathlib import Path
from typing import Any

import pytest
import tomllib

from cniqs.site import prefill

# A containerd stand-in: serves a unix socket at the config's address, makes the folders of a containerd root,
# writes its pid, and runs until SIGTERM.
FAKE_CONTAINERD = """\
import os, signal, socket, sys, tomllib
args = sys.argv[1:]
config = tomllib.load(open(args[args.index("--config") + 1], "rb"))
root = args[args.index("--root") + 1]
for folder in ("io.containerd.content.v1.content/blobs", "io.containerd.metadata.v1.bolt",
               "io.containerd.grpc.v1.introspection", "io.containerd.snapshotter.v1.overlayfs/snapshots"):
    os.makedirs(os.path.join(root, folder), exist_ok=True)
open(os.path.join(root, "io.containerd.grpc.v1.introspection", "uuid"), "w").write("one node's\\n")
open(os.path.join(root, "io.containerd.metadata.v1.bolt", "meta.db"), "w").write("db")
open(os.environ["FAKE_PIDFILE"], "w").write(str(os.getpid()))
server = socket.socket(socket.AF_UNIX)
server.bind(config["grpc"]["address"])
signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
signal.pause()
"""

# A ctr stand-in: records its argv; fails when the archive's name says so.
FAKE_CTR = """\
import os, sys
open(os.environ["FAKE_ARGV"], "w").write("\\n".join(sys.argv[1:]))
if sys.argv[-1].endswith("broken.tar"):
    print("ctr: archive is not an OCI layout", file=sys.stderr)
    sys.exit(1)
"""


def tools(tmp_path: Path) -> Path:
    folder = tmp_path / "tools"
    folder.mkdir()
    for name, source in (("containerd", FAKE_CONTAINERD), ("ctr", FAKE_CTR)):
        path = folder / name
        path.write_text(f"#!{sys.executable}\n" + textwrap.dedent(source))
        path.chmod(0o755)
    return folder


def daemon_ended(pidfile: Path) -> bool:
    pid = int(pidfile.read_text())
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(") ")[1].startswith("Z")  # a zombie: ended, not yet reaped
    except FileNotFoundError:
        return True


def test_the_config_has_its_own_sockets_and_no_cri() -> None:
    socket = Path("/tmp/cniqs-prefill-x/containerd.sock")
    parsed = tomllib.loads(prefill.config(socket))
    assert parsed["version"] == 3
    assert parsed["grpc"]["address"] == str(socket)
    assert parsed["ttrpc"]["address"] == f"{socket}.ttrpc"
    assert "io.containerd.grpc.v1.cri" in parsed["disabled_plugins"]


def test_the_images_are_imported_as_kind_imports_them() -> None:
    """Pinned and left packed (the CRI unpacks an image when a container of it is first made), into the CRI's
    namespace, written by ctr itself rather than streamed through containerd's transfer service."""
    argv = prefill.import_argv(Path("/t/ctr"), Path("/s/c.sock"), Path("/a/images.tar"))
    assert argv[:5] == ["/t/ctr", "--address", "/s/c.sock", "--namespace", "k8s.io"]
    assert {"--no-unpack", "--local", "--label=io.cri-containerd.pinned=pinned"} <= set(argv)
    assert argv[-1] == "/a/images.tar"


@pytest.fixture
def fakes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("FAKE_PIDFILE", str(tmp_path / "pid"))
    monkeypatch.setenv("FAKE_ARGV", str(tmp_path / "argv"))
    return tools(tmp_path)


@pytest.fixture
def made(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """The folders fill() makes for its sockets and log (in the system's temp dir: a socket's path is short)."""
    folders: list[Path] = []
    real = tempfile.mkdtemp

    def recording(*args: Any, **kwargs: Any) -> str:
        folder = real(*args, **kwargs)
        folders.append(Path(folder))
        return folder

    monkeypatch.setattr(tempfile, "mkdtemp", recording)
    return folders


def test_fill_imports_then_stops_the_daemon_and_keeps_only_the_store(
    tmp_path: Path, fakes: Path, made: list[Path]
) -> None:
    node = tmp_path / "node"
    prefill.fill(node, tmp_path / "images.tar", fakes)
    root = node / "var/lib/containerd"
    argv = (tmp_path / "argv").read_text().splitlines()
    assert argv[argv.index("--namespace") + 1] == "k8s.io" and argv[-1] == str(tmp_path / "images.tar")
    assert daemon_ended(tmp_path / "pid")
    assert sorted(p.name for p in root.iterdir()) == sorted(prefill.KEEP)  # no uuid shared by every node
    assert (root / "io.containerd.metadata.v1.bolt/meta.db").read_text() == "db"
    # the blobs outside the /var volume (the engine copies /var into each node), the store linking to them
    content = root / "io.containerd.content.v1.content"
    assert content.is_symlink() and str(content.readlink()) == "/kind/containerd-content"
    assert (node / "kind/containerd-content/blobs").is_dir()
    assert made and not [folder for folder in made if folder.exists()]


def test_a_failed_import_says_why_and_still_stops_the_daemon(tmp_path: Path, fakes: Path, made: list[Path]) -> None:
    with pytest.raises(prefill.PrefillError, match="exited 1: .*not an OCI layout"):
        prefill.fill(tmp_path / "node", tmp_path / "broken.tar", fakes)
    assert daemon_ended(tmp_path / "pid")
    assert made and not [folder for folder in made if folder.exists()]


def test_a_containerd_that_cannot_run_is_named(tmp_path: Path, fakes: Path, made: list[Path]) -> None:
    (fakes / "containerd").unlink()
    with pytest.raises(prefill.PrefillError, match="cannot run .*containerd"):
        prefill.fill(tmp_path / "node", tmp_path / "images.tar", fakes)
    assert made and not [folder for folder in made if folder.exists()]


def test_a_daemon_that_cannot_start_is_named_with_its_output(tmp_path: Path, fakes: Path) -> None:
    (fakes / "containerd").write_text("#!/bin/sh\necho 'containerd: root is not writable' >&2\nexit 3\n")
    with pytest.raises(prefill.PrefillError, match="containerd exited 3: containerd: root is not writable"):
        prefill.fill(tmp_path / "node", tmp_path / "images.tar", fakes)

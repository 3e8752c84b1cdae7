"""The DaemonSet manifest and the in-pod installer's logic, on a conf dir and bin dir of the test's own."""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest

from cniqs.common.errors import InstallError
from cniqs.install import executable, nodeinstall
from cniqs.install.conflist import INSTALLED_NAME, chain_entry, render
from cniqs.install.kindnet import KINDNET, kindnet_chain
from cniqs.install.nodefs import LocalFiles
from cniqs.providers.cluster import daemonset
from cniqs.ship import build, embed
from tests.crifake import Runtime, serve
from tests.prereq import require
from tests.test_build import readme_container_dest


def test_manifest_is_least_privilege_on_every_node() -> None:
    ds = daemonset.manifest("img:1", bin_dir="/b", conf_dir="/c", socket="/s.sock")
    spec = ds["spec"]["template"]["spec"]
    assert ds["metadata"]["namespace"] == "kube-system"
    assert spec["automountServiceAccountToken"] is False and "serviceAccountName" not in spec
    assert spec["tolerations"] == [{"operator": "Exists"}]
    assert spec["hostNetwork"] is True, "an installer must not need the pod network it installs"
    paths = {v["name"]: v["hostPath"]["path"] for v in spec["volumes"] if "hostPath" in v}
    assert paths == {"cni-bin": "/b", "cni-conf": "/c", "runtime": "/s.sock"}
    container = spec["containers"][0]
    assert container["lifecycle"]["preStop"]["exec"]["command"][1] == "uninstall"
    assert container["lifecycle"]["preStop"]["exec"]["command"][-1] == "--final"
    assert container["readinessProbe"]["exec"]["command"][1] == "ready"


def test_manifest_passes_an_admins_review() -> None:
    """What admins expect of a CNI installer: no privilege (escalation), every capability dropped (root only
    as owner of the host's CNI dirs), a read-only root filesystem with an emptyDir for the one scratch path
    it writes, the runtime's default seccomp profile, resource requests and limits."""
    spec = daemonset.manifest("img:1")["spec"]["template"]["spec"]
    (container,) = spec["containers"]
    sc = container["securityContext"]
    assert sc["allowPrivilegeEscalation"] is False and sc["privileged"] is False
    assert sc["capabilities"] == {"drop": ["ALL"]}, "no capability is added back"
    assert sc["readOnlyRootFilesystem"] is True
    assert sc["runAsUser"] == 0, "the host's CNI dirs and the runtime socket are root's"
    assert sc["seccompProfile"] == spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert "hostPID" not in spec and "hostIPC" not in spec
    # every path the installer writes is a mount: the host's CNI dirs and its state dir (an emptyDir)
    mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
    volumes = {v["name"]: v for v in spec["volumes"]}
    assert not any(m.get("readOnly") for m in container["volumeMounts"])
    state = mounts[str(nodeinstall.STATE)]
    assert "emptyDir" in volumes[state], f"{nodeinstall.STATE} (the installer's lock and marks) needs a writable mount"
    assert {volumes[mounts[p]]["hostPath"]["path"] for p in ("/host/cni/bin", "/host/cni/net.d")} == {
        "/opt/cni/bin", "/etc/cni/net.d"
    }  # fmt: skip
    for kind in ("requests", "limits"):
        assert set(container["resources"][kind]) == {"cpu", "memory"}, kind
    assert parse_quantity(container["resources"]["requests"]["memory"]) <= parse_quantity(
        container["resources"]["limits"]["memory"]
    )


def parse_quantity(text: str) -> int:
    units = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30}
    return int(text[:-2]) * units[text[-2:]] if text[-2:] in units else int(text)


def test_the_installer_keeps_its_scratch_in_its_state_dir(tmp_path: Path, node: tuple[Path, Path, Path]) -> None:
    """Under a read-only root filesystem only the mounts are writable: the lock and the final mark go to
    --state (the manifest's emptyDir at the default, /tmp)."""
    bin_dir, conf_dir, plugin = node
    state = tmp_path / "state"
    state.mkdir()
    entry = json.dumps(chain_entry())
    common = ["--bin", str(bin_dir), "--conf", str(conf_dir), "--state", str(state)]
    assert nodeinstall.main(["install", *common, "--plugin", str(plugin), "--entry", entry, "--once"]) == 0
    assert nodeinstall.main(["uninstall", *common, "--final"]) == 0
    assert sorted(p.name for p in state.iterdir()) == sorted([nodeinstall.FINAL, nodeinstall.LOCK])


@pytest.fixture
def node(tmp_path: Path) -> tuple[Path, Path, Path]:
    bin_dir, conf_dir, plugin = tmp_path / "bin", tmp_path / "net.d", tmp_path / "build" / "cni-quickstart"
    bin_dir.mkdir()
    conf_dir.mkdir()
    (plugin / "_internal").mkdir(parents=True)
    (plugin / "cni-quickstart").write_bytes(b"\x7fELF plugin")
    (plugin / "_internal" / "x.so").write_bytes(b"so")
    (conf_dir / "10-kindnet.conflist").write_text(render(kindnet_chain(KINDNET, ["10.244.0.0/24"], "/x")))
    return bin_dir, conf_dir, plugin


def test_apply_installs_once_then_finds_its_own_work(node: tuple[Path, Path, Path]) -> None:
    bin_dir, conf_dir, plugin = node
    entry = chain_entry()
    assert nodeinstall.apply(LocalFiles(), str(bin_dir), str(conf_dir), plugin, entry) == "installed"
    assert (bin_dir / "cni-quickstart").resolve() == (bin_dir / "cni-quickstart.d" / "cni-quickstart").resolve()
    assert json.loads((conf_dir / INSTALLED_NAME).read_text())["plugins"][-1] == entry
    assert nodeinstall.apply(LocalFiles(), str(bin_dir), str(conf_dir), plugin, entry) == "in place"


def test_a_refused_node_is_left_exactly_as_it_was(node: tuple[Path, Path, Path]) -> None:
    bin_dir, conf_dir, plugin = node
    (conf_dir / "00-aaa.conflist").write_text('{"cniVersion": "0.3.1", "name": "x", "plugins": [{"type": "y"}]}')
    before = sorted(p.name for p in [*bin_dir.iterdir(), *conf_dir.iterdir()])
    with pytest.raises(InstallError, match="sorts before"):
        nodeinstall.apply(LocalFiles(), str(bin_dir), str(conf_dir), plugin, chain_entry())
    assert sorted(p.name for p in [*bin_dir.iterdir(), *conf_dir.iterdir()]) == before


def test_uninstall_removes_exactly_what_install_added(node: tuple[Path, Path, Path]) -> None:
    bin_dir, conf_dir, plugin = node
    before = sorted(p.name for p in [*bin_dir.iterdir(), *conf_dir.iterdir()])
    nodeinstall.apply(LocalFiles(), str(bin_dir), str(conf_dir), plugin, chain_entry())
    assert nodeinstall.main(["uninstall", "--bin", str(bin_dir), "--conf", str(conf_dir)]) == 0
    assert sorted(p.name for p in [*bin_dir.iterdir(), *conf_dir.iterdir()]) == before


def test_after_the_final_uninstall_the_running_install_never_applies_again(
    node: tuple[Path, Path, Path], tmp_path: Path
) -> None:
    """The DaemonSet's pod: `install` keeps re-applying while preStop's `uninstall --final` runs; once that
    is done the node stays as before the install (the flake this fixed: an apply after the uninstall)."""
    import os
    import subprocess
    import sys
    import time

    bin_dir, conf_dir, plugin = node
    state = tmp_path / "state"
    state.mkdir()
    before = sorted(p.name for p in [*bin_dir.iterdir(), *conf_dir.iterdir()])
    dirs = ["--bin", str(bin_dir), "--conf", str(conf_dir), "--state", str(state)]
    entry = json.dumps(chain_entry())
    argv = [
        sys.executable,
        "-m",
        "cniqs.install.nodeinstall",
        "install",
        *dirs,
        "--plugin",
        str(plugin),
        "--entry",
        entry,
    ]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    proc = subprocess.Popen(argv, stderr=subprocess.PIPE, text=True, env=env)
    try:
        deadline = time.monotonic() + 30
        while not (conf_dir / INSTALLED_NAME).exists():
            assert proc.poll() is None and time.monotonic() < deadline, "install never applied"
            time.sleep(0.05)
        assert nodeinstall.main(["uninstall", *dirs, "--final"]) == 0
        assert proc.wait(timeout=30) == 0, "install went on after the final uninstall"
        assert sorted(p.name for p in [*bin_dir.iterdir(), *conf_dir.iterdir()]) == before
        assert "not applying again" in (proc.stderr.read() if proc.stderr else "")
    finally:
        proc.kill()
        proc.wait()


# `ready`: the runtime's loaded chain, asked over CRI with the standard library (no crictl in the image)


@pytest.fixture
def runtime() -> Iterator[tuple[str, Runtime]]:
    with serve() as both:
        yield both


def ready(socket: str, state: Path, entry: dict[str, object] | None = None) -> int:
    args = ["ready", "--socket", socket, "--state", str(state), "--timeout", "5"]
    return nodeinstall.main([*args, "--entry", json.dumps(entry)] if entry is not None else args)


def test_ready_when_the_runtime_has_loaded_the_chain_ending_in_the_entry(
    runtime: tuple[str, Runtime], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    socket, cri = runtime
    entry = chain_entry()
    base = kindnet_chain(KINDNET, ["10.244.0.0/24"], "/x")
    cri.load(base)
    assert ready(socket, tmp_path, entry) == 1
    assert "the runtime has not loaded the chain with cni-quickstart yet" in capsys.readouterr().err
    cri.load({**base, "plugins": [*base["plugins"], entry]})
    assert ready(socket, tmp_path, entry) == 0
    assert ready(socket, tmp_path) == 0, "without --entry: cni-quickstart anywhere in the loaded chain"
    other = {**entry, "fakeIPv4": "192.0.2.0/24"}
    assert ready(socket, tmp_path, other) == 1, "another entry than the one installed is not this install"
    assert cri.verbose and all(cri.verbose), "the cniconfig is only in Status's verbose info"


def test_not_ready_when_the_runtime_cannot_say(
    runtime: tuple[str, Runtime], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    socket, cri = runtime
    cri.info = {"config": "{}"}  # a CRI runtime that reports no cniconfig
    assert ready(socket, tmp_path, chain_entry()) == 1
    assert "has no cniconfig" in capsys.readouterr().err
    cri.fail = grpc.StatusCode.UNAVAILABLE
    assert ready(socket, tmp_path, chain_entry()) == 1
    assert f"CRI Status on {socket} failed" in capsys.readouterr().err
    assert ready(str(tmp_path / "none.sock"), tmp_path, chain_entry()) == 1
    assert f"cannot connect to {tmp_path}/none.sock" in capsys.readouterr().err


def test_a_refused_node_is_not_ready_whatever_the_runtime_says(
    runtime: tuple[str, Runtime], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    socket, cri = runtime
    entry = chain_entry()
    base = kindnet_chain(KINDNET, ["10.244.0.0/24"], "/x")
    cri.load({**base, "plugins": [*base["plugins"], entry]})
    (tmp_path / nodeinstall.NOT_READY).write_text("00-aaa.conflist sorts before\n")
    assert ready(socket, tmp_path, entry) == 1
    assert "not ready: 00-aaa.conflist sorts before" in capsys.readouterr().err


# The installer image: put together from one node build (native or the container build), nothing built here

# The first 20 bytes of an aarch64 ELF executable (64-bit, little-endian, e_machine 183)
ARM64_ELF = bytes.fromhex("7f454c460201010000000000000000000200b700")


def fake_node_build(folder: Path, elf: bytes = ARM64_ELF) -> Path:
    """What plugin/Dockerfile exports for linux/arm64 (as on an Apple silicon Mac), with stand-in contents."""
    for name in (executable.NAME, build.INSTALLER_NAME):
        (folder / name / "lib").mkdir(parents=True)
        (folder / name / name).write_bytes(elf + name.encode())
        (folder / name / name).chmod(0o755)
        (folder / name / "lib" / "libpython3.11.so.1.0").write_bytes(elf + b"libpython")
    (folder / build.LIBC / "lib" / "aarch64-linux-gnu").mkdir(parents=True)
    (folder / build.LIBC / "lib" / "ld-linux-aarch64.so.1").write_bytes(elf + b"loader")
    (folder / build.LIBC / "lib" / "aarch64-linux-gnu" / "libc.so.6").write_bytes(elf + b"libc")
    return folder / executable.NAME


def layer_of(archive: Path) -> tuple[dict[str, Any], dict[str, bytes | None]]:
    """(image config, {path: content or None for dirs and links}) of a one-layer OCI archive."""
    with tarfile.open(archive) as tar:

        def blob(digest: str) -> bytes:
            fh = tar.extractfile(f"blobs/sha256/{digest.split(':', 1)[1]}")
            assert fh is not None
            return fh.read()

        index = json.loads(tar.extractfile("index.json").read())  # type: ignore[union-attr]
        manifest = json.loads(blob(index["manifests"][0]["digest"]))
        config = json.loads(blob(manifest["config"]["digest"]))
        layer = blob(manifest["layers"][0]["digest"])
    with tarfile.open(fileobj=io.BytesIO(layer)) as tar:
        files = {m.name: (tar.extractfile(m).read() if m.isfile() else None) for m in tar.getmembers()}  # type: ignore[union-attr]
    return config, files


def test_the_image_is_put_together_from_a_node_build_with_nothing_built_or_run_here(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """On a Mac with the container build of README step 2: no Go (crictl was built with it), no PyInstaller,
    no ldd, no process at all; the image is for the build's architecture, not this host's."""
    step2 = tmp_path / "build" / "container" / "linux-arm64"
    fake_node_build(step2)

    def no_process(argv: Any, *args: Any, **kwargs: Any) -> Any:
        pytest.fail(f"the image build ran {argv!r}")

    monkeypatch.setattr(subprocess, "run", no_process)
    monkeypatch.setattr(subprocess, "Popen", no_process)
    monkeypatch.setattr(sys, "platform", "darwin")
    monkeypatch.setenv("PATH", str(tmp_path / "nothing"))  # no go, no ldd, no docker
    assert daemonset.main(["build", "--from", str(step2), "--out", str(tmp_path / "out")]) == 0
    archive, name = capsys.readouterr().out.strip().split("\t")
    config, files = layer_of(Path(archive))
    assert name.startswith(f"{daemonset.IMAGE_REPO}:") and Path(archive).parent == tmp_path / "out"
    assert config["architecture"] == "arm64" and config["os"] == "linux"
    assert config["config"]["Cmd"] == ["/installer/cniqs-installer", "--help"]
    assert files["plugin/cni-quickstart"] == ARM64_ELF + b"cni-quickstart"
    assert files["installer/cniqs-installer"] == ARM64_ELF + b"cniqs-installer"
    assert files["lib/ld-linux-aarch64.so.1"] == ARM64_ELF + b"loader", "the C library at its paths on the builder"
    assert files["lib/aarch64-linux-gnu/libc.so.6"] == ARM64_ELF + b"libc"
    assert not [f for f in files if "crictl" in f], "the node has a crictl, the installer needs none"
    libc = {"lib", "lib/aarch64-linux-gnu", "lib/ld-linux-aarch64.so.1", "lib/aarch64-linux-gnu/libc.so.6"}
    assert set(files) - libc - {"tmp"} == {f for f in files if f.startswith(("plugin", "installer"))}


def test_the_image_tag_follows_every_file_it_holds(tmp_path: Path) -> None:
    plugin = fake_node_build(tmp_path / "a")
    first = daemonset.build_image(plugin, tmp_path / "out").name
    assert daemonset.build_image(plugin, tmp_path / "out").name == first
    (build.libc_of(plugin) / "lib" / "aarch64-linux-gnu" / "libc.so.6").write_bytes(ARM64_ELF + b"other libc")
    assert daemonset.build_image(plugin, tmp_path / "out").name != first


def test_without_a_node_build_it_says_what_to_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(sys, "platform", "darwin")
    monkeypatch.setattr(daemonset.build, "build_local", lambda **_: pytest.fail("no native build on a Mac"))
    assert daemonset.main(["build"]) == 1
    err = capsys.readouterr().err
    arch = build.host_arch()
    dest = readme_container_dest(arch)
    assert "this host is darwin, the native build needs Linux" in err
    assert f"docker buildx build --platform linux/{arch} -f plugin/Dockerfile --output type=local,dest={dest} ." in err
    assert f"python -m cniqs.providers.cluster.daemonset build --from {dest}" in err
    # A container build from before the installer was built beside the plugin: what it lacks, what to run
    old = tmp_path / "old"
    fake_node_build(old)
    shutil.rmtree(old / build.INSTALLER_NAME)
    assert daemonset.main(["build", "--from", str(old)]) == 1
    err = capsys.readouterr().err
    assert f"{old} is not a node build of this tree (no cniqs-installer/cniqs-installer" in err
    assert "docker buildx build --platform linux/arm64 -f plugin/Dockerfile" in err


@pytest.fixture(scope="module")
def real_build() -> Path:
    """This machine's node build (the plugin's folder), as `python -m cniqs.ship.build` and the Dockerfile make it."""
    require(embed.missing())
    require(None if shutil.which("ldd") else "no ldd (the node build lists the C library with it)")
    return build.build_local()


def test_the_embedded_installer_runs_its_commands_and_asks_the_runtime_itself(
    real_build: Path, runtime: tuple[str, Runtime], node: tuple[Path, Path, Path], tmp_path: Path
) -> None:
    """The installer as the image holds it (frozen into embedded CPython, no grpcio, no crictl): install, ready
    over CRI against a real gRPC server, uninstall."""
    socket, cri = runtime
    exe = str(build.installer_of(real_build) / build.INSTALLER_NAME)
    bin_dir, conf_dir, plugin = node
    state = tmp_path / "state"
    state.mkdir()
    entry = chain_entry()
    dirs = ["--bin", str(bin_dir), "--conf", str(conf_dir), "--state", str(state)]

    def installer(*args: str) -> subprocess.CompletedProcess[str]:
        env = {"PATH": "/usr/bin:/bin"}
        return subprocess.run([exe, *args], capture_output=True, text=True, env=env, timeout=60)

    done = installer("install", *dirs, "--plugin", str(plugin), "--entry", json.dumps(entry), "--once")
    assert done.returncode == 0, done.stderr
    installed = json.loads((conf_dir / INSTALLED_NAME).read_text())
    cri.load(installed)
    probe = ["ready", "--socket", socket, "--state", str(state), "--entry", json.dumps(entry), "--timeout", "10"]
    assert installer(*probe).returncode == 0, installer(*probe).stderr
    cri.load(kindnet_chain(KINDNET, ["10.244.0.0/24"], "/x"))
    not_yet = installer(*probe)
    assert not_yet.returncode == 1 and "has not loaded the chain" in not_yet.stderr, not_yet
    assert installer("uninstall", *dirs, "--final").returncode == 0
    assert not (conf_dir / INSTALLED_NAME).exists()


def test_the_image_alone_runs_the_installer(real_build: Path, runtime: tuple[str, Runtime]) -> None:
    """The image's files are all the installer needs: its C library is the build's, not the node's (run in a
    chroot of the layer; root only)."""
    require(None if os.geteuid() == 0 and shutil.which("chroot") else "needs root and chroot")
    image = daemonset.build_image(real_build, Path(tempfile.mkdtemp(prefix="cniqs-img-")))
    config, files = layer_of(image.archive)
    assert config["architecture"] == build.host_arch()
    chroot = str(shutil.which("chroot"))
    root = Path(tempfile.mkdtemp(prefix="cniqs-root-"))
    try:
        for path, content in sorted(files.items()):
            target = root / path
            if content is None:
                target.mkdir(parents=True, exist_ok=True)
            else:
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(content)
                target.chmod(0o755)
        (root / "run").mkdir()
        with serve(root / "run" / "cri.sock") as (_, cri):
            cri.load(None)
            argv = [chroot, str(root), "/installer/cniqs-installer", "ready", "--socket", "/run/cri.sock"]
            proc = subprocess.run(argv, capture_output=True, text=True, env={}, timeout=60)
        assert proc.returncode == 1 and "has not loaded the chain with cni-quickstart" in proc.stderr, proc
        help_ = subprocess.run([chroot, str(root), *config["config"]["Cmd"]], capture_output=True, text=True, env={})
        assert help_.returncode == 0 and "uninstall" in help_.stdout, help_
    finally:
        shutil.rmtree(root, ignore_errors=True)
        shutil.rmtree(image.archive.parent, ignore_errors=True)

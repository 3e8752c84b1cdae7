"""Installing the plugin on kind nodes, against the fake docker."""

from __future__ import annotations

import base64
import io
import json
import tarfile
import threading
from collections.abc import Sequence
from pathlib import Path

import pytest

from cniqs.common.run import CommandError, Completed
from cniqs.install import conflist, executable
from cniqs.provider import Targets
from cniqs.providers.cluster import daemonset, install
from cniqs.providers.cluster.backend import ClusterBackend
from cniqs.providers.cluster.commands import UNPACK
from cniqs.providers.cluster.nodes import Nodes, NodeShellFiles, platform
from cniqs.providers.kind.commands import DOCKER
from cniqs.ship import build
from tests.kind.fakes import FakeDocker, FakeNode, in_turn_commands, kindnet_conflist, on_docker

ENTRY = conflist.chain_entry(fakeIPv4="192.0.2.0/24")


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """A stand-in for the one-folder build."""
    root = tmp_path / "cni-quickstart"
    (root / "_internal" / "lib").mkdir(parents=True)
    (root / "cni-quickstart").write_bytes(b"\x7fELF fake executable")
    (root / "_internal" / "base_library.zip").write_bytes(b"zip")
    (root / "_internal" / "lib" / "x.so").write_bytes(b"so")
    return root


def cluster(*subnets: str) -> tuple[FakeDocker, dict[str, FakeNode]]:
    nodes = {}
    for n, subnet in enumerate(subnets):
        node = FakeNode()
        node.files["/etc/cni/net.d/10-kindnet.conflist"] = kindnet_conflist(subnet).encode()
        node.files["/opt/cni/bin/ptp"] = b"ptp"
        nodes["kind-control-plane" if n == 0 else f"kind-worker{n if n > 1 else ''}"] = node
    return FakeDocker(nodes), nodes


def test_binary_steps_copy_then_swap_then_relink(folder: Path) -> None:
    recorded: list[tuple[list[str], str | None]] = []

    def run(argv: Sequence[str], *, input: str | None = None, timeout: float | None = None) -> Completed:
        recorded.append((list(argv), input))
        return Completed(list(argv), 1 if "test -e" in " ".join(argv) else 0, "", "")  # nothing is installed yet

    executable.install_executable(NodeShellFiles(Nodes(run, DOCKER), "n"), folder, install.BIN_DIR)
    assert len(recorded) == 2  # the look whether something is installed already, then one exec for the rest
    argv, data = recorded[1]
    assert argv[:3] == ["docker", "exec", "-i"]  # the archive goes on its stdin
    steps = in_turn_commands(argv[-1])
    assert [c[0] for c in steps] == ["rm", "sh", "rm", "mv", "rm", "ln", "mv"]
    assert steps[0] == ["rm", "-rf", "--", install.TMP_FOLDER]
    assert steps[1] == ["sh", "-c", UNPACK, "sh", install.TMP_FOLDER]  # the copy, after the stale temp went
    assert steps[3] == ["mv", "-f", "-T", "--", install.TMP_FOLDER, install.FOLDER]
    assert steps[-1][-2:] == [install.TMP_LINK, install.LINK]
    assert data is not None
    with tarfile.open(fileobj=io.BytesIO(base64.b64decode(data))) as tar:
        members = {m.name: m for m in tar.getmembers()}
        assert tar.extractfile(members["./cni-quickstart"]).read() == b"\x7fELF fake executable"  # type: ignore[union-attr]
    assert {m.uid for m in members.values()} == {0}
    # The temp names live in the bin dir (same filesystem: the renames are atomic) and are hidden.
    for tmp in (install.TMP_FOLDER, install.TMP_LINK):
        assert tmp.startswith(install.BIN_DIR + "/.")


def test_install_on_every_node(folder: Path) -> None:
    run, nodes = cluster("10.244.0.0/24", "10.244.1.0/24", "10.244.2.0/24")
    expected = executable.manifest(folder)
    for name in nodes:
        assert platform(on_docker(run), name) == "linux/amd64"
        installed, plan = install.install(on_docker(run), name, folder, expected, ENTRY)
        assert installed.binary and installed.conflist == "/etc/cni/net.d/00-cni-quickstart.conflist"
        assert plan is not None
    for name, node in nodes.items():
        assert node.links[install.LINK] == "cni-quickstart.d/cni-quickstart"
        assert node.files[f"{install.FOLDER}/_internal/lib/x.so"] == b"so"
        assert install.chain_state(on_docker(run), name, ENTRY)[0]
        assert not any(p.startswith(install.TMP_FOLDER) for p in node.files)
    subnets = {
        json.loads(n.files["/etc/cni/net.d/00-cni-quickstart.conflist"])["plugins"][0]["ipam"]["ranges"][0][0]["subnet"]
        for n in nodes.values()
    }
    assert subnets == {"10.244.0.0/24", "10.244.1.0/24", "10.244.2.0/24"}


def test_a_damaged_copy_is_caught(folder: Path) -> None:
    run, nodes = cluster("10.244.0.0/24")
    nodes["kind-control-plane"].corrupt.add("_internal/lib/x.so")
    with pytest.raises(install.NodeInstallError, match=r"_internal/lib/x.so: sha256 .* on the node"):
        install.install_binary(on_docker(run), "kind-control-plane", folder, executable.manifest(folder))


def test_a_foreign_cni_quickstart_is_left_alone(folder: Path) -> None:
    run, nodes = cluster("10.244.0.0/24")
    nodes["kind-control-plane"].files[install.LINK] = b"someone else's"
    with pytest.raises(install.NodeInstallError, match="not cni-quickstart's symlink"):
        install.install_binary(on_docker(run), "kind-control-plane", folder, executable.manifest(folder))
    assert install.uninstall_binary(on_docker(run), "kind-control-plane") is False
    assert nodes["kind-control-plane"].files[install.LINK] == b"someone else's"


def test_uninstall_removes_only_what_install_added(folder: Path) -> None:
    run, nodes = cluster("10.244.0.0/24", "10.244.1.0/24")
    before = {name: (dict(n.files), dict(n.links)) for name, n in nodes.items()}
    for name in nodes:
        install.install(on_docker(run), name, folder, executable.manifest(folder), ENTRY)
    for name in nodes:
        assert install.uninstall_conflist(on_docker(run), name)
        assert install.chain_state(on_docker(run), name, None)[0]
        assert install.uninstall_binary(on_docker(run), name)
    for name, node in nodes.items():
        assert (node.files, node.links) == before[name]
        assert install.FOLDER not in node.dirs


def test_reinstall_over_our_own_install(folder: Path) -> None:
    run, nodes = cluster("10.244.0.0/24")
    expected = executable.manifest(folder)
    install.install(on_docker(run), "kind-control-plane", folder, expected, ENTRY)
    other = {**ENTRY, "fakeIPv4": "198.51.100.0/24"}
    _, plan = install.install(on_docker(run), "kind-control-plane", folder, expected, other)
    assert plan is not None
    assert install.chain_state(on_docker(run), "kind-control-plane", other)[0]
    assert not install.chain_state(on_docker(run), "kind-control-plane", ENTRY)[0]


def test_a_node_without_cni_config_is_refused(folder: Path) -> None:
    run = FakeDocker({"n": FakeNode()})
    with pytest.raises(conflist.InstallError, match="no CNI config"):
        install.install(on_docker(run), "n", folder, executable.manifest(folder), ENTRY)


def test_an_unrunnable_executable_is_reported(folder: Path) -> None:
    run, nodes = cluster("10.244.0.0/24")
    original = run.exec

    def broken(argv, node, cmd, stdin, env):  # type: ignore[no-untyped-def]
        if cmd[0] == install.LINK:
            return original(argv, node, ["false-command"], stdin, env)
        return original(argv, node, cmd, stdin, env)

    run.exec = broken  # type: ignore[method-assign]
    with pytest.raises(
        install.NodeInstallError,
        match=r"kind-control-plane: /opt/cni/bin/cni-quickstart VERSION failed \(exit 127\): .*false-command",
    ):
        install.install_binary(on_docker(run), "kind-control-plane", folder, executable.manifest(folder))


def test_a_build_needing_a_newer_glibc_is_refused_before_any_config_is_written(folder: Path) -> None:
    run, nodes = cluster("10.244.0.0/24")
    nodes["kind-control-plane"].glibc_too_old = True
    (folder / "_internal" / "libpython3.so").write_bytes(b"\0GLIBC_2.34\0GLIBC_2.38\0GLIBC_2.17\0")
    with pytest.raises(install.NodeInstallError, match=r"needs glibc 2\.38 but the node has glibc 2\.36"):
        install.install(on_docker(run), "kind-control-plane", folder, executable.manifest(folder), ENTRY)
    assert "/etc/cni/net.d/00-cni-quickstart.conflist" not in nodes["kind-control-plane"].files


def test_the_glibc_floor_is_checked_before_anything_is_copied(folder: Path) -> None:
    """The node's glibc against the build's floor (check_glibc), before the executable reaches the node; a
    build no newer than the node's C library goes in."""
    run, nodes = cluster("10.244.0.0/24")
    nodes["kind-control-plane"].glibc = "2.36"
    (folder / "_internal" / "libpython3.so").write_bytes(b"\0GLIBC_2.34\0GLIBC_2.41\0")
    with pytest.raises(install.NodeInstallError, match=r"needs glibc 2\.41 but the node has glibc 2\.36"):
        install.install_binary(on_docker(run), "kind-control-plane", folder, executable.manifest(folder))
    assert not [c for c in run.calls if c[:2] == ["docker", "cp"]], "nothing may be copied to the node"
    assert install.FOLDER not in nodes["kind-control-plane"].dirs
    nodes["kind-control-plane"].glibc = "2.41"
    install.install_binary(on_docker(run), "kind-control-plane", folder, executable.manifest(folder))
    assert f"{install.FOLDER}/cni-quickstart" in nodes["kind-control-plane"].files


def test_the_daemonset_refuses_a_node_with_an_older_glibc_before_loading_its_image(
    folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The installer image carries the plugin built on this machine: its floor against every node's glibc,
    with the plain install's check, before the image is copied to any node or the DaemonSet applied."""
    run, nodes = cluster("10.244.0.0/24")
    nodes["kind-worker"] = FakeNode(glibc="2.41")
    nodes["kind-control-plane"].glibc = "2.36"
    (folder / "_internal" / "libpython3.so").write_bytes(b"\0GLIBC_2.38\0")
    archive = tmp_path / "installer.oci.tar"
    archive.write_bytes(b"oci")
    image = daemonset.InstallerImage(archive, "cniqs.local/cniqs-installer:0123456789ab", folder)
    built: list[tuple[str, bool]] = []
    images: list[Path] = []
    monkeypatch.setattr(daemonset, "build_image", lambda plugin, out=None: images.append(plugin) or image)
    kube = ClusterBackend.__new__(ClusterBackend)  # no API server: the refusal comes before any API call
    kube.shell, kube.run, kube.rebuild, kube.loaded_images = on_docker(run), run, False, []
    kube.builder = lambda arch, force: built.append((arch, force)) or folder
    kube.nodes, kube.archs, kube.glibc = ["kind-worker", "kind-control-plane"], {}, {}
    with pytest.raises(install.NodeInstallError) as exc:
        kube.install_daemonset_nowait(ENTRY)
    assert "kind-control-plane: the plugin executable needs glibc 2.38 but the node has glibc 2.36" in str(exc.value)
    assert "installer image carries the plugin built on this machine" in str(exc.value)
    assert kube.loaded_images == [] and not [c for c in run.calls if c[:2] == ["docker", "cp"]]
    # The image holds the provider's build for the nodes' architecture (kind: native, else the container build)
    assert built == [("amd64", False)] and images == [folder]


def test_the_daemonset_is_built_for_one_architecture(folder: Path) -> None:
    run, nodes = cluster("10.244.0.0/24")
    nodes["kind-worker"] = FakeNode(machine="aarch64")
    kube = ClusterBackend.__new__(ClusterBackend)
    kube.shell, kube.run, kube.rebuild, kube.loaded_images = on_docker(run), run, False, []
    kube.builder = lambda arch, force: pytest.fail("built for mixed nodes")
    kube.nodes, kube.archs, kube.glibc = ["kind-worker", "kind-control-plane"], {}, {}
    with pytest.raises(RuntimeError, match=r"one architecture; these nodes run \['amd64', 'arm64'\]"):
        kube.install_daemonset_nowait(ENTRY)


def test_required_glibc_is_the_newest_symbol_version(folder: Path) -> None:
    assert build.required_glibc(folder) is None
    (folder / "_internal" / "lib" / "y.so").write_bytes(b"GLIBC_2.9\0GLIBC_2.28\0GLIBC_2.3.4")
    assert build.required_glibc(folder) == "2.28"


def test_arm_nodes_map_to_arm64() -> None:
    run = FakeDocker({"mac": FakeNode(machine="aarch64")})
    assert platform(on_docker(run), "mac") == "linux/arm64"


def copies(run: FakeDocker) -> int:
    """How many execs unpacked an archive on a node (a copy)."""
    return sum(1 for call in run.calls if any(UNPACK in word for word in call))


def test_an_intact_install_is_not_copied_again(folder: Path) -> None:
    run, nodes = cluster("10.244.0.0/24")
    expected = executable.manifest(folder)
    install.install_binary(on_docker(run), "kind-control-plane", folder, expected)
    assert copies(run) == 1
    install.install_binary(on_docker(run), "kind-control-plane", folder, expected)
    assert copies(run) == 1
    nodes["kind-control-plane"].files[f"{install.FOLDER}/_internal/lib/x.so"] = b"tampered"
    install.install_binary(on_docker(run), "kind-control-plane", folder, expected)
    assert copies(run) == 2
    assert nodes["kind-control-plane"].files[f"{install.FOLDER}/_internal/lib/x.so"] == b"so"


def test_a_batch_sends_one_copy_per_exec_and_a_copy_outside_one_on_its_own(folder: Path, tmp_path: Path) -> None:
    docker, nodes = cluster("10.244.1.0/24")
    files = NodeShellFiles(on_docker(docker), "kind-control-plane")
    with files.batch():
        files.copy_tree(folder, "/d/one")
        files.copy_tree(folder, "/d/two")  # the exec's stdin holds one archive: the first copy goes now
        assert copies(docker) == 1
    assert copies(docker) == 2 and len(docker.calls) == 2
    files.copy_tree(folder, "/d/three")
    assert len(docker.calls) == 3
    node = nodes["kind-control-plane"]
    for dest in ("/d/one", "/d/two", "/d/three"):
        assert node.files[f"{dest}/_internal/lib/x.so"] == b"so"
    with pytest.raises(CommandError, match="copy .* to /d/one"):
        files.copy_tree(folder, "/d/one")  # the destination must not exist yet


def test_a_batch_sends_its_changes_in_one_exec_before_any_read_and_at_its_end() -> None:
    docker, nodes = cluster("10.244.1.0/24")
    node = nodes["kind-control-plane"]
    node.files["/d/a"] = b"a"
    files = NodeShellFiles(on_docker(docker), "kind-control-plane")
    with files.batch():
        files.rename("/d/a", "/d/b")
        files.symlink("b", "/d/l")
        assert docker.calls == []  # held
        assert files.read_text("/d/b") == "a"  # a read sees what was held: it went first, in one exec
        assert len(docker.calls) == 2
        files.remove("/d/b")
    assert len(docker.calls) == 3  # the one change left went at the end, on its own
    assert "/d/b" not in node.files
    assert node.links["/d/l"] == "b"


def test_a_failing_change_in_a_batch_raises_and_the_ones_after_it_are_not_made() -> None:
    docker, nodes = cluster("10.244.1.0/24")
    files = NodeShellFiles(on_docker(docker), "kind-control-plane")
    with pytest.raises(CommandError, match="rename /missing"), files.batch():
        files.rename("/missing", "/d/x")
        files.symlink("x", "/d/l")
    assert "/d/l" not in nodes["kind-control-plane"].links


def test_an_error_inside_a_batch_sends_nothing_it_held() -> None:
    docker, _ = cluster("10.244.1.0/24")
    files = NodeShellFiles(on_docker(docker), "kind-control-plane")
    with pytest.raises(RuntimeError, match="stop"), files.batch():
        files.remove("/d/a")
        raise RuntimeError("stop")
    assert docker.calls == []


def test_a_node_glibc_read_before_is_not_asked_again(folder: Path) -> None:
    run, _ = cluster("10.244.0.0/24")
    (folder / "_internal" / "libpython3.so").write_bytes(b"\0GLIBC_2.38\0")
    glibc = install.node_glibc(on_docker(run), "kind-control-plane")
    asked = len(run.calls)
    with pytest.raises(install.NodeInstallError, match="needs glibc 2.38 but the node has glibc 2.36"):
        install.check_glibc(on_docker(run), "kind-control-plane", folder, glibc=glibc)
    assert len(run.calls) == asked


def test_whether_a_path_exists_is_learned_with_its_link_and_forgotten_at_a_change() -> None:
    docker, nodes = cluster("10.244.1.0/24")
    files = NodeShellFiles(on_docker(docker), "kind-control-plane")
    assert files.readlink("/d/l") is None
    asked = len(docker.calls)
    assert files.exists("/d/l") is False and len(docker.calls) == asked  # answered by the readlink
    files.symlink("t", "/d/l")
    assert files.exists("/d/l") is True and len(docker.calls) == asked + 2  # the change made it ask again


def test_what_the_targets_wait_for_runs_once_at_the_first_look() -> None:
    backend = ClusterBackend.__new__(ClusterBackend)
    targets = Targets(ip="192.0.2.1", name="target.example", url=None)
    backend._targets, backend._before_targets, backend._targets_lock = targets, None, threading.Lock()
    settled: list[int] = []
    backend.before_targets(lambda: settled.append(1))
    assert settled == []
    assert backend.targets is targets and backend.targets is targets
    assert settled == [1]

"""kind on podman: engine choice, podman command lines, the prerequisites and version logic, the node image's
pure parts (node files, image list, cache key). Nothing here runs podman or kind."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Sequence
from pathlib import Path

import pytest
import tomllib
import yaml

from cniqs import kubebin
from cniqs.common.run import Completed
from cniqs.providers.kind import cluster, commands, nodefiles, nodeimage, options, versions
from cniqs.providers.kind import podman as kind_podman

# --- engine choice and command lines ---------------------------------------------------------------------


def which_of(found: dict[str, str]):  # type: ignore[no-untyped-def]
    return found.get


@pytest.mark.parametrize(
    ("env", "found", "engine"),
    [
        ({}, {"docker": "/d", "podman": "/p"}, "docker"),
        ({}, {"podman": "/p"}, "podman"),
        ({}, {}, "docker"),
        ({"KIND_EXPERIMENTAL_PROVIDER": "podman"}, {"docker": "/d", "podman": "/p"}, "podman"),
        ({"KIND_EXPERIMENTAL_PROVIDER": "docker"}, {"podman": "/p"}, "docker"),
        ({"KIND_EXPERIMENTAL_PROVIDER": "nerdctl"}, {"docker": "/d"}, "docker"),
    ],
)
def test_engine_follows_kind(env: dict[str, str], found: dict[str, str], engine: str) -> None:
    assert commands.engine(env, which_of(found)) == engine


def test_podman_access_is_docker_access_with_podman() -> None:
    access = commands.access("podman")
    assert access.exec_argv("n1", ["crictl", "ps"], stdin=True, env={"A": "1"}) == [
        "podman", "exec", "-i", "-e", "A=1", "n1", "crictl", "ps",
    ]  # fmt: skip
    assert access.copy_argv("/tmp/x", "n1", "/opt/x") == ["podman", "cp", "/tmp/x", "n1:/opt/x"]
    assert commands.access("docker") is commands.DOCKER
    assert commands.access("docker").exec_argv("n1", ["true"]) == ["docker", "exec", "n1", "true"]


def test_podman_command_lines() -> None:
    assert commands.podman_info() == ["podman", "info", "--format", "{{.Host.OCIRuntime.Name}}"]
    assert commands.podman_target_run("t1", "kind", "img:1", ["/bin/busybox", "httpd"]) == [
        "podman", "run", "-d", "--name", "t1", "--network", "kind", "--label", "cniqs=target", "img:1",
        "/bin/busybox", "httpd",
    ]  # fmt: skip
    assert commands.podman_rm("t1") == ["podman", "rm", "-f", "-t", "0", "t1"]
    assert commands.podman_inspect_ip("t1")[:3] == ["podman", "inspect", "-f"]
    assert commands.podman_network_exists("kind") == ["podman", "network", "exists", "kind"]
    # never -f: a network still in use by someone's containers stays
    assert commands.podman_network_rm("kind") == ["podman", "network", "rm", "kind"]


# --- prerequisites -------------------------------------------------------------------------------------


def podman_run(rc: int = 0, stderr: str = ""):  # type: ignore[no-untyped-def]
    calls: list[list[str]] = []

    def run(argv: Sequence[str], *, input: str | None = None, timeout: float | None = None) -> Completed:
        calls.append(list(argv))
        return Completed(list(argv), rc, "runc\n" if rc == 0 else "", stderr)

    run.calls = calls  # type: ignore[attr-defined]
    return run


PODMAN_ENV = {"KIND_EXPERIMENTAL_PROVIDER": "podman"}
PODMAN_TOOLS = {"kind": "/usr/local/bin/kind", "podman": "/usr/bin/podman", "kubectl": "/usr/bin/kubectl"}


def test_podman_prerequisites_need_neither_docker_nor_buildx() -> None:
    run = podman_run()
    assert options.tool_problems(which_of(PODMAN_TOOLS), run, PODMAN_ENV) == []
    assert run.calls == [commands.podman_info()]  # type: ignore[attr-defined]


def test_podman_needs_no_kubectl_on_path() -> None:
    """The release's kubectl is built with the node image and put first on PATH for the run."""
    found = {k: v for k, v in PODMAN_TOOLS.items() if k != "kubectl"}
    assert options.tool_problems(which_of(found), podman_run(), PODMAN_ENV) == []


def test_the_release_kubectl_comes_first_on_path(monkeypatch: pytest.MonkeyPatch) -> None:
    from cniqs.common import pathenv

    monkeypatch.setattr(kubebin, "go_version", lambda: "go1.26.8")
    release_bin = kind_podman.kube_bin("1.37")
    assert release_bin.parts[-2:] == (f"{kubebin.KUBE_RELEASES['1.37']}-go1.26.8", "bin")
    monkeypatch.setenv("PATH", "/usr/bin")
    with pathenv.first_on_path(release_bin):
        assert os.environ["PATH"] == f"{release_bin}:/usr/bin"
    assert os.environ["PATH"] == "/usr/bin"


def test_podman_missing_or_not_answering() -> None:
    found = {k: v for k, v in PODMAN_TOOLS.items() if k != "podman"}
    (problem,) = options.tool_problems(which_of(found), podman_run(), PODMAN_ENV)
    assert problem.startswith("podman not found")
    (problem,) = options.tool_problems(which_of(PODMAN_TOOLS), podman_run(125, "Error: cannot connect\n"), PODMAN_ENV)
    assert "podman does not answer" in problem and "cannot connect" in problem


def test_podman_takes_the_kind_cli_built_here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(kubebin, "tools_bin_dir", lambda: tmp_path)
    monkeypatch.setattr(kind_podman.shutil, "which", lambda name: None)
    built = tmp_path / "kind"
    found = {k: v for k, v in PODMAN_TOOLS.items() if k != "kind"}
    (problem,) = options.tool_problems(which_of(found), podman_run(), PODMAN_ENV)
    assert problem.startswith("kind not found")  # not built yet
    built.write_text("")
    assert options.tool_problems(which_of({**found, str(built): str(built)}), podman_run(), PODMAN_ENV) == []


def test_kind_binary_prefers_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(kubebin, "tools_bin_dir", lambda: tmp_path)
    (tmp_path / "kind").write_text("")
    assert kind_podman.kind_binary({"KIND": "/opt/kind"}) == "/opt/kind"
    monkeypatch.setattr(kind_podman.shutil, "which", lambda name: None)
    assert kind_podman.kind_binary({}) == str(tmp_path / "kind")
    (tmp_path / "kind").unlink()
    assert kind_podman.kind_binary({}) == "kind"
    monkeypatch.setattr(kind_podman.shutil, "which", lambda name: "/usr/bin/kind")
    assert kind_podman.kind_binary({}) == "kind"


def test_prepare_environment_sets_the_provider_and_keeps_a_given_containers_conf(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(kind_podman.nodeimage, "containers_conf", lambda: tmp_path / "containers.conf")
    monkeypatch.setattr(kind_podman, "Path", lambda p: tmp_path / p.lstrip("/"))
    env: dict[str, str] = {}
    kind_podman.prepare_environment(env)
    assert env == {"KIND_EXPERIMENTAL_PROVIDER": "podman", "CONTAINERS_CONF": str(tmp_path / "containers.conf")}
    assert (tmp_path / "lib/modules").is_dir()
    env = {"CONTAINERS_CONF": "/etc/mine.conf"}
    kind_podman.prepare_environment(env)
    assert env["CONTAINERS_CONF"] == "/etc/mine.conf"


# --- versions on podman ----------------------------------------------------------------------------------


def podman_minors() -> list[str]:
    return [e.minor for e in versions.select(versions.ALL) if e.minor in kubebin.KUBE_RELEASES]


def test_node_images_are_built_here_for_pinned_minors_of_the_table() -> None:
    minors = podman_minors()
    assert minors, "no minor is both in the kind versions table and pinned in kubebin"
    (default,) = kind_podman.node_images(None)
    assert default.minor == minors[0]
    assert default.image == f"{nodeimage.IMAGE_REPO}:{kubebin.KUBE_RELEASES[minors[0]]}"
    assert [e.minor for e in kind_podman.node_images("all")] == minors
    assert [e.minor for e in kind_podman.node_images(f"v{minors[-1]}")] == [minors[-1]]
    patch = kubebin.KUBE_RELEASES[minors[-1]].removeprefix("v")
    assert [e.minor for e in kind_podman.node_images(patch)] == [minors[-1]]


@pytest.mark.parametrize("choice", ["1.20", "1.99", "latest"])
def test_node_images_refuse_what_cannot_be_built_here(choice: str) -> None:
    with pytest.raises(ValueError, match="built here"):
        kind_podman.node_images(choice)


@pytest.mark.parametrize(
    ("minor", "v1", "patched"),
    [("1.34", True, False), ("1.35", True, True), ("1.36", True, True), ("1.35", False, False)],
)
def test_kubelet_told_to_run_on_cgroup_v1_from_1_35(
    monkeypatch: pytest.MonkeyPatch, minor: str, v1: bool, patched: bool
) -> None:
    monkeypatch.setattr(kind_podman, "cgroup_v1", lambda: v1)
    patches = kind_podman.kubeadm_patches(minor)
    assert bool(patches) == patched
    if patched:
        (patch,) = patches
        assert yaml.safe_load(patch) == {"kind": "KubeletConfiguration", "failCgroupV1": False}
        config = cluster.kind_config(1, "ipv4", patches)
        assert config["kubeadmConfigPatches"] == patches
        assert yaml.safe_load(cluster.render_config(config))["kubeadmConfigPatches"] == patches


def test_target_names_are_in_podmans_dns_zone() -> None:
    targets = kind_podman.Target("cniqs-target-abc123", "10.89.0.9").targets
    assert targets.ip == targets.name_ip == "10.89.0.9"
    assert targets.name == "cniqs-target-abc123.dns.podman"
    assert targets.url == "http://cniqs-target-abc123.dns.podman/"


def test_remove_network_reports_a_network_that_stays() -> None:
    assert kind_podman.remove_network(podman_run()) is None
    note = kind_podman.remove_network(podman_run(2, "Error: network kind is being used\n"))
    assert note is not None and "stays" in note and "being used" in note
    assert kind_podman.network_exists(podman_run()) is True
    assert kind_podman.network_exists(podman_run(1)) is False


def network_run(exists: list[int], users: str = "", rm_rc: int = 0, net_id: str = "n1"):  # type: ignore[no-untyped-def]
    """podman as the network helpers see it: `network exists` exits with exists' codes in turn (0 yes, 1 no,
    125 error), `network inspect` gives net_id, `ps` lists users, `network rm` exits rm_rc."""
    calls: list[list[str]] = []

    def run(argv: Sequence[str], *, input: str | None = None, timeout: float | None = None) -> Completed:
        calls.append(list(argv))
        if argv[:3] == ["podman", "network", "exists"]:
            return Completed(list(argv), exists.pop(0), "", "")
        if argv[:3] == ["podman", "network", "inspect"]:
            return Completed(list(argv), 0, f"{net_id}\n", "")
        if argv[:2] == ["podman", "ps"]:
            return Completed(list(argv), 0, users, "")
        return Completed(list(argv), rm_rc, "", "" if rm_rc == 0 else "Error: netavark: permission denied\n")

    run.calls = calls  # type: ignore[attr-defined]
    return run


YES, NO, ERROR = 0, 1, 125


def test_a_run_marks_only_the_network_kind_is_about_to_make(tmp_path: Path) -> None:
    mark = tmp_path / "kind.made"
    assert kind_podman.mark_if_new(network_run([YES]), mark, "kind") is False
    assert not mark.exists()  # the user's own network (or another run's): never removed by this run
    assert kind_podman.mark_if_new(network_run([ERROR]), mark, "kind") is False
    assert not mark.exists()  # podman could not say: a network that may be the user's is never claimed
    assert kind_podman.mark_if_new(network_run([NO]), mark, "kind") is True
    assert mark.exists()


def test_the_last_run_out_removes_the_network_a_run_made(tmp_path: Path) -> None:
    mark = tmp_path / "kind.made"
    assert kind_podman.release_network(network_run([]), mark, "kind") is None  # not ours: not even looked at
    assert kind_podman.release_network(network_run([]), None, "kind") is None  # another run holds the lock
    mark.write_text("n1\n")
    busy = network_run([YES], users="3f2a9c\n")
    assert kind_podman.release_network(busy, mark, "kind") is None  # not this run's problem
    assert busy.calls[-1] == commands.podman_containers_on("kind")  # nothing removed
    assert mark.exists()  # handed on to whoever leaves last
    last = network_run([YES])
    assert kind_podman.release_network(last, mark, "kind") is None
    assert last.calls[-1] == ["podman", "network", "rm", "kind"] and not mark.exists()
    mark.write_text("n1\n")
    note = kind_podman.release_network(network_run([YES], rm_rc=125), mark, "kind")
    assert note is not None and "stays" in note and "permission denied" in note and mark.exists()
    note = kind_podman.release_network(network_run([ERROR]), mark, "kind")
    assert note is not None and "stays" in note and mark.exists()
    assert kind_podman.release_network(network_run([NO]), mark, "kind") is None  # gone already
    assert not mark.exists()


def test_a_network_made_again_since_is_not_ours(tmp_path: Path) -> None:
    """A mark left by a killed run names the network's ID: a network of that name made later is left alone."""
    mark = tmp_path / "kind.made"
    mark.write_text("n1\n")
    run = network_run([YES], net_id="n2")
    assert kind_podman.release_network(run, mark, "kind") is None
    assert not mark.exists() and ["podman", "network", "rm", "kind"] not in run.calls


def test_creating_on_a_new_network_records_its_id(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(kind_podman, "network_marks", lambda: tmp_path / "marks")
    with kind_podman.creating_on_network(network_run([NO], net_id="abc123"), "kind"):
        pass  # kind create cluster
    assert (tmp_path / "marks" / "kind.made").read_text() == "abc123\n"
    with pytest.raises(RuntimeError), kind_podman.creating_on_network(network_run([NO]), "other"):
        raise RuntimeError("kind create failed")
    assert (tmp_path / "marks" / "other.made").read_text() == ""  # no ID: any later run may remove it


def test_the_marks_folder_must_be_private(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir(mode=0o777)
    shared.chmod(0o777)
    with pytest.raises(RuntimeError, match="mode 0700"), kind_podman.network_lock("kind", shared):
        pass


def test_the_network_lock_orders_two_runs(tmp_path: Path) -> None:
    """One run's check-and-create and another's teardown never interleave (flock, so also across processes);
    a teardown does not wait for it."""
    import threading

    order: list[str] = []
    first_in = threading.Event()
    marks = tmp_path / "marks"

    def first() -> None:
        with kind_podman.network_lock("kind", marks):
            first_in.set()
            order.append("first in")
            threading.Event().wait(0.3)
            order.append("first out")

    thread = threading.Thread(target=first)
    thread.start()
    first_in.wait(5)
    with kind_podman.network_lock("kind", marks, wait=False) as busy:
        assert busy is None
    with kind_podman.network_lock("kind", marks) as mark:
        order.append("second in")
    thread.join()
    assert order == ["first in", "first out", "second in"]
    assert mark == marks / "kind.made"


def test_the_network_is_the_one_kind_uses(monkeypatch: pytest.MonkeyPatch) -> None:
    """kind puts podman nodes on $KIND_EXPERIMENTAL_PODMAN_NETWORK when set: the target and cleanup follow it."""
    monkeypatch.delenv("KIND_EXPERIMENTAL_PODMAN_NETWORK", raising=False)
    assert kind_podman.kind_network() == "kind"
    monkeypatch.setenv("KIND_EXPERIMENTAL_PODMAN_NETWORK", "kind-ci-2")
    run = podman_run()
    assert kind_podman.network_exists(run) is True
    assert kind_podman.remove_network(run) is None
    assert run.calls == [["podman", "network", "exists", "kind-ci-2"], ["podman", "network", "rm", "kind-ci-2"]]


# --- node files ------------------------------------------------------------------------------------------


def test_containers_conf_sets_the_runtime_and_low_ulimits() -> None:
    conf = tomllib.loads(nodefiles.CONTAINERS_CONF)
    assert conf["engine"]["runtime"] == "runc"
    assert conf["containers"]["default_ulimits"] == ["nofile=1024:1024", "nproc=1024:1024"]


def test_containerd_config() -> None:
    conf = tomllib.loads(nodefiles.containerd_config("registry.k8s.io/pause:3.10.1"))
    cri = conf["plugins"]["io.containerd.grpc.v1.cri"]
    assert conf["version"] == 2
    assert cri["sandbox_image"] == "registry.k8s.io/pause:3.10.1"
    assert cri["restrict_oom_score_adj"] is True
    assert cri["containerd"]["runtimes"]["runc"]["options"]["SystemdCgroup"] is True
    assert cri["cni"] == {"bin_dir": "/opt/cni/bin", "conf_dir": "/etc/cni/net.d"}


def test_kindnet_manifest_keeps_kinds_template_contract() -> None:
    text = nodefiles.kindnet_manifest("cniqs.local/kindnet:1")
    head = text.splitlines()[:2]
    assert head == [f"# {nodefiles.KIND_TEMPLATE_MARK}", f"# {nodefiles.KIND_PATCH_MARK}"]
    # kind fills in the pod subnet (Go template) before applying it
    docs = [d for d in yaml.safe_load_all(text.replace("{{ .PodSubnet }}", "10.244.0.0/16")) if d]
    kinds = [d["kind"] for d in docs]
    assert kinds == ["ClusterRole", "ClusterRoleBinding", "ServiceAccount", "DaemonSet"]
    (container,) = docs[-1]["spec"]["template"]["spec"]["containers"]
    assert container["image"] == "cniqs.local/kindnet:1"
    assert container["imagePullPolicy"] == "IfNotPresent"  # nothing can be pulled here
    assert {"name": "POD_SUBNET", "value": "10.244.0.0/16"} in container["env"]
    assert docs[-1]["spec"]["template"]["spec"]["hostNetwork"] is True


@pytest.mark.parametrize(("shell", "script"), [("bash", nodefiles.ENTRYPOINT), ("sh", nodefiles.KINDNET_SCRIPT)])
def test_node_scripts_parse(shell: str, script: str) -> None:
    assert script.startswith("#!/bin/")
    result = subprocess.run([shell, "-n"], input=script, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_kindnet_script_writes_kindnets_conflist_and_masquerades() -> None:
    script = nodefiles.KINDNET_SCRIPT
    assert "/etc/cni/net.d/10-kindnet.conflist" in script
    assert '"name": "kindnet"' in script
    assert "MASQUERADE" in script


def test_kubelet_units_keep_kubeadms_contract() -> None:
    assert "EnvironmentFile=-/var/lib/kubelet/kubeadm-flags.env" in nodefiles.KUBELET_KUBEADM_DROPIN
    assert "--config=/var/lib/kubelet/config.yaml" in nodefiles.KUBELET_KUBEADM_DROPIN
    assert "ConditionPathExists=/var/lib/kubelet/config.yaml" in nodefiles.KUBELET_SERVICE
    # the preloaded images are in containerd before kubelet starts the static pods
    assert f"After={nodefiles.PRELOAD_UNIT}" in nodefiles.KUBELET_NODE_DROPIN
    assert "Before=kubelet.service" in nodefiles.PRELOAD_SERVICE


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
    layer = nodeimage.binary_layer({"usr/local/bin/kube-proxy": src}, with_base=False)
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


# --- the cniqs tool's kind cluster on podman: what down removes -------------------------------------------


def test_down_of_a_podman_cluster_removes_cluster_target_and_the_network_it_made(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from cniqs.provider import State
    from cniqs.providers.kind import provider as kind_provider

    calls: list[list[str]] = []

    def run(argv: Sequence[str], *, input: str | None = None, timeout: float | None = None) -> Completed:
        calls.append(list(argv))
        return Completed(list(argv), 0, "demo\n" if list(argv[1:3]) == ["get", "clusters"] else "", "")

    monkeypatch.setattr(kind_provider, "run_process", run)
    monkeypatch.setattr(kind_podman, "prepare_environment", lambda environ=None: None)
    monkeypatch.setattr(kind_podman, "network_marks", lambda: tmp_path / "marks")
    kubeconfig = tmp_path / "demo.kubeconfig"
    kubeconfig.write_text("")
    extra = {"engine": "podman", "target": "cniqs-target-1", "target_ip": "10.89.0.5", "network": "kind"}
    state = State("kind", "demo", kubeconfig=str(kubeconfig), kind="/k/kind", extra=extra)
    (tmp_path / "marks").mkdir(mode=0o700)
    (tmp_path / "marks" / "kind.made").write_text("")  # `up` found no network: kind made it for this one
    assert kind_provider.KindProvider().destroy(state) == []
    assert commands.kind_delete("/k/kind", "demo", str(kubeconfig)) in calls
    assert commands.podman_rm("cniqs-target-1") in calls
    assert calls[-1] == commands.podman_network_rm("kind")
    assert not kubeconfig.exists() and not (tmp_path / "marks" / "kind.made").exists()

    calls.clear()  # a state from before the marks: it removed the network it made, as it did then
    kubeconfig.write_text("")
    old = {"engine": "podman", "target": "cniqs-target-1", "target_ip": "10.89.0.5", "own_network": "1"}
    kind_provider.KindProvider().destroy(State("kind", "demo", kubeconfig=str(kubeconfig), kind="/k/kind", extra=old))
    assert calls[-1] == commands.podman_network_rm("kind")

    calls.clear()
    docker_state = State("kind", "demo", kubeconfig=str(kubeconfig), kind="/k/kind")
    kind_provider.KindProvider().destroy(docker_state)
    assert not any(argv[0] == "podman" for argv in calls)


def test_up_on_podman_tells_how_to_reach_the_release_kubectl() -> None:
    from cniqs.provider import State
    from cniqs.providers.kind.provider import KindProvider

    podman = State("kind", "demo", kubeconfig="/s/demo.kubeconfig", extra={"engine": "podman", "kube_bin": "/c/bin"})
    assert KindProvider().hints(podman) == [
        "  kubectl:  export KUBECONFIG=/s/demo.kubeconfig",
        "            export PATH=/c/bin:$PATH",
    ]
    docker = State("kind", "demo", kubeconfig="/s/demo.kubeconfig")
    assert KindProvider().hints(docker) == ["  kubectl:  export KUBECONFIG=/s/demo.kubeconfig"]

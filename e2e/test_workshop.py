"""The README's "Workshop steps by hand", each command of each step run through bash as a participant types it,
on a real one-node kind cluster, and each step's promise checked against what it printed.

The commands run in a folder laid out as a checkout (conflist/, build/container/linux-$ARCH/), with KUBECONFIG
and ARCH as the steps set them. What cannot run here as written is changed, and the test says which and why:
the report's "workshop changes" section lists every change (pytest -rA shows it for a passing test too).
Changes that always apply: the cluster's name gets a token (two runs at once must not collide) and the
kubeconfig goes to the test's temporary folder (the user's ~/.kube stays untouched). The others follow from
the run: an offline site's mirror (node image, pod image, containerd's hosts.toml in the node), a cgroup v1
host, podman as the engine, a kind named by $CNIQS_KIND, the run's connectivity target, and a host without
docker buildx (then the node build the suite uses stands in for step 2's container build).
"""

from __future__ import annotations

import ipaddress
import json
import os
import re
import secrets
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from cniqs.common.run import run_process
from cniqs.common.waits import until
from cniqs.providers.kind import cluster as kind_cluster
from cniqs.providers.kind import commands, egress, mirror, network, nodebuild, options, release, versions
from cniqs.providers.kind.images import Images, configure_mirror
from cniqs.providers.kind.images import images as cluster_images
from cniqs.providers.kind.provider import KindProvider, check_kind, kind_options
from e2e.plugins.providers import run_options
from e2e.support_cli import hand_steps, require_cli

pytestmark = [pytest.mark.e2e, pytest.mark.kind_only]

REPO = Path(__file__).resolve().parents[1]
README = (REPO / "README.md").read_text()
TIMEOUT = 600  # kind create (the README's own --wait is 120 s), the first pull of the pod image
ARCHES = {"x86_64": "amd64", "aarch64": "arm64"}


@dataclass(frozen=True)
class Change:
    old: str
    new: str
    why: str


@dataclass
class Session:
    """The participant's shell: the folder they stand in, what they exported, what each command printed."""

    cwd: Path
    env: dict[str, str]
    cluster: str = ""  # set once the cluster's own name is in changes: only then does the clean-up line run
    changes: list[Change] = field(default_factory=list)
    transcript: list[str] = field(default_factory=list)

    def change(self, old: str, new: str, why: str) -> None:
        self.changes.append(Change(old, new, why))

    def edit(self, line: str) -> str:
        for change in self.changes:
            line = line.replace(change.old, change.new)
        return line

    def run(self, line: str, check: bool = True) -> str:
        """One README line, changed as listed, through bash; its output (stdout and stderr) is returned."""
        command = self.edit(line)
        proc = subprocess.run(
            ["bash", "-c", command], cwd=self.cwd, env=self.env, stdin=subprocess.DEVNULL,
            capture_output=True, text=True, timeout=TIMEOUT,
        )  # fmt: skip
        self.transcript.append(f"$ {command}  (exit {proc.returncode})\n{proc.stdout}{proc.stderr}")
        if check:
            assert proc.returncode == 0, self.tail()
        return proc.stdout + proc.stderr

    def set(self, line: str, value: str | None = None) -> None:
        """`export NAME=VALUE` or `NAME=VALUE  # comment`, as bash would keep it for the next commands."""
        name, _, given = self.edit(line).removeprefix("export ").split("#", 1)[0].strip().partition("=")
        self.env[name] = value if value is not None else given
        self.transcript.append(f"$ {name}={self.env[name]}")

    def tail(self) -> str:
        return "\n".join(self.transcript[-6:])


def readme_output(after: str) -> str:
    """The README's quoted output that follows the text `after`."""
    match = re.search(re.escape(after) + r"\s*`([^`]+)`", README)
    assert match, f"README: no quoted output after {after!r}"
    return match[1]


def cleanup_line() -> str:
    match = re.search(r"Clean up by hand: `([^`]+)`", README)
    assert match, "README: no 'Clean up by hand' command after the workshop steps"
    return match[1]


def checkout(dest: Path) -> Path:
    """A folder that holds what the steps read from a checkout: conflist/ (step 3's conflist)."""
    shutil.copytree(REPO / "conflist", dest / "conflist")
    return dest


def container_build(session: Session, line: str, arch: str, offline: bool) -> None:
    """Step 2's build as written where docker buildx runs and the base image can be pulled; else the suite's
    own node build for linux/ARCH, put where step 2's build leaves its folder."""
    buildx = subprocess.run(commands.docker_buildx_version(), capture_output=True).returncode == 0
    if buildx and not offline:
        session.run(line)
        return
    base = re.findall(r"^FROM (\S+)", (REPO / "plugin" / "Dockerfile").read_text(), re.M)[0]
    reasons = [] if buildx else ["docker buildx is not installed here"]
    if offline:
        reasons.append(f"plugin/Dockerfile's base image {base} is on Docker Hub, which this site does not reach")
    built = nodebuild.build_for_nodes(run_process, arch)
    dest = session.cwd / "build" / "container" / f"linux-{arch}" / built.name
    dest.parent.mkdir(parents=True)
    shutil.copytree(built, dest, symlinks=True)
    session.change(line, f"(copy of {built})", "step 2 not run: " + " and ".join(reasons))
    session.transcript.append(f"# {session.changes[-1].why}; the suite's node build copied to {dest}")


@pytest.fixture
def session(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Session]:
    """The participant's shell; at the end, whatever happened, the README's clean-up line for this test's
    cluster, the kind network when this test's `kind create` made it and nothing else is on it, and the
    changes and the transcript into the report."""
    require_cli(KindProvider())
    shell = Session(checkout(tmp_path / "checkout"), {**os.environ})
    shell.env.pop("KUBECONFIG", None)
    try:
        yield shell
    finally:
        try:
            if shell.cluster:
                shell.run(cleanup_line(), check=False)
        finally:
            engine = commands.engine()
            network.leave_network(run_process, engine, network.kind_network(engine))
            listed = "\n".join(f"- `{c.old}` -> `{c.new}`: {c.why}" for c in shell.changes)
            request.node.add_report_section("teardown", "workshop changes", listed)
            request.node.add_report_section("teardown", "workshop transcript", "\n".join(shell.transcript))


@dataclass(frozen=True)
class Run:
    """What this run is: the kind options, the engine and kind found, the version row and its images."""

    opts: options.KindOptions
    engine: str
    kind: str
    found: versions.KindVersion
    entry: versions.NodeImage
    image: Images

    @property
    def offline(self) -> bool:
        return self.image.registry is not None


def this_run(request: pytest.FixtureRequest) -> Run:
    opts = kind_options(run_options(request.config))
    engine, kind = commands.engine(), commands.kind_binary()
    found = release.found_kind(run_process, kind)
    entry = versions.select_for_kind(opts.k8s_version or None, found)[0]
    check_kind(kind, entry.minor, opts)  # the provider's own check, before anything is created
    return Run(opts, engine, kind, found, entry, cluster_images(opts, entry, opts.pod_image))


def name_the_run(session: Session, run: Run) -> str:
    """The changes every command gets: the cluster's name and kubeconfig, the kind and the engine."""
    name = f"cni-test-{secrets.token_hex(3)}"
    kubeconfig = session.cwd.parent / "kubeconfig.yml"
    session.change("~/.kube/cni-test.yml", str(kubeconfig), "the user's ~/.kube stays untouched")
    session.change("cni-test", name, "two runs at once must not collide")
    session.cluster = name
    if run.kind != "kind":
        session.change("kind ", f"{run.kind} ", "$CNIQS_KIND names the kind this run uses")
    if run.engine != "docker":
        session.change("docker ", f"{run.engine} ", f"this run's engine is {run.engine}; the commands are the same")
    return name


def create_options(session: Session, run: Run) -> None:
    """--image where the run's node image is not the release note's, --config for kubeadm and containerd."""
    kind_release, _ = versions.for_kind(run.found)
    assert kind_release is not None
    if run.image.node != kind_release.images[0].image:
        session.change("--wait", f"--image {run.image.node} --wait", f"this run's node image: {run.image.note}")
    patches = kind_cluster.kubeadm_patches(run.entry.minor)
    containerd = [mirror.CONTAINERD_PATCH] if run.offline else []
    if not (patches or containerd):
        return
    config = session.cwd.parent / "kind-config.yaml"
    config.write_text(kind_cluster.render_config(kind_cluster.kind_config(0, "ipv4", patches, containerd)))
    why = []
    if patches:
        why.append(f"this host runs cgroup v1: the kubelet of {run.entry.minor} refuses it unless told")
    if containerd:
        why.append("containerd reads the registry hosts of the site's mirror")
    session.change("--wait", f"--config {config} --wait", "; ".join(why))


def step_1_cluster(session: Session, run: Run, name: str, lines: list[str]) -> None:
    """The cluster, with its own kubeconfig, and its node Ready."""
    create, export, get_nodes = lines
    assert create.startswith("kind create cluster ") and get_nodes == "kubectl get nodes", lines
    create_options(session, run)
    with network.creating_on_network(run_process, run.engine, network.kind_network(run.engine), name):
        session.run(create)
    session.set(export)
    if run.image.registry is not None:
        configure_mirror(run_process, run.engine, [f"{name}-control-plane"], run.image.registry)
        session.transcript.append(f"# hosts.toml files for the mirror {run.image.registry.mirror.url} in the node")
    nodes = session.run(get_nodes)
    assert re.search(rf"^{name}-control-plane\s+Ready\s", nodes, re.M), session.tail()


def step_2_build(session: Session, run: Run, lines: list[str]) -> None:
    """The node's architecture, then the build for it."""
    uname, set_arch, build = lines
    machine = session.run(uname).strip()
    assert machine in ARCHES, session.tail()
    assert set_arch.startswith("ARCH=") and "buildx build" in build, lines
    session.set(set_arch, ARCHES[machine])
    container_build(session, build, ARCHES[machine], run.offline)


def step_3_install(session: Session, lines: list[str]) -> None:
    """The plugin into the node, its VERSION answer, then the conflist and containerd's reload of it."""
    copy, link, version, conflist, count = lines
    session.run(copy)
    session.run(link)
    expected = json.loads(readme_output("The last command prints"))
    assert json.loads(session.run(version)) == expected, session.tail()
    session.run(conflist)

    def loaded() -> bool | None:  # "above 0 once containerd has reloaded its CNI config"
        out = session.run(count, check=False).strip()
        return True if out.isdigit() and int(out) > 0 else None

    try:
        until("containerd to load the cni-quickstart conflist", loaded, timeout=60, interval=1)
    except TimeoutError:
        pytest.fail(session.tail())


def step_4_pod(session: Session, run: Run, lines: list[str]) -> str:
    """A pod, Ready, and the address Kubernetes reports for it: the README's."""
    pod_run, wait, describe = lines
    if run.image.pod != "alpine":
        session.change("--image alpine", f"--image {run.image.pod}", f"this run's pod image ({run.opts.pod_image})")
    session.run(pod_run)
    session.run(wait)
    described = session.run(describe)
    shown = re.search(r"^ +IP: +(\S+)$", README.split("kubectl describe pods test", 1)[1], re.M)
    assert shown, "README: step 4 shows no IP line"
    reported = re.search(r"^IP: +(\S+)$", described, re.M)
    assert reported and reported[1] == shown[1], session.tail()
    return reported[1]


def step_5_inside(session: Session, lines: list[str], reported: str) -> None:
    """The real address inside the pod: kindnet's, from the conflist's subnet, not the reported one."""
    (inside,) = lines
    addresses = session.run(inside)
    real = re.search(r"^\d+: eth0@\S+.*?\n(?:.*\n)*? +inet (\S+)", addresses, re.M)
    assert real, session.tail()
    subnet = json.loads((session.cwd / "conflist" / "10-kindnet.conflist").read_text())
    ranges = subnet["plugins"][0]["ipam"]["ranges"][0][0]["subnet"]
    assert ipaddress.ip_interface(real[1]).ip in ipaddress.ip_network(ranges), session.tail()
    assert str(ipaddress.ip_interface(real[1]).ip) != reported


def step_6_outside(session: Session, run: Run, lines: list[str]) -> None:
    """It still reaches the outside: the run's target where it is not the README's 1.1.1.1."""
    (ping,) = lines
    targets = egress.run_targets(run_process, run.opts.egress_mode, run.opts.targets, run.engine)
    if targets.ip not in ping:
        target = re.findall(r"\d+\.\d+\.\d+\.\d+", ping)[0]
        why = f"this run's connectivity target ({run.opts.egress_mode}): no internet here"
        session.change(target, targets.ip, why)
    pinged = session.run(ping)
    assert re.search(r"\b2 packets received\b", pinged), session.tail()


def test_the_workshop_steps_run_as_written(request: pytest.FixtureRequest, session: Session) -> None:
    run = this_run(request)
    steps = hand_steps(README)
    assert sorted(steps) == [1, 2, 3, 4, 5, 6], steps
    name = name_the_run(session, run)
    step_1_cluster(session, run, name, steps[1])
    step_2_build(session, run, steps[2])
    step_3_install(session, steps[3])
    reported = step_4_pod(session, run, steps[4])
    step_5_inside(session, steps[5], reported)
    step_6_outside(session, run, steps[6])

    # Clean up as written: the cluster is gone afterwards.
    session.run(cleanup_line())
    listed = session.run("kind get clusters")
    assert name not in listed.split(), session.tail()

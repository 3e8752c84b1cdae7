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
from cniqs.providers.kind import cluster as kind_cluster
from cniqs.providers.kind import commands, egress, mirror, network, nodebuild, options, release, versions
from cniqs.providers.kind.provider import KindProvider, configure_mirror, images
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


def test_the_workshop_steps_run_as_written(request: pytest.FixtureRequest, session: Session) -> None:
    values = run_options(request.config)
    defaults = {option.flag: option.initial() for option in options.OPTIONS}
    opts = options.read_options(lambda flag: values.get(flag, defaults[flag]))
    engine, kind = commands.engine(), commands.kind_binary()
    offline = mirror.parse(opts.mirror) is not None
    found = release.found_kind(run_process, kind)
    entry = versions.select_for_kind(opts.k8s_version or None, found)[0]
    release.check_create(run_process, kind, entry.minor, table_image=not offline)
    image = images(opts, entry, opts.pod_image)
    steps = hand_steps(README)
    assert sorted(steps) == [1, 2, 3, 4, 5, 6], steps

    name = f"cni-test-{secrets.token_hex(3)}"
    kubeconfig = session.cwd.parent / "kubeconfig.yml"
    session.change("~/.kube/cni-test.yml", str(kubeconfig), "the user's ~/.kube stays untouched")
    session.change("cni-test", name, "two runs at once must not collide")
    session.cluster = name
    if kind != "kind":
        session.change("kind ", f"{kind} ", "$CNIQS_KIND names the kind this run uses")
    if engine != "docker":
        session.change("docker ", f"{engine} ", f"this run's engine is {engine}; the commands are the same")

    # 1. The cluster, with its own kubeconfig.
    create, export, get_nodes = steps[1]
    assert create.startswith("kind create cluster ") and get_nodes == "kubectl get nodes", steps[1]
    kind_release, _ = versions.for_kind(found)
    assert kind_release is not None
    extra: list[str] = []
    if image.node != kind_release.images[0].image:
        extra += ["--image", image.node]
        session.change("--wait", f"--image {image.node} --wait", f"this run's node image: {image.note}")
    patches = kind_cluster.kubeadm_patches(entry.minor)
    containerd = [mirror.CONTAINERD_PATCH] if image.registry is not None else []
    if patches or containerd:
        config = session.cwd.parent / "kind-config.yaml"
        config.write_text(kind_cluster.render_config(kind_cluster.kind_config(0, "ipv4", patches, containerd)))
        why = []
        if patches:
            why.append(f"this host runs cgroup v1: the kubelet of {entry.minor} refuses it unless told")
        if containerd:
            why.append("containerd reads the registry hosts of the site's mirror")
        session.change("--wait", f"--config {config} --wait", "; ".join(why))
    with network.creating_on_network(run_process, engine, network.kind_network(engine)):
        session.run(create)
    session.set(export)
    if image.registry is not None:
        configure_mirror(run_process, engine, [f"{name}-control-plane"], image.registry)
        session.transcript.append(f"# hosts.toml files for the mirror {image.registry.mirror.url} in the node")
    nodes = session.run(get_nodes)
    assert re.search(rf"^{name}-control-plane\s+Ready\s", nodes, re.M), session.tail()

    # 2. The node's architecture, then the build for it.
    uname, set_arch, build = steps[2]
    machine = session.run(uname).strip()
    assert machine in ARCHES, session.tail()
    assert set_arch.startswith("ARCH=") and "buildx build" in build, steps[2]
    session.set(set_arch, ARCHES[machine])
    container_build(session, build, ARCHES[machine], offline)

    # 3. The plugin into the node, its VERSION answer, then the conflist and containerd's reload of it.
    copy, link, version, conflist, count = steps[3]
    session.run(copy)
    session.run(link)
    expected = json.loads(readme_output("The last command prints"))
    assert json.loads(session.run(version)) == expected, session.tail()
    session.run(conflist)
    loaded = False
    for _ in range(60):  # "above 0 once containerd has reloaded its CNI config": wait for it, one minute at most
        out = session.run(count, check=False).strip()
        if out.isdigit() and int(out) > 0:
            loaded = True
            break
        subprocess.run(["sleep", "1"])
    assert loaded, session.tail()

    # 4. A pod, Ready, and the address Kubernetes reports for it.
    pod_run, wait, describe = steps[4]
    if image.pod != "alpine":
        session.change("--image alpine", f"--image {image.pod}", f"this run's pod image ({opts.pod_image})")
    session.run(pod_run)
    session.run(wait)
    described = session.run(describe)
    shown = re.search(r"^ +IP: +(\S+)$", README.split("kubectl describe pods test", 1)[1], re.M)
    assert shown, "README: step 4 shows no IP line"
    reported = re.search(r"^IP: +(\S+)$", described, re.M)
    assert reported and reported[1] == shown[1], session.tail()

    # 5. The real address inside the pod: kindnet's, from the conflist's subnet, not the reported one.
    (inside,) = steps[5]
    addresses = session.run(inside)
    real = re.search(r"^\d+: eth0@\S+.*?\n(?:.*\n)*? +inet (\S+)", addresses, re.M)
    assert real, session.tail()
    subnet = json.loads((session.cwd / "conflist" / "10-kindnet.conflist").read_text())
    ranges = subnet["plugins"][0]["ipam"]["ranges"][0][0]["subnet"]
    assert ipaddress.ip_interface(real[1]).ip in ipaddress.ip_network(ranges), session.tail()
    assert str(ipaddress.ip_interface(real[1]).ip) != reported[1]

    # 6. And it still reaches the outside: the run's target where it is not the README's 1.1.1.1.
    (ping,) = steps[6]
    gateway = lambda: egress.network_gateway(run_process, engine, os.environ)  # noqa: E731
    targets = egress.select(opts.egress_mode, opts.targets, gateway)
    if targets.ip not in ping:
        target = re.findall(r"\d+\.\d+\.\d+\.\d+", ping)[0]
        session.change(target, targets.ip, f"this run's connectivity target ({opts.egress_mode}): no internet here")
    pinged = session.run(ping)
    assert re.search(r"\b2 packets received\b", pinged), session.tail()

    # Clean up as written: the cluster is gone afterwards.
    session.run(cleanup_line())
    listed = session.run("kind get clusters")
    assert name not in listed.split(), session.tail()

"""kind clusters: the generated config, unique names, create/reuse/delete with a private kubeconfig."""

from __future__ import annotations

import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from cniqs.common.run import CommandError, Completed, Runner, check
from cniqs.providers.cluster import parse
from cniqs.providers.kind import commands

NAME_PREFIX = "cniqs"
# No IPv6-only clusters: the suite checks each pod's real IPv4 address and pings IPv4 targets.
IP_FAMILIES = ("ipv4", "dual")
# kind names node containers <cluster>-control-plane, <cluster>-worker2, ...; keep names short and
# DNS-label friendly (kind rejects names that are not valid).
_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]{0,38}[a-z0-9])?$")


def names(text: str) -> list[str]:
    """`kind get clusters|nodes`: one name a line; kind says "No kind clusters found." (on stderr: skipped)."""
    return [line for line in parse.lines(text) if not line.startswith("No kind ")]


def cluster_name(minor: str, token: str | None = None, prefix: str = NAME_PREFIX) -> str:
    """A new, unique cluster name per run and version: cniqs-1-35-3fa2c1."""
    token = token or secrets.token_hex(3)
    name = f"{prefix}-{minor.replace('.', '-')}-{token}"
    if not _NAME.match(name):
        raise ValueError(f"{name!r} is not a valid kind cluster name")
    return name


def valid_name(name: str) -> bool:
    return bool(_NAME.match(name))


def cgroup_v1(root: Path = Path("/sys/fs/cgroup")) -> bool:
    return not (root / "cgroup.controllers").exists()


def kubeadm_patches(minor: str, v1: bool | None = None) -> list[str]:
    """kind kubeadmConfigPatches this host needs: from 1.35 the kubelet refuses cgroup v1 unless told."""
    if (cgroup_v1() if v1 is None else v1) and tuple(int(p) for p in minor.split(".")) >= (1, 35):
        return ["kind: KubeletConfiguration\nfailCgroupV1: false\n"]
    return []


def kind_config(
    workers: int = 1,
    ip_family: str = "ipv4",
    kubeadm_patches: Sequence[str] = (),
    containerd_patches: Sequence[str] = (),
) -> dict[str, Any]:
    """One control-plane plus `workers` workers, kindnet as the CNI (kind's default); kubeadm_patches
    are kind's kubeadmConfigPatches (e.g. the kubelet's failCgroupV1 on a cgroup v1 host), containerd_patches
    its containerdConfigPatches (e.g. the registry hosts folder a mirror needs)."""
    if workers < 0:
        raise ValueError("workers must be 0 or more")
    if ip_family not in IP_FAMILIES:
        raise ValueError(f"ip family must be one of {', '.join(IP_FAMILIES)}")
    config: dict[str, Any] = {
        "kind": "Cluster",
        "apiVersion": "kind.x-k8s.io/v1alpha4",
        "nodes": [{"role": "control-plane"}] + [{"role": "worker"} for _ in range(workers)],
    }
    if ip_family != "ipv4":
        config["networking"] = {"ipFamily": ip_family}
    if kubeadm_patches:
        config["kubeadmConfigPatches"] = list(kubeadm_patches)
    if containerd_patches:
        config["containerdConfigPatches"] = list(containerd_patches)
    return config


def render_config(config: dict[str, Any]) -> str:
    return yaml.safe_dump(config, sort_keys=False)


@dataclass
class Cluster:
    """One kind cluster this run uses; `created` says whether this run made it (and may delete it), `deleted`
    that a failed create deleted it already (after exporting its nodes' logs: create)."""

    name: str
    kubeconfig: Path
    created: bool
    kind: str
    deleted: bool = False

    def nodes(self, run: Runner) -> list[str]:
        return sorted(names(check(run, commands.kind_get_nodes(self.kind, self.name), f"nodes of {self.name}")))

    def delete(self, run: Runner) -> None:
        """`kind delete cluster`, its nodes killed first on podman. kind removes nodes with `<engine> rm -f`:
        docker's kills at once, podman's sends the node's stop signal and waits out its stop timeout (10 s),
        which a node's systemd with kubelet and pods on it outlasts: 12 s per cluster where a kill first takes
        2 s. Only the stop differs: the same removal follows, and leaves nothing behind on either engine."""
        engine = commands.engine()
        if engine == "podman":
            try:
                nodes = self.nodes(run)
            except CommandError:
                nodes = []  # kind's delete below says what is wrong
            if nodes:
                # A node already stopped makes this fail; kind's removal below is what must not.
                run(commands.kill(engine, nodes), timeout=60)
        check(
            run,
            commands.kind_delete(self.kind, self.name, str(self.kubeconfig)),
            f"delete cluster {self.name}",
            timeout=300,
        )


def existing_clusters(run: Runner, kind: str) -> list[str]:
    return names(check(run, commands.kind_get_clusters(kind), "list kind clusters"))


def prepare(kind: str, name: str, workdir: Path) -> Cluster:
    """The cluster this run will create (not made yet): teardown can delete it whatever happens next."""
    return Cluster(name, workdir / f"{name}.kubeconfig", True, kind)


# Why `kind create cluster` failed, as its output (stderr) says it. kind ends with its own `ERROR: failed to create
# cluster: ...` line; when kubeadm failed, the output kind adds after it (`Command Output: ...`) is kubeadm's, and
# kind runs kubeadm with --v=6, so kubeadm's error comes with Go stack traces: each message of the error chain
# followed by the stack where it was made, `error execution phase <phase>` last, then its stack down to
# `main.main` and `runtime.goexit`. The last lines of the output, which CommandError shows, are always those frames.
_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_FRAME_FILE = re.compile(r"^\s+\S+\.(?:go|s):\d+(?: \+0x[0-9a-f]+)?$")  # "\tk8s.io/.../runner.go:262"
_KUBEADM_OUTPUT = "Command Output:"
_ALREADY_EXISTS = "already exist for a cluster with the name"


def _stack_frame(lines: Sequence[str], i: int) -> bool:
    """A Go stack trace line: an indented file:line, or the function line right above one."""
    if _FRAME_FILE.match(lines[i]):
        return True
    return not lines[i][:1].isspace() and i + 1 < len(lines) and bool(_FRAME_FILE.match(lines[i + 1]))


def _message_before(lines: Sequence[str], i: int) -> int | None:
    """The line before line i that is a message, not a stack frame nor blank; None at the top."""
    j = i - 1
    while j >= 0 and (not lines[j].strip() or _stack_frame(lines, j)):
        j -= 1
    return j if j >= 0 else None


def create_failure(output: str) -> list[str]:
    """The lines of a failed `kind create cluster`'s output that say what failed: kind's `ERROR:` line(s), and
    kubeadm's `error execution phase ...` line with the message before it (stack frames skipped). A kubeadm that
    failed before any phase (a config it cannot read) gives the message before its first stack trace instead.
    In the order printed; empty when the output has none of them."""
    lines = [_ANSI.sub("", line).rstrip() for line in output.splitlines()]
    picked: list[int] = []
    phases = False
    for i, line in enumerate(lines):
        text = line.strip()
        if text.startswith("ERROR:"):
            picked.append(i)
        elif text.startswith("error execution phase"):
            phases = True
            picked += [j for j in (_message_before(lines, i), i) if j is not None]
    if not phases:
        start = next((i for i, line in enumerate(lines) if line.startswith(_KUBEADM_OUTPUT)), None)
        if start is not None:
            first = next((i for i in range(start, len(lines)) if _stack_frame(lines, i)), None)
            if first is not None and (before := _message_before(lines, first)) is not None:
                picked.append(before)
    found = []
    for i in sorted(set(picked)):
        text = lines[i].strip().removeprefix(_KUBEADM_OUTPUT).strip()
        if text and text not in found:
            found.append(text)
    return found


class CreateFailed(CommandError):
    """`kind create cluster` failed. The message puts what failed first (create_failure: kind's ERROR line,
    kubeadm's failed phase), then where the nodes' logs went and the command; `logs` is that folder or None."""

    def __init__(self, result: Completed, what: str, logs: Path | None, notes: Sequence[str] = ()) -> None:
        self.result = result
        self.logs = logs
        self.reason = create_failure(result.stderr + "\n" + result.stdout)
        shown = self.reason or [
            line.strip() for line in (result.stderr or result.stdout).strip().splitlines()[-5:]
        ] or ["(no output)"]  # fmt: skip
        where = f"; the nodes' logs are in {logs}" if logs is not None else ""
        extra = "".join(f"; {note}" for note in notes)
        RuntimeError.__init__(
            self, f"{what}: {' | '.join(shown)}{where}{extra} (`{' '.join(result.argv)}` exited {result.rc})"
        )


def export_logs(run: Runner, kind: str, name: str, dest: Path) -> Path | None:
    """`kind export logs` of a cluster into dest/kind-logs; None when kind could not (its stderr in
    dest/kind-export-logs.err)."""
    dest.mkdir(parents=True, exist_ok=True)
    result = run(commands.kind_export_logs(kind, name, str(dest / "kind-logs")), timeout=600)
    if result.rc != 0:
        (dest / "kind-export-logs.err").write_text(result.stderr)
        return None
    return dest / "kind-logs"


def create(
    run: Runner,
    cluster: Cluster,
    image: str,
    workers: int,
    ip_family: str,
    kubeadm_patches: Sequence[str] = (),
    containerd_patches: Sequence[str] = (),
    logs: Path | None = None,
) -> Cluster:
    """Create the cluster (kind create cluster --retain). When that fails, the nodes kind leaves have their logs
    exported into `logs` (a diagnostics folder, if given), then the cluster is deleted whatever the export did,
    and CreateFailed says what failed."""
    if cluster.name in existing_clusters(run, cluster.kind):
        cluster.created = False  # not ours: never delete it
        raise RuntimeError(f"a kind cluster named {cluster.name} exists already; reuse it with --kind-cluster")
    config = cluster.kubeconfig.with_name(f"{cluster.name}.kind.yaml")
    config.write_text(render_config(kind_config(workers, ip_family, kubeadm_patches, containerd_patches)))
    argv = commands.kind_create(cluster.kind, cluster.name, image, str(config), str(cluster.kubeconfig))
    result = run(argv, timeout=900)
    if result.rc == 0:
        return cluster
    what = f"create kind cluster {cluster.name} ({image.split('@', 1)[0]})"  # the digest is in the command
    if _ALREADY_EXISTS in result.stderr:
        # Made by someone else since the check above: kind created nothing, and the nodes are not ours to delete.
        cluster.created = False
        raise CreateFailed(result, what, None)
    exported: Path | None = None
    notes: list[str] = []
    try:
        if logs is not None:
            exported = export_logs(run, cluster.kind, cluster.name, logs)
            if exported is None:
                notes.append(f"kind export logs failed (see {logs / 'kind-export-logs.err'})")
    finally:
        # Always, also when the export failed or was interrupted: a failed create leaves no node behind.
        try:
            cluster.delete(run)
            cluster.deleted = True
        except CommandError as exc:
            notes.append(f"deleting the cluster failed: {exc}")
    raise CreateFailed(result, what, exported, notes)


def reuse(run: Runner, kind: str, name: str, workdir: Path) -> Cluster:
    if name not in existing_clusters(run, kind):
        raise RuntimeError(f"--kind-cluster {name}: no such kind cluster (kind get clusters)")
    kubeconfig = workdir / f"{name}.kubeconfig"
    kubeconfig.write_text(check(run, commands.kind_get_kubeconfig(kind, name), f"kubeconfig of {name}"))
    kubeconfig.chmod(0o600)
    return Cluster(name, kubeconfig, False, kind)

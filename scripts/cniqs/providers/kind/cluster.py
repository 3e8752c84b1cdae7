"""kind clusters: the generated config, unique names, create/reuse/delete with a private kubeconfig."""

from __future__ import annotations

import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from cniqs.common.run import Runner, check
from cniqs.providers.k8s import parse
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
    """One kind cluster this run uses; `created` says whether this run made it (and may delete it)."""

    name: str
    kubeconfig: Path
    created: bool
    kind: str

    def nodes(self, run: Runner) -> list[str]:
        return sorted(names(check(run, commands.kind_get_nodes(self.kind, self.name), f"nodes of {self.name}")))

    def delete(self, run: Runner) -> None:
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


def create(
    run: Runner,
    cluster: Cluster,
    image: str,
    workers: int,
    ip_family: str,
    kubeadm_patches: Sequence[str] = (),
    containerd_patches: Sequence[str] = (),
) -> Cluster:
    if cluster.name in existing_clusters(run, cluster.kind):
        cluster.created = False  # not ours: never delete it
        raise RuntimeError(f"a kind cluster named {cluster.name} exists already; reuse it with --kind-cluster")
    config = cluster.kubeconfig.with_name(f"{cluster.name}.kind.yaml")
    config.write_text(render_config(kind_config(workers, ip_family, kubeadm_patches, containerd_patches)))
    check(
        run,
        commands.kind_create(cluster.kind, cluster.name, image, str(config), str(cluster.kubeconfig)),
        f"create kind cluster {cluster.name} ({image})",
        timeout=900,
    )
    return cluster


def reuse(run: Runner, kind: str, name: str, workdir: Path) -> Cluster:
    if name not in existing_clusters(run, kind):
        raise RuntimeError(f"--kind-cluster {name}: no such kind cluster (kind get clusters)")
    kubeconfig = workdir / f"{name}.kubeconfig"
    kubeconfig.write_text(check(run, commands.kind_get_kubeconfig(kind, name), f"kubeconfig of {name}"))
    kubeconfig.chmod(0o600)
    return Cluster(name, kubeconfig, False, kind)

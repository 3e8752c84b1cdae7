"""The kind Backend: the shared Kubernetes backend over a kind cluster, its nodes reached with docker."""

from __future__ import annotations

from pathlib import Path

from cniqs.common.run import Runner
from cniqs.provider import Targets
from cniqs.providers.k8s.backend import KubeBackend
from cniqs.providers.k8s.nodes import Nodes
from cniqs.providers.kind import nodebuild
from cniqs.providers.kind.cluster import Cluster
from cniqs.providers.kind.commands import DOCKER


class KindBackend(KubeBackend):
    def __init__(
        self,
        run: Runner,
        cluster: Cluster,
        targets: Targets,
        pod_image: str,
        *,
        rebuild: bool = False,
        namespace: str | None = None,
    ) -> None:
        def builder(arch: str, force: bool) -> Path:
            return nodebuild.build(run, arch, force=force)

        super().__init__(
            "kind", Nodes(run, DOCKER), cluster.name, cluster.kubeconfig, cluster.nodes(run), builder, targets,
            pod_image, rebuild=rebuild, namespace=namespace,
        )  # fmt: skip

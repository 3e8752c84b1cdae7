"""The kind Backend: the shared Kubernetes backend over a kind cluster, its nodes reached with docker or podman."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from cniqs.common.run import Runner, check
from cniqs.provider import Targets
from cniqs.providers.k8s.backend import KubeBackend
from cniqs.providers.k8s.nodes import Nodes
from cniqs.providers.kind import commands, nodebuild, release
from cniqs.providers.kind.cluster import Cluster
from cniqs.providers.kind.commands import DOCKER, DockerAccess


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
        access: DockerAccess = DOCKER,
        build_plugin: Callable[[str, bool], Path] | None = None,
    ) -> None:
        def builder(arch: str, force: bool) -> Path:
            if build_plugin is not None:
                return build_plugin(arch, force)
            return nodebuild.build(run, arch, force=force)

        self.kind = cluster.kind
        super().__init__(
            "kind", Nodes(run, access), cluster.name, cluster.kubeconfig, cluster.nodes(run), builder, targets,
            pod_image, rebuild=rebuild, namespace=namespace,
        )  # fmt: skip
        self.load_checked = False

    def check_load(self) -> None:
        """Refused (one line, the kind release needed) when this kind's `kind load` cannot read the nodes'
        containerd config version: kind v0.31 and older refuse the node images of kind v0.32 and later."""
        if not self.load_checked:
            release.check_load(self.run, self.kind, self.shell.access, self.nodes)
            self.load_checked = True

    def install_daemonset_nowait(self, entry: dict[str, Any] | None = None) -> str:
        self.check_load()  # before the installer image is built
        return super().install_daemonset_nowait(entry)

    def load_image(self, archive: Path) -> None:
        """The archive into every node's containerd with kind's own `kind load image-archive`."""
        self.check_load()
        self.loaded_images.append(archive)
        argv = commands.kind_load_image_archive(self.kind, self.cluster, str(archive))
        check(self.run, argv, f"kind load image-archive {archive.name} into {self.cluster}", timeout=300)

"""The kind Backend: the shared Kubernetes backend over a kind cluster, its nodes reached with docker or podman."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cniqs.common.run import Runner, check
from cniqs.provider import Targets
from cniqs.providers.cluster.backend import ClusterBackend
from cniqs.providers.cluster.nodes import Nodes
from cniqs.providers.kind import commands, mirror, nodebuild, release
from cniqs.providers.kind.cluster import Cluster
from cniqs.providers.kind.commands import DOCKER, ContainerAccess
from cniqs.providers.kind.nodeshell import ShellRunner


class KindBackend(ClusterBackend):
    def __init__(
        self,
        run: Runner,
        cluster: Cluster,
        targets: Targets,
        pod_image: str,
        *,
        rebuild: bool = False,
        namespace: str | None = None,
        access: ContainerAccess = DOCKER,
        registry: mirror.Registry | None = None,
    ) -> None:
        def builder(arch: str, force: bool) -> Path:
            return nodebuild.build_for_nodes(run, arch, force=force)

        self.kind = cluster.kind
        self.registry = registry
        # The nodes' commands through a shell kept open on each node (cniqs.providers.kind.nodeshell).
        self.shells = ShellRunner(run, access)
        super().__init__(
            "kind", Nodes(self.shells, access), cluster.name, cluster.kubeconfig, cluster.nodes(run), builder, targets,
            pod_image, rebuild=rebuild, namespace=namespace,
        )  # fmt: skip
        self.load_checked = False

    def close(self) -> None:
        try:
            self.shells.close()
        finally:
            super().close()

    def check_load(self) -> None:
        """Refused (one line, the kind release needed) when this kind's `kind load` cannot read the nodes'
        containerd config version: kind v0.31 and older refuse the node images of kind v0.32 and later."""
        if not self.load_checked:
            release.check_load(self.run, self.kind, self.shell.access, self.nodes)
            self.load_checked = True

    def install_daemonset_nowait(self, entry: dict[str, Any] | None = None) -> str:
        if self.registry is None:
            self.check_load()  # before the installer image is built
        return super().install_daemonset_nowait(entry)

    def load_image(self, archive: Path) -> None:
        """The archive into every node's containerd with kind's own `kind load image-archive`."""
        self.check_load()
        self.loaded_images.append(archive)
        argv = commands.kind_load_image_archive(self.kind, self.cluster, str(archive))
        check(self.run, argv, f"kind load image-archive {archive.name} into {self.cluster}", timeout=300)

    def provide_image(self, archive: Path, image: str) -> str:
        """Without a mirror, kind loads the archive; with one, the nodes pull the image from it (never pushed by
        a test run: `python -m cniqs.site push` or a copy of the archive puts it there)."""
        if self.registry is None:
            return super().provide_image(archive, image)
        mirror.require(self.registry, [image], source=f"oci-archive:{archive}")
        return self.registry.mirror.ref(image)

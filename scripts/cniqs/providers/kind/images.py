"""The images one kind cluster runs, from their upstream registries or all through the user's mirror, and how
the mirror's reach the nodes: the engine pulls the node image first, kind's containerd config patch and
hosts.toml files in every node send containerd's pulls to the mirror."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from cniqs.common.run import Runner, check
from cniqs.providers.cluster.nodes import Nodes, NodeShellFiles
from cniqs.providers.kind import commands, mirror, versions
from cniqs.providers.kind.options import KindOptions


@dataclass(frozen=True)
class Images:
    """What one cluster runs, as the image source gives it: the node image, the test pods' image."""

    node: str
    pod: str
    note: str
    registry: mirror.Registry | None


def images(opts: KindOptions, entry: versions.NodeImage, pod_image: str) -> Images:
    """The images of one cluster; with a mirror, checked there before anything is created (MirrorProblem)."""
    chosen = mirror.parse(opts.mirror)
    if chosen is None:
        return Images(entry.image, pod_image, f"{entry.image} ({entry.source})", None)
    registry = mirror.Registry(chosen)
    registry.answers()
    node = mirror.node_image(registry, entry.image, entry.minor)
    mirror.require(registry, [pod_image])
    return Images(node.image, chosen.ref(pod_image), node.note, registry)


def pull(run: Runner, engine: str, image: Images) -> None:
    """With a mirror the engine pulls the node image from it first (kind then finds it in the store)."""
    if image.registry is not None:
        insecure = image.registry.mirror.insecure
        check(run, commands.pull(engine, image.node, insecure=insecure), f"pull {image.node}", timeout=900)


def containerd_patches(image: Images) -> list[str]:
    return [mirror.CONTAINERD_PATCH] if image.registry is not None else []


def configure_mirror(run: Runner, engine: str, node_names: Sequence[str], registry: mirror.Registry | None) -> None:
    """containerd's hosts.toml files in every node: pulls of docker.io, registry.k8s.io and the mirror go to it."""
    if registry is None:
        return
    nodes = Nodes(run, commands.access(engine))
    wanted = mirror.node_files(registry.mirror)
    folders = sorted({path.rsplit("/", 1)[0] for path in wanted})
    for node in node_names:
        check(run, nodes.access.exec_argv(node, ["mkdir", "-p", *folders]), f"make {mirror.CERTS_DIR} on {node}")
        files = NodeShellFiles(nodes, node)
        for path, text in wanted.items():
            files.write_atomic(path, text)

"""The images one kind cluster runs, from their upstream registries or all through the user's mirror, and how
the mirror's reach the nodes: the engine pulls the node image first, kind's containerd config patch and
hosts.toml files in every node send containerd's pulls to the mirror."""

from __future__ import annotations

import secrets
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from cniqs.common.run import Runner, check
from cniqs.providers.cluster.nodes import Nodes, NodeShellFiles, on_each
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
    """containerd's hosts.toml files in every node: pulls of docker.io, registry.k8s.io and the mirror go to it.

    All nodes at once, each in one exec: the files arrive as one archive in a folder of their own under
    certs.d, and each is renamed over its place from there (containerd never reads half a file)."""
    if registry is None:
        return
    nodes = Nodes(run, commands.access(engine))
    wanted = mirror.node_files(registry.mirror)
    rel = {path: str(PurePosixPath(path).relative_to(mirror.CERTS_DIR)) for path in wanted}
    with tempfile.TemporaryDirectory(prefix="cniqs-hosts-") as tmp:
        local = Path(tmp)
        for path, text in wanted.items():
            file = local / rel[path]
            file.parent.mkdir(parents=True, exist_ok=True)
            file.write_text(text)
            file.chmod(0o644)
        on_each(list(node_names), lambda node: _write_hosts(NodeShellFiles(nodes, node), local, rel))


def _write_hosts(files: NodeShellFiles, local: Path, rel: dict[str, str]) -> None:
    """rel: each file's path in the node -> its path in local (and in the staging folder)."""
    staging = f"{mirror.CERTS_DIR}/.cniqs-{secrets.token_hex(4)}"
    with files.batch():
        files.make_dirs(sorted({path.rsplit("/", 1)[0] for path in rel}))
        files.copy_tree(local, staging)
        for path, inside in rel.items():
            files.rename(f"{staging}/{inside}", path)
        files.remove_tree(staging)

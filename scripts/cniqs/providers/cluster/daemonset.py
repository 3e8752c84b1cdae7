"""Install on any cluster: the installer image (OCI archive, built here without a registry) and its DaemonSet.

    python -m cniqs.providers.cluster.daemonset build [--from DIR] [--out DIR]   # the image archive
    python -m cniqs.providers.cluster.daemonset manifest [--image NAME] [--bin DIR] [--conf DIR] [--socket PATH]

The image holds one node build (cniqs.ship.build, on a Linux host or in plugin/Dockerfile's container): the
plugin (the same one-folder build every provider installs), the installer (cniqs.install.nodeinstall, embedded the same
way) and the C library they run on, from the machine or container that built them (so its glibc floor is
the build's, as for the plugin). The installer asks the node's runtime over CRI itself (cniqs.common.cristatus),
so there is no crictl in the image. Putting the image together is writing files into a tar: any host does
it, for the build's architecture (--from the container build's folder, e.g. build/container/linux-arm64 on
an Apple silicon Mac), with no Go, PyInstaller or ldd. To use it on a cluster you did not make, push the
archive to your registry (e.g. `skopeo copy oci-archive:FILE docker://REGISTRY/cniqs-installer:TAG`) and
render the manifest with --image.

The DaemonSet runs in kube-system on every node (it tolerates every taint), mounts the node's CNI bin and
conf dirs and its runtime's socket, is ready only when the runtime has loaded the chain, and removes
exactly what it added when its pod stops for good (preStop: `uninstall --final`). It has no API access at all:
no ServiceAccount token, no RBAC. Its container runs as root (the host's CNI dirs are root's) with every
capability dropped, no privilege escalation, a read-only root filesystem (an emptyDir for its scratch),
the runtime's default seccomp profile, and resource requests and limits.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cniqs.install import executable, nodeinstall
from cniqs.install.conflist import chain_entry
from cniqs.providers.local import images
from cniqs.resources import build_root
from cniqs.ship import build

NAME = "cniqs-installer"
NAMESPACE = "kube-system"
IMAGE_REPO = "cniqs.local/cniqs-installer"
LABEL = {"app.kubernetes.io/name": NAME}


# What the installer needs, as a cluster admin reviews it. It runs as root only because the host's CNI dirs
# (/opt/cni/bin, /etc/cni/net.d) and the runtime's socket belong to root with no group or other write access:
# as their owner it writes, renames, removes and chmods its own files there, and connects to the socket,
# without any capability. It never chowns (copies keep the modes only), so every capability is dropped.
SECURITY_CONTEXT: dict[str, Any] = {
    "runAsUser": 0,
    "runAsNonRoot": False,
    "privileged": False,
    "allowPrivilegeEscalation": False,
    "capabilities": {"drop": ["ALL"]},
    "readOnlyRootFilesystem": True,
    "seccompProfile": {"type": "RuntimeDefault"},
}
# Its loop re-applies every few seconds (one small Python process); the readiness probe starts the
# installer again every 2 s beside it (one CRI call). Limits leave room for both at once.
RESOURCES = {
    "requests": {"cpu": "10m", "memory": "64Mi"},
    "limits": {"cpu": "500m", "memory": "256Mi"},
}


class ImageBuildError(RuntimeError):
    """The image cannot be put together from what is there; the message says what to run."""


def _tree(folder: Path, prefix: str) -> list[images.Entry]:
    """folder's files and dirs under prefix in the image ("": at its root)."""
    entries = [images.Entry(prefix, "dir", mode=0o755)] if prefix else []
    for path in sorted(folder.rglob("*")):
        rel = "/".join(p for p in (prefix, path.relative_to(folder).as_posix()) if p)
        if path.is_symlink():
            entries.append(images.Entry(rel, "symlink", target=str(path.readlink())))
        elif path.is_dir():
            entries.append(images.Entry(rel, "dir", mode=0o755))
        else:
            entries.append(images.Entry(rel, "file", path.read_bytes(), mode=path.stat().st_mode & 0o755))
    return entries


def image_tag(plugin: Path, installer: Path, libc: Path) -> str:
    """Content-addressed tag: a new build is a new image, so nodes never run a stale cached one."""
    parts = [executable.manifest(plugin), executable.manifest(installer), executable.manifest(libc)]
    h = hashlib.sha256(json.dumps(parts, sort_keys=True).encode())
    return f"{IMAGE_REPO}:{h.hexdigest()[:12]}"


@dataclass(frozen=True)
class InstallerImage:
    archive: Path  # the OCI archive
    name: str  # its image name (content-addressed tag)
    plugin: Path  # the plugin build it carries (whose glibc floor the nodes must meet)


def container_build_hint(arch: str) -> str:
    """What to run where this host builds no node executable: README step 2's container build, then this."""
    dest = f"build/container/linux-{arch}"
    return (
        f"build in a container (README step 2): docker buildx build --platform linux/{arch} -f plugin/Dockerfile "
        f"--output type=local,dest={dest} . ; then: python -m cniqs.providers.cluster.daemonset build --from {dest}"
    )


def node_build(folder: Path) -> Path:
    """The plugin folder of a node build's folder (holding cni-quickstart/, cniqs-installer/, libc/): the
    native build's (build/plugin/linux-ARCH) or the container build's (README step 2's dest)."""
    plugin = folder / executable.NAME
    wanted = [plugin / executable.NAME, build.installer_of(plugin) / build.INSTALLER_NAME, build.libc_of(plugin)]
    missing = [p.relative_to(folder).as_posix() for p in wanted if not p.exists()]
    if missing:
        arch = build.elf_arch(plugin / executable.NAME) if (plugin / executable.NAME).is_file() else build.host_arch()
        raise ImageBuildError(
            f"{folder} is not a node build of this tree (no {', '.join(missing)}; a build from before the installer "
            f"was built beside the plugin?): python -m cniqs.ship.build on Linux, or {container_build_hint(arch)}"
        )
    return plugin


def build_image(plugin: Path, out: Path | None = None) -> InstallerImage:
    """The installer image of a node build (plugin: its plugin folder, the installer and the C library beside
    it), for the architecture it was built for. Only files into a tar: no build runs here."""
    plugin = node_build(plugin.parent)
    installer = build.installer_of(plugin)
    arch = build.elf_arch(plugin / executable.NAME)
    libc = build.libc_of(plugin)
    name = image_tag(plugin, installer, libc)
    entries: list[images.Entry] = [images.Entry("tmp", "dir", mode=0o1777)]
    entries += _tree(libc, "")
    entries += _tree(plugin, "plugin")
    entries += _tree(installer, "installer")
    layer = images.tar_bytes(_unique(entries))
    built = images.image_archive(name, layer, [f"/installer/{NAME}", "--help"], arch)
    folder = out or build_root()
    folder.mkdir(parents=True, exist_ok=True)
    return InstallerImage(images.write(built, folder), name, plugin)


def build_here(force: bool = False) -> Path:
    """This host's own node build (its plugin folder); on a host that cannot make one, what to run instead."""
    if sys.platform != "linux":
        raise ImageBuildError(
            f"this host is {sys.platform}, the native build needs Linux: {container_build_hint(build.host_arch())}"
        )
    return build.build_local(force=force)


def _unique(entries: list[images.Entry]) -> list[images.Entry]:
    seen: dict[str, images.Entry] = {}
    for entry in entries:
        seen.setdefault(entry.path, entry)
    return list(seen.values())


def manifest(
    image: str,
    *,
    bin_dir: str = "/opt/cni/bin",
    conf_dir: str = "/etc/cni/net.d",
    socket: str = "/run/containerd/containerd.sock",
    entry: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The DaemonSet: the host paths are the node's (kind's by default; the kube provider passes its own)."""
    volumes, mounts = _volumes(bin_dir, conf_dir, socket)
    container = _container(image, mounts, json.dumps(entry or chain_entry(), sort_keys=True))
    return {
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": {"name": NAME, "namespace": NAMESPACE, "labels": LABEL},
        "spec": {
            "selector": {"matchLabels": LABEL},
            "template": {
                "metadata": {"labels": LABEL},
                "spec": {
                    "automountServiceAccountToken": False,
                    "securityContext": {"seccompProfile": {"type": "RuntimeDefault"}},
                    # Like every CNI installer: it must run where pod networking is broken or not there yet.
                    "hostNetwork": True,
                    "tolerations": [{"operator": "Exists"}],
                    "priorityClassName": "system-node-critical",
                    "terminationGracePeriodSeconds": 30,
                    "containers": [container],
                    "volumes": volumes,
                },
            },
        },
    }


def _volumes(bin_dir: str, conf_dir: str, socket: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The pod's volumes (the node's CNI dirs and runtime socket, the installer's scratch) and their mounts."""
    volumes: list[dict[str, Any]] = [
        {"name": "cni-bin", "hostPath": {"path": bin_dir, "type": "Directory"}},
        {"name": "cni-conf", "hostPath": {"path": conf_dir, "type": "Directory"}},
        {"name": "runtime", "hostPath": {"path": socket, "type": "Socket"}},
    ]
    mounts = [
        {"name": "cni-bin", "mountPath": "/host/cni/bin"},
        {"name": "cni-conf", "mountPath": "/host/cni/net.d"},
        {"name": "runtime", "mountPath": "/run/runtime.sock"},
        {"name": "state", "mountPath": str(nodeinstall.STATE)},
    ]
    # The installer's own scratch (the lock its install loop shares with preStop's uninstall, the not-ready
    # reason, the final mark): the only path it writes besides the host's CNI dirs, under a read-only root.
    volumes.append({"name": "state", "emptyDir": {"medium": "Memory", "sizeLimit": "1Mi"}})
    return volumes, mounts


def _container(image: str, mounts: list[dict[str, Any]], chain: str) -> dict[str, Any]:
    """The installer's container: its install loop, its readiness (the runtime loaded chain), its preStop."""
    exe = f"/installer/{NAME}"
    paths = ["--bin", "/host/cni/bin", "--conf", "/host/cni/net.d"]
    return {
        "name": "installer",
        "image": image,
        # An image built and loaded here is on every node already: never try a registry for it.
        "imagePullPolicy": "Never" if image.startswith(f"{IMAGE_REPO}:") else "IfNotPresent",
        "command": [exe, "install", *paths, "--plugin", "/plugin", "--entry", chain],
        "volumeMounts": mounts,
        "readinessProbe": {
            "exec": {"command": [exe, "ready", "--socket", "/run/runtime.sock", "--entry", chain]},
            "periodSeconds": 2,
            "timeoutSeconds": 20,
            "failureThreshold": 1,
        },
        "lifecycle": {"preStop": {"exec": {"command": [exe, "uninstall", *paths, "--final"]}}},
        "securityContext": SECURITY_CONTEXT,
        "resources": RESOURCES,
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m cniqs.providers.cluster.daemonset", description=__doc__.split("\n\n")[0]
    )
    sub = parser.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("build", help="build the installer image archive")
    b.add_argument("--out", type=Path, default=None)
    b.add_argument(
        "--from", dest="source", type=Path, default=None, metavar="DIR",
        help="a node build's folder, e.g. the container build's build/container/linux-ARCH (default: build here)",
    )  # fmt: skip
    b.add_argument("--force", action="store_true", help="rebuild here even if the sources did not change")
    m = sub.add_parser("manifest", help="print the DaemonSet (JSON, which kubectl apply -f - takes)")
    m.add_argument("--image", required=True)
    m.add_argument("--bin", default="/opt/cni/bin")
    m.add_argument("--conf", default="/etc/cni/net.d")
    m.add_argument("--socket", default="/run/containerd/containerd.sock")
    args = parser.parse_args(argv)
    if args.cmd == "build":
        try:
            plugin = node_build(args.source) if args.source else build_here(force=args.force)
            image = build_image(plugin, args.out)
        except ImageBuildError as exc:
            print(f"cniqs: {exc}", file=sys.stderr)
            return 1
        print(f"{image.archive}\t{image.name}")
    else:
        print(json.dumps(manifest(args.image, bin_dir=args.bin, conf_dir=args.conf, socket=args.socket), indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

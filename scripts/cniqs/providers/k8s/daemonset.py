"""Install on any cluster: the installer image (OCI archive, built here without a registry) and its DaemonSet.

    python -m cniqs.providers.k8s.daemonset build [--out DIR]     # the image archive for this machine's architecture
    python -m cniqs.providers.k8s.daemonset manifest [--image NAME] [--bin DIR] [--conf DIR] [--socket PATH]

The image holds the frozen plugin (the same one-folder build every tier installs), the frozen installer
(cniqs.nodeinstall), crictl for the readiness check, and the C library those need, copied from this
machine (so its glibc floor is this machine's, as for the plugin). To use it on a cluster you did not
make, push the archive to your registry (e.g. `skopeo copy oci-archive:FILE docker://REGISTRY/cniqs-installer:TAG`)
and render the manifest with --image.

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
import subprocess
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cniqs import build, kubebin, nodeinstall
from cniqs.conflist import chain_entry
from cniqs.providers.local import images
from cniqs.resources import build_root

NAME = "cniqs-installer"
NAMESPACE = "kube-system"
IMAGE_REPO = "cniqs.local/cniqs-installer"
INSTALLER = Path(__file__).resolve().parents[2] / "nodeinstall.py"
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
# installer and crictl every 2 s beside it. Limits leave room for both at once.
RESOURCES = {
    "requests": {"cpu": "10m", "memory": "64Mi"},
    "limits": {"cpu": "500m", "memory": "256Mi"},
}


def shared_libraries(executables: Iterable[Path]) -> list[Path]:
    """Every shared library the ELF files need, as ldd resolves them here (the dynamic loader included)."""
    found: set[Path] = set()
    for path in executables:
        proc = subprocess.run(["ldd", str(path)], capture_output=True, text=True, check=False)
        for line in proc.stdout.splitlines():
            parts = line.split()
            candidate = parts[2] if "=>" in parts and len(parts) > 2 else parts[0] if parts else ""
            if candidate.startswith("/"):
                found.add(Path(candidate))
    return sorted(found)


def _elf_files(folder: Path) -> list[Path]:
    return [
        p for p in sorted(folder.rglob("*")) if p.is_file() and not p.is_symlink() and p.read_bytes()[:4] == b"\x7fELF"
    ]


def _tree(folder: Path, prefix: str) -> list[images.Entry]:
    entries = [images.Entry(prefix, "dir", mode=0o755)]
    for path in sorted(folder.rglob("*")):
        rel = f"{prefix}/{path.relative_to(folder).as_posix()}"
        if path.is_symlink():
            entries.append(images.Entry(rel, "symlink", target=str(path.readlink())))
        elif path.is_dir():
            entries.append(images.Entry(rel, "dir", mode=0o755))
        else:
            entries.append(images.Entry(rel, "file", path.read_bytes(), mode=path.stat().st_mode & 0o755))
    return entries


def build_installer(force: bool = False) -> Path:
    """The frozen installer's one-folder build (cached while the library's sources are unchanged)."""
    sources = sorted(INSTALLER.parent.rglob("*.py"))
    digest = hashlib.sha256(b"".join(p.read_bytes() for p in sources)).hexdigest()
    root = build_root() / f"installer-linux-{build.host_arch()}"
    stamp = root / "source.sha256"
    folder = root / NAME
    if not force and (folder / NAME).is_file() and stamp.is_file() and stamp.read_text() == digest:
        return folder
    root.mkdir(parents=True, exist_ok=True)
    build.freeze(INSTALLER, NAME, INSTALLER.parents[1], root, ("tkinter", "unittest", "pydoc", "doctest"))
    stamp.write_text(digest)
    return folder


def image_tag(plugin: Path, installer: Path) -> str:
    """Content-addressed tag: a new build is a new image, so nodes never run a stale cached one."""
    h = hashlib.sha256(json.dumps([build.manifest(plugin), build.manifest(installer)], sort_keys=True).encode())
    return f"{IMAGE_REPO}:{h.hexdigest()[:12]}"


@dataclass(frozen=True)
class InstallerImage:
    archive: Path  # the OCI archive
    name: str  # its image name (content-addressed tag)
    plugin: Path  # the plugin build it carries (whose glibc floor the nodes must meet)


def build_image(out: Path | None = None, force: bool = False, crictl: Path | None = None) -> InstallerImage:
    """The installer image for this machine's architecture. crictl: a crictl for this architecture built
    elsewhere (cniqs.arm64 cross-builds it outside the emulated root filesystem, which has no Go), else built
    here."""
    plugin = build.build_local(force=force)
    installer = build_installer(force=force)
    crictl = crictl or kubebin.build_tools([kubebin.CRICTL]) / "crictl"
    name = image_tag(plugin, installer)
    libs = shared_libraries([*_elf_files(plugin), *_elf_files(installer)])
    entries: list[images.Entry] = [images.Entry("bin", "dir", mode=0o755), images.Entry("tmp", "dir", mode=0o1777)]
    entries.append(images.Entry("bin/crictl", "file", crictl.read_bytes(), mode=0o755))
    for lib in libs:
        entries += _parents(lib)
        entries.append(images.Entry(str(lib).lstrip("/"), "file", lib.resolve().read_bytes(), mode=0o755))
    entries += _tree(plugin, "plugin")
    entries += _tree(installer, "installer")
    layer = images.tar_bytes(_unique(entries))
    built = images.image_archive(name, layer, [f"/installer/{NAME}", "--help"], build.host_arch())
    folder = out or build_root()
    folder.mkdir(parents=True, exist_ok=True)
    return InstallerImage(images.write(built, folder), name, plugin)


def _parents(path: Path) -> list[images.Entry]:
    return [images.Entry(str(p).lstrip("/"), "dir", mode=0o755) for p in reversed(path.parents) if str(p) != "/"]


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
    """The DaemonSet: the host paths are the node's (kind's by default; the kube tier passes its own)."""
    chain = json.dumps(entry or chain_entry(), sort_keys=True)
    exe = f"/installer/{NAME}"
    paths = ["--bin", "/host/cni/bin", "--conf", "/host/cni/net.d"]
    volumes = [
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
    container = {
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


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m cniqs.providers.k8s.daemonset", description=__doc__.split("\n\n")[0]
    )
    sub = parser.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("build", help="build the installer image archive")
    b.add_argument("--out", type=Path, default=None)
    b.add_argument("--force", action="store_true", help="rebuild the plugin and the installer")
    b.add_argument("--crictl", type=Path, default=None, help="a crictl for this architecture (default: built here)")
    m = sub.add_parser("manifest", help="print the DaemonSet (JSON, which kubectl apply -f - takes)")
    m.add_argument("--image", required=True)
    m.add_argument("--bin", default="/opt/cni/bin")
    m.add_argument("--conf", default="/etc/cni/net.d")
    m.add_argument("--socket", default="/run/containerd/containerd.sock")
    args = parser.parse_args(argv)
    if args.cmd == "build":
        image = build_image(args.out, force=args.force, crictl=args.crictl)
        print(f"{image.archive}\t{image.name}")
    else:
        print(json.dumps(manifest(args.image, bin_dir=args.bin, conf_dir=args.conf, socket=args.socket), indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

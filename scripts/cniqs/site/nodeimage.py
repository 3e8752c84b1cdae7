"""Build a kind node image here, per Kubernetes release (this machine reaches no registry): the site's
kindest/node (cniqs.site.images pushes it to the site's registry).

    python -m cniqs.site.nodeimage [1.34 ...]  # prints the image name; cached after the first build
                                               # (default: the newest minor the site pushes)

What goes in (all built or installed on this machine):
- a Debian root filesystem from `debootstrap --variant=minbase` of Debian bookworm, kind's node base for
  v0.23 to v0.31 (v0.32 on use trixie; the bookworm userland is the one proven on these cgroup v1 machines),
  with systemd, iptables, iproute2, runc ... (cached once per package list);
- containerd 2.x, ctr, crictl (cniqs.toolchain.kubebin tools), kubeadm, kubelet, kubectl (cniqs.toolchain.kubebin
  for the release);
- the reference CNI plugins kind ships (host-local, loopback, ptp, portmap) from Debian's
  containernetworking-plugins, in /opt/cni/bin;
- the images `kubeadm config images list` names (kube-apiserver, kube-controller-manager, kube-scheduler,
  kube-proxy, etcd, pause, coredns), the kindnet stand-in and the test pod image, as OCI archives built in
  Python, imported into the node's containerd store while the image is built (cniqs.site.prefill);
- the node files of cniqs.site.nodefiles (entrypoint, units, containerd config, /kind/...).

The root filesystem is tarred into `podman import`, tagged localhost/cniqs/kind-node:<release>-<key>,
where the key is a digest of everything that went in: a changed input gives a new tag.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from cniqs.providers.kind import versions
from cniqs.providers.local import images
from cniqs.site import componentimages, nodefiles, prefill
from cniqs.site.componentimages import (
    KINDNET_IMAGE,
    PATH_ENV,
    control_plane_specs,
    kubebin_arch,
    userland_layer,
    write_oci_archive,
)
from cniqs.toolchain import debian, kubebin

DEBIAN_RELEASE = debian.DEFAULT_RELEASE
# kind's base image packages that matter here, plus runc (kind builds its own) and Debian's CNI plugins.
NODE_PACKAGES = (
    "systemd", "systemd-sysv", "dbus", "iptables", "nftables", "iproute2", "util-linux", "mount", "kmod",
    "conntrack", "ethtool", "libseccomp2", "bash", "ca-certificates", "procps", "runc",
    "containernetworking-plugins", "jq", "iputils-ping", "less",
)  # fmt: skip
CNI_PLUGINS = ("host-local", "loopback", "ptp", "portmap")
IMAGE_REPO = "localhost/cniqs/kind-node"


class ImageBuildError(RuntimeError):
    pass


def _say(msg: str) -> None:
    print(f"nodeimage: {msg}", file=sys.stderr, flush=True)


def cache_dir() -> Path:
    return kubebin.cache_root() / "kind"


def _run(argv: Sequence[str], what: str, *, timeout: float = 1800, **kw: object) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(list(argv), capture_output=True, text=True, timeout=timeout, **kw)  # type: ignore[call-overload]
    if proc.returncode != 0:
        tail = "\n".join((proc.stdout + proc.stderr).splitlines()[-20:])
        raise ImageBuildError(f"{what} failed (exit {proc.returncode}): {' '.join(argv[:4])} ...\n{tail}")
    return proc  # type: ignore[no-any-return]


@dataclass(frozen=True)
class Inputs:
    """Everything a node image is made of, resolved (built when missing)."""

    minor: str
    release: str
    rootfs: Path
    kube_bin: Path
    tools_bin: Path
    image_refs: dict[str, str]  # component -> the image kubeadm asks for

    def key(self) -> str:
        h = hashlib.sha256()
        h.update(self.rootfs.name.encode())
        for name, ref in sorted(self.image_refs.items()):
            h.update(f"{name}={ref}".encode())
        for source in (__file__, componentimages.__file__, nodefiles.__file__, images.__file__, prefill.__file__):
            h.update(Path(source).read_bytes())
        for folder in (self.kube_bin, self.tools_bin):
            for binary in sorted(folder.iterdir()):
                st = binary.stat()
                h.update(f"{binary.name}:{st.st_size}:{int(st.st_mtime)}".encode())
        return h.hexdigest()[:12]


def kubeadm_images(kubeadm: Path, release: str) -> dict[str, str]:
    """component (kube-apiserver, etcd, pause, coredns ...) -> image, as `kubeadm config images list` says."""
    out = _run([str(kubeadm), "config", "images", "list", "--kubernetes-version", release], "kubeadm images").stdout
    return image_refs(out, release)


REQUIRED_COMPONENTS = ("kube-apiserver", "kube-controller-manager", "kube-scheduler", "kube-proxy", "etcd", "pause")


def image_refs(listing: str, release: str) -> dict[str, str]:
    """`kubeadm config images list` output -> component -> image; every control-plane component must be there."""
    refs = {}
    for line in listing.split():
        name = line.rsplit(":", 1)[0].rsplit("/", 1)[-1]
        refs[name] = line
    missing = set(REQUIRED_COMPONENTS) - set(refs)
    if missing:
        raise ImageBuildError(f"kubeadm {release} lists no image for {', '.join(sorted(missing))}: {listing}")
    return refs


def resolve(minor: str) -> Inputs:
    release = kubebin.release_for(minor)
    kube_bin = kubebin.build_kube(minor, kubebin.KUBE_COMMANDS)
    kube_bin = kubebin.build_kube(minor, kubebin.NODE_COMMANDS)
    tools_bin = kubebin.build_tools()
    kubebin.build_tools(kubebin.KIND_NODE_TOOLS)
    refs = kubeadm_images(kube_bin / "kubeadm", release)
    root = debian.rootfs(cache_dir() / "rootfs", DEBIAN_RELEASE, NODE_PACKAGES)  # cached per release and packages
    return Inputs(minor, release, root, kube_bin, tools_bin, refs)


def image_name(inputs: Inputs) -> str:
    return f"{IMAGE_REPO}:{inputs.release}-{inputs.key()}"


def podman_has_image(name: str) -> bool:
    return subprocess.run(["podman", "image", "exists", name], capture_output=True).returncode == 0


# --- the node root filesystem --------------------------------------------------------------------------------


def _write(root: Path, rel: str, text: str, mode: int = 0o644) -> None:
    path = root / rel.lstrip("/")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(mode)


def _install(root: Path, rel: str, src: Path) -> None:
    path = root / rel.lstrip("/")
    path.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(src, path)
    path.chmod(0o755)


def _enable(root: Path, unit: str, target: str = "multi-user.target") -> None:
    wants = root / "etc/systemd/system" / f"{target}.wants"
    wants.mkdir(parents=True, exist_ok=True)
    link = wants / unit
    if not link.is_symlink():
        link.symlink_to(f"/etc/systemd/system/{unit}")


def _mask(root: Path, unit: str) -> None:
    link = root / "etc/systemd/system" / unit
    link.unlink(missing_ok=True)
    link.symlink_to("/dev/null")


def populate(node: Path, inputs: Inputs, archive: Path) -> None:
    """Turn a copy of the Debian rootfs into a kind node root filesystem."""
    kube, tools = inputs.kube_bin, inputs.tools_bin
    for name in ("containerd", "containerd-shim-runc-v2", "ctr", "crictl"):
        _install(node, f"usr/local/bin/{name}", tools / name)
    for name in ("kubeadm", "kubelet", "kubectl"):
        _install(node, f"usr/bin/{name}", kube / name)
    cni = node / "opt/cni/bin"
    cni.mkdir(parents=True, exist_ok=True)
    for plugin in CNI_PLUGINS:
        _install(node, f"opt/cni/bin/{plugin}", node / "usr/lib/cni" / plugin)
    (node / "etc/cni/net.d").mkdir(parents=True, exist_ok=True)
    _write(node, "usr/local/bin/entrypoint", nodefiles.ENTRYPOINT, 0o755)
    system = "etc/systemd/system"
    _write(node, f"{system}/containerd.service", nodefiles.CONTAINERD_SERVICE)
    _write(node, f"{system}/kubelet.service", nodefiles.KUBELET_SERVICE)
    _write(node, f"{system}/kubelet.service.d/10-kubeadm.conf", nodefiles.KUBELET_KUBEADM_DROPIN)
    _write(node, f"{system}/kubelet.service.d/11-cniqs-node.conf", nodefiles.KUBELET_NODE_DROPIN)
    _write(node, f"{system}/kubelet.slice", nodefiles.KUBELET_SLICE)
    _write(node, "etc/default/kubelet", nodefiles.KUBELET_DEFAULTS)
    _write(node, "etc/containerd/config.toml", nodefiles.containerd_config(inputs.image_refs["pause"]))
    _write(node, "etc/crictl.yaml", nodefiles.CRICTL_YAML)
    _write(node, "etc/sysctl.d/10-cniqs-node.conf", nodefiles.SYSCTL)
    for unit in ("containerd.service", "kubelet.service"):
        _enable(node, unit)
    for unit in ("systemd-binfmt.service", "getty@tty1.service", "console-getty.service", "systemd-udevd.service",
                 "systemd-tmpfiles-setup.service", "apt-daily.timer", "apt-daily-upgrade.timer"):  # fmt: skip
        _mask(node, unit)
    journald = node / "etc/systemd/journald.conf"
    journald.write_text(journald.read_text() + "\nReadKMsg=no\n" if journald.exists() else "[Journal]\nReadKMsg=no\n")
    (node / "etc/kubernetes/manifests").mkdir(parents=True, exist_ok=True)
    _write(node, "kind/version", inputs.release + "\n")
    _write(node, "kind/manifests/default-cni.yaml", nodefiles.kindnet_manifest(KINDNET_IMAGE))
    _write(node, "kind/manifests/default-storage.yaml", nodefiles.STORAGE_MANIFEST)
    prefill.fill(node, archive, inputs.tools_bin)


def build(minor: str, *, force: bool = False) -> str:
    """The node image for this pinned minor (built when missing); returns its name."""
    if shutil.which("podman") is None:
        raise ImageBuildError("podman is not installed (apt-get install podman)")
    inputs = resolve(minor)
    name = image_name(inputs)
    if not force and podman_has_image(name):
        _say(f"{name}: cached")
        return name
    t0 = time.monotonic()
    arch = kubebin_arch()
    work = Path(tempfile.mkdtemp(prefix="cniqs-nodeimage-", dir=cache_dir()))
    try:
        layers = work / "layers"
        layers.mkdir()
        userland = layers / "userland.tar"
        userland_layer(inputs.rootfs, userland)
        archive = work / "images.tar"
        write_oci_archive(
            control_plane_specs(inputs.kube_bin, inputs.tools_bin, inputs.image_refs, layers, userland), arch, archive
        )
        _say(f"control-plane images archived ({archive.stat().st_size >> 20} MiB) after {time.monotonic() - t0:.0f} s")
        node = work / "rootfs"
        _run(["cp", "-a", str(inputs.rootfs), str(node)], "copy the Debian rootfs")
        populate(node, inputs, archive)
        changes = [
            'ENTRYPOINT ["/usr/local/bin/entrypoint", "/sbin/init"]',
            "STOPSIGNAL SIGRTMIN+3",
            f"ENV {PATH_ENV.replace('=', ' ', 1)}",
            "ENV container docker",
        ]
        argv = ["podman", "import"]
        for change in changes:
            argv += ["--change", change]
        tar = subprocess.Popen(["tar", "-C", str(node), "--numeric-owner", "-cf", "-", "."], stdout=subprocess.PIPE)
        try:
            _run([*argv, "-", name], "podman import", stdin=tar.stdout)
        finally:
            if tar.stdout is not None:
                tar.stdout.close()
            tar.wait()
        _say(f"{name}: built in {time.monotonic() - t0:.0f} s")
        _remove_stale(name)
        (cache_dir() / f"build-seconds-{inputs.release}.json").write_text(
            json.dumps({"image": name, "seconds": round(time.monotonic() - t0, 1)}) + "\n"
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return name


def stale_images(listing: str, name: str) -> list[str]:
    """Earlier builds of the same release (other input keys) among `podman images` names: superseded by name."""
    release = name.rsplit(":", 1)[1].rsplit("-", 1)[0]
    prefix = f"{IMAGE_REPO}:{release}-"
    return sorted({ref for ref in listing.split() if ref.startswith(prefix) and ref != name})


def _remove_stale(name: str) -> None:
    listing = subprocess.run(
        ["podman", "images", "--format", "{{.Repository}}:{{.Tag}}", IMAGE_REPO], capture_output=True, text=True
    ).stdout
    for old in stale_images(listing, name):
        # an image a cluster still runs on stays (podman refuses); the next build retries
        if subprocess.run(["podman", "rmi", old], capture_output=True).returncode == 0:
            _say(f"{old}: removed (superseded)")


def default_minors() -> list[str]:
    """The newest minor of the versions table whose Kubernetes the Go module proxy serves (kubebin pins it)."""
    for entry in versions.select(versions.ALL):
        if entry.minor in kubebin.KUBE_RELEASES:
            return [entry.minor]
    raise ImageBuildError(
        "no minor of the versions table is pinned in cniqs.toolchain.kubebin: no node image can be built here"
    )


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    force = "--force" in args
    minors = [a for a in args if a != "--force"]
    try:
        minors = minors or default_minors()
        for minor in minors:
            print(build(minor, force=force))
    except (ImageBuildError, prefill.PrefillError, kubebin.BuildError, debian.RootfsError) as err:
        print(f"nodeimage: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

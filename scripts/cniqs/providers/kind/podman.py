"""kind on podman (KIND_EXPERIMENTAL_PROVIDER=podman) on a machine with no registry: the pieces the kind
provider adds around kind's own CLI there.

- the kind CLI: $CNIQS_KIND/$KIND or `kind` on PATH, else the one cniqs.kubebin builds (the versions
  table's kind release, from its Go module);
- the node image: built here per Kubernetes release (cniqs.providers.kind.nodeimage), not pulled;
- the environment kind runs podman with: KIND_EXPERIMENTAL_PROVIDER=podman and, unless set already,
  CONTAINERS_CONF pointing at an engine config with the runtime and low explicit ulimits these machines
  need (see nodefiles.CONTAINERS_CONF); /lib/modules, which kind bind-mounts into every node, must exist;
- the plugin executable: built natively (PyInstaller), since there is no docker buildx; the install
  checks its glibc against the node's before any config is written;
- the connectivity targets: a small web server container on kind's podman network, whose name podman's
  DNS answers, so pods ping and fetch something on this machine, never the internet.
"""

from __future__ import annotations

import fcntl
import os
import secrets
import shutil
import stat
import subprocess
from collections.abc import Iterator, Mapping, MutableMapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from cniqs import kubebin
from cniqs.common.run import Runner, check
from cniqs.provider import Targets
from cniqs.providers.kind import commands, egress, nodeimage, versions
from cniqs.providers.local import images

PODMAN_DNS_DOMAIN = "dns.podman"
TARGET_IMAGE = "localhost/cniqs/kind-target:1"
TARGET_APPLETS = ("sh", "httpd", "sleep", "cat")
TARGET_PAGE = "<html><body><h1>cni-quickstart e2e target</h1></body></html>\n"


def kind_network(environ: Mapping[str, str] | None = None) -> str:
    """The podman network kind puts its nodes on: "kind", or $KIND_EXPERIMENTAL_PODMAN_NETWORK as kind reads it."""
    return egress.network_name("podman", os.environ if environ is None else environ)


def kind_binary(environ: Mapping[str, str] | None = None) -> str:
    """The kind to run on podman: as for docker, else the kind CLI built by cniqs.kubebin when it is there."""
    env = os.environ if environ is None else environ
    chosen = commands.kind_binary(env)
    if chosen != "kind" or shutil.which("kind") is not None:
        return chosen
    try:
        built = kubebin.tools_bin_dir() / kubebin.KIND.name
    except kubebin.BuildError:
        return chosen
    return str(built) if built.is_file() else chosen


def prepare_environment(environ: MutableMapping[str, str] | None = None) -> None:
    """What kind's podman provider needs from this process's environment and from the machine."""
    env = os.environ if environ is None else environ
    env[commands.PROVIDER_VAR] = "podman"
    env.setdefault("CONTAINERS_CONF", str(nodeimage.containers_conf()))
    Path("/lib/modules").mkdir(parents=True, exist_ok=True)


def node_images(choice: str | None) -> list[versions.NodeImage]:
    """--k8s-version on podman: the versions table's minors that cniqs.kubebin pins (their images are built here)."""
    table = [entry for entry in versions.select(versions.ALL) if entry.minor in kubebin.KUBE_RELEASES]
    if not table:
        raise ValueError("no minor of the versions table is pinned in cniqs.kubebin: nothing can be built here")
    if not choice:
        return [_local(table[0].minor)]
    if choice == versions.ALL:
        return [_local(entry.minor) for entry in table]
    wanted = choice.removeprefix("v")
    if wanted.count(".") == 2:
        wanted = wanted.rsplit(".", 1)[0]
    if wanted not in {entry.minor for entry in table}:
        known = ", ".join(entry.minor for entry in table)
        raise ValueError(f"--k8s-version {choice!r}: on podman the node image is built here, for {known} or all")
    return [_local(wanted)]


def _local(minor: str) -> versions.NodeImage:
    release = kubebin.release_for(minor)
    return versions.NodeImage(minor, f"{nodeimage.IMAGE_REPO}:{release}", "built here (cniqs.providers.kind.nodeimage)")


def kube_bin(minor: str) -> Path:
    """The release's own commands (kubectl among them), built with its node image."""
    return kubebin.kube_bin_dir(minor)


def build_node_image(minor: str) -> str:
    """The node image's real name (localhost/cniqs/kind-node:<release>-<key>), built when missing."""
    return nodeimage.build(minor)


def cgroup_v1() -> bool:
    return not Path("/sys/fs/cgroup/cgroup.controllers").exists()


def kubeadm_patches(minor: str) -> list[str]:
    """kind kubeadmConfigPatches this machine needs: from 1.35 the kubelet refuses cgroup v1 unless told."""
    if cgroup_v1() and tuple(int(p) for p in minor.split(".")) >= (1, 35):
        return ["kind: KubeletConfiguration\nfailCgroupV1: false\n"]
    return []


def build_plugin(arch: str, force: bool) -> Path:
    from cniqs.build import build_local, host_arch

    if arch != host_arch():
        raise RuntimeError(f"the nodes are {arch} but this host is {host_arch()}: without docker buildx no cross build")
    return build_local(force=force)


@dataclass
class Target:
    """The connectivity tests' target: a web server container on the kind network."""

    name: str
    ip: str

    @property
    def targets(self) -> Targets:
        # podman's DNS (aardvark-dns on the kind network's gateway) answers container names in its dns.podman
        # domain; the cluster's CoreDNS forwards that zone to it (cniqs.providers.kind.coredns).
        fqdn = f"{self.name}.{PODMAN_DNS_DOMAIN}"
        return Targets(ip=self.ip, name=fqdn, url=f"http://{fqdn}/", name_ip=self.ip)


def _target_image() -> None:
    if subprocess.run(["podman", "image", "exists", TARGET_IMAGE], capture_output=True).returncode == 0:
        return
    busybox = Path(shutil.which("busybox") or "/bin/busybox").read_bytes()
    entries = images.busybox_rootfs(busybox, TARGET_APPLETS)
    entries += [images.Entry("www", "dir", mode=0o755), images.Entry("www/index.html", "file", TARGET_PAGE.encode())]
    layer = images.tar_bytes(entries)
    subprocess.run(
        ["podman", "import", "--change", 'CMD ["/bin/sh"]', "-", TARGET_IMAGE],
        input=layer,
        capture_output=True,
        check=True,
    )


def start_target(run: Runner, cluster: str) -> Target:
    name = f"cniqs-target-{secrets.token_hex(3)}"
    _target_image()
    argv = ["/bin/busybox", "httpd", "-f", "-p", "80", "-h", "/www"]
    network = kind_network()
    check(run, commands.podman_target_run(name, network, TARGET_IMAGE, argv), f"target for {cluster}")
    ip = check(run, commands.podman_inspect_ip(name), f"address of {name}").split()
    if not ip:
        stop_target(run, name)
        raise RuntimeError(f"the target container {name} got no address on the {network} network")
    return Target(name, ip[0])


def stop_target(run: Runner, name: str) -> None:
    run(commands.podman_rm(name), timeout=60)
    run(["podman", "rmi", "--ignore", TARGET_IMAGE], timeout=60)


def network_exists(run: Runner, network: str | None = None) -> bool:
    return run(commands.podman_network_exists(network or kind_network()), timeout=60).rc == 0


def remove_network(run: Runner, network: str | None = None) -> str | None:
    """Remove the podman network kind made for this run's cluster (kind keeps it); a note when it stays."""
    network = network or kind_network()
    result = run(commands.podman_network_rm(network), timeout=60)
    if result.rc != 0:
        return f"the podman network {network} stays: {result.stderr.strip() or result.stdout.strip()}"
    return None


# kind makes its podman network on the first `kind create cluster` and keeps it. A run that finds no network
# marks it as made by cni-quickstart (with the ID kind gave it); every run's teardown then removes a marked
# network that no container uses any more, so with two runs at once the last one out removes it, whichever
# made it. One lock per network orders one run's check-and-create against another's teardown; a teardown
# never waits for it (whoever holds it is creating a cluster on the network, or leaving it).
def network_marks() -> Path:
    """This user's own folder (under the cache root), kept across reboots as podman's networks are."""
    return kubebin.cache_root() / "kind" / "networks"


def _private_folder(folder: Path) -> Path:
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    st = os.lstat(folder)
    if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.getuid() or st.st_mode & 0o077:
        raise RuntimeError(f"{folder} holds kind network locks: it must be this user's own directory, mode 0700")
    return folder


@contextmanager
def network_lock(network: str, marks: Path | None = None, wait: bool = True) -> Iterator[Path | None]:
    """Hold the network's lock and yield the path of its made-by-cni-quickstart mark; with wait=False, yield
    None at once when another run holds the lock."""
    folder = _private_folder(marks or network_marks())
    fd = os.open(folder / f"{network}.lock", os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            yield None
            return
        yield folder / f"{network}.made"
    finally:
        os.close(fd)  # which releases the lock


def _exists(run: Runner, network: str) -> bool | None:
    """podman network exists: 0 yes, 1 no, anything else an error (None: unknown)."""
    rc = run(commands.podman_network_exists(network), timeout=60).rc
    return True if rc == 0 else False if rc == 1 else None


def network_id(run: Runner, network: str) -> str | None:
    result = run(commands.podman_network_id(network), timeout=60)
    return result.stdout.strip() or None if result.rc == 0 else None


def mark_if_new(run: Runner, mark: Path, network: str) -> bool:
    """Under the network's lock, before kind creates a cluster: mark the network when kind is about to make it
    (not when it exists, nor when podman cannot say: a network that may be the user's is never claimed)."""
    if _exists(run, network) is not False:
        return False
    mark.write_text("")
    return True


def release_network(run: Runner, mark: Path | None, network: str) -> str | None:
    """Under the network's lock, after this run's cluster is gone: remove the network if a cni-quickstart run
    made it and nothing uses it now; a note when it stays for another reason. mark None: another run holds
    the lock, and it will be the last one out."""
    if mark is None or not mark.exists():
        return None
    exists = _exists(run, network)
    if exists is None:
        return f"the podman network {network} stays: `podman network exists` failed"
    recorded = mark.read_text().strip()
    if not exists or (recorded and recorded != network_id(run, network)):
        mark.unlink(missing_ok=True)  # gone, or made again since by someone else: not ours any more
        return None
    users = run(commands.podman_containers_on(network), timeout=60)
    if users.rc == 0 and users.stdout.strip():
        return None  # another run's cluster is on it: the last one out removes it
    note = remove_network(run, network)
    if note is None:
        mark.unlink(missing_ok=True)
    return note


@contextmanager
def creating_on_network(run: Runner, network: str) -> Iterator[None]:
    """Around `kind create cluster` on podman: claim the network if kind is about to make it."""
    with network_lock(network) as mark:
        assert mark is not None  # waited for it
        made = mark_if_new(run, mark, network)
        yield
        if made and (made_id := network_id(run, network)):
            mark.write_text(f"{made_id}\n")


def leave_network(run: Runner, network: str) -> str | None:
    """After this run's cluster is gone: the last one out removes the network a cni-quickstart run made."""
    with network_lock(network, wait=False) as mark:
        return release_network(run, mark, network)

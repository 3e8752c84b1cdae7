"""The containerd image store of a site node image (cniqs.site.nodeimage), filled while the image is built.

kind's own node images come with their images already in containerd's store (kind's `build node-image` imports
them into the node it builds from). The site's images do the same: a containerd of the node's own build runs on
this host for one `ctr images import`, its root in the node's /var/lib/containerd, its sockets in a temporary
folder. The images are pinned (kubelet's image garbage collection leaves them) and not unpacked: the CRI
unpacks an image the first time a container of it is made, so a worker never unpacks the control plane's.

kind makes each node's /var a volume, and the engine copies the image's /var into it when the node is created.
So the content (the image blobs, 600 MiB) moves out of /var, to CONTENT_HOME, and containerd's content folder
is a link to it: a node reads the blobs from the image's own layer, and only the metadata database is copied.
The rest of the root (a containerd's identity, empty snapshotter folders) each node's containerd makes itself.
Images a node pulls or loads later go to the node container's own layer through that link, not to its /var.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from pathlib import Path

# ctr's import: pinned, left packed, and written by ctr itself (--local), where containerd 2's transfer service
# streams all of it through its API again.
IMPORT_FLAGS = ("--local", "--no-unpack", "--label=io.cri-containerd.pinned=pinned")
NAMESPACE = "k8s.io"  # the CRI's
ROOT = "var/lib/containerd"  # in the node's root filesystem
CONTENT = "io.containerd.content.v1.content"  # under ROOT
CONTENT_HOME = "kind/containerd-content"  # where the content stays, outside the /var volume
KEEP = (CONTENT, "io.containerd.metadata.v1.bolt")
# Plugins this build needs none of, and the ones that would look for a runtime, CNI or sandboxes on this host.
DISABLED = (
    "io.containerd.grpc.v1.cri", "io.containerd.cri.v1.runtime", "io.containerd.cri.v1.images",
    "io.containerd.nri.v1.nri", "io.containerd.podsandbox.controller.v1.podsandbox",
    "io.containerd.sandbox.controller.v1.shim", "io.containerd.internal.v1.opt",  # opt: /opt/containerd on the host
)  # fmt: skip
START_SECONDS = 30.0
IMPORT_SECONDS = 600.0
STOP_SECONDS = 30.0


class PrefillError(RuntimeError):
    pass


def config(socket: Path) -> str:
    """The build's containerd config: its own sockets, nothing of the CRI."""
    disabled = ", ".join(f'"{plugin}"' for plugin in DISABLED)
    return (
        f"version = 3\ndisabled_plugins = [{disabled}]\n\n"
        f'[grpc]\n  address = "{socket}"\n\n[ttrpc]\n  address = "{socket}.ttrpc"\n'
    )


def import_argv(ctr: Path, socket: Path, archive: Path) -> list[str]:
    return [str(ctr), "--address", str(socket), "--namespace", NAMESPACE, "images", "import", *IMPORT_FLAGS,
            str(archive)]  # fmt: skip


def fill(node: Path, archive: Path, tools: Path) -> None:
    """Import the OCI archive into the containerd store of the node root filesystem at `node`."""
    root = node / ROOT
    state = Path(tempfile.mkdtemp(prefix="cniqs-prefill-"))  # short: a unix socket's path has 107 bytes at most
    try:
        _import(root, archive, tools, state)
    finally:
        shutil.rmtree(state, ignore_errors=True)
    for entry in root.iterdir():
        if entry.name not in KEEP:
            shutil.rmtree(entry) if entry.is_dir() else entry.unlink()
    home = node / CONTENT_HOME
    home.parent.mkdir(parents=True, exist_ok=True)
    (root / CONTENT).rename(home)
    (root / CONTENT).symlink_to(f"/{CONTENT_HOME}")


def _import(root: Path, archive: Path, tools: Path, state: Path) -> None:
    """containerd up, the import, containerd stopped: also when the import fails or is interrupted."""
    socket = state / "containerd.sock"
    (state / "config.toml").write_text(config(socket))
    root.mkdir(parents=True, exist_ok=True)
    argv = [str(tools / "containerd"), "--config", str(state / "config.toml"), "--root", str(root),
            "--state", str(state / "run")]  # fmt: skip
    with (state / "containerd.log").open("wb") as log:
        try:
            daemon = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                      start_new_session=True)  # fmt: skip
        except OSError as exc:
            raise PrefillError(f"cannot run {argv[0]}: {exc}") from None
        try:
            _wait_serving(daemon, socket, state)
            _run_import(import_argv(tools / "ctr", socket, archive))
        finally:
            code = _stop(daemon)
    if code != 0:  # reached only after a whole import: a store the daemon did not close cleanly is not kept
        raise PrefillError(f"containerd exited {code} after the import, its store may be incomplete: {_tail(state)}")


def _run_import(argv: list[str]) -> None:
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=IMPORT_SECONDS)
    except subprocess.TimeoutExpired:
        raise PrefillError(f"ctr images import did not end within {IMPORT_SECONDS:g} s") from None
    if proc.returncode != 0:
        raise PrefillError(f"ctr images import exited {proc.returncode}: {(proc.stdout + proc.stderr)[-2000:]}")


def _stop(daemon: subprocess.Popen[bytes]) -> int:
    """SIGTERM (containerd closes its store and exits 0), SIGKILL after STOP_SECONDS; its exit code."""
    daemon.terminate()
    try:
        return daemon.wait(timeout=STOP_SECONDS)
    except subprocess.TimeoutExpired:
        daemon.kill()
        return daemon.wait()


def _wait_serving(daemon: subprocess.Popen[bytes], socket: Path, state: Path) -> None:
    # Plain polling: python -m cniqs.site runs on the system's python3, stdlib only (no tenacity).
    deadline = time.monotonic() + START_SECONDS
    while not socket.is_socket():
        if daemon.poll() is not None:
            raise PrefillError(f"containerd exited {daemon.returncode}: {_tail(state)}")
        if time.monotonic() > deadline:
            raise PrefillError(f"containerd did not serve {socket} within {START_SECONDS:g} s: {_tail(state)}")
        time.sleep(0.05)


def _tail(state: Path) -> str:
    text = (state / "containerd.log").read_text(errors="replace")
    return "\n".join(text.splitlines()[-10:])

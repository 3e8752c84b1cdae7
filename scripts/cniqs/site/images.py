"""The images a site's mirror holds for a kind run, built on this machine and pushed to the site's registry.

Under the names a run asks its mirror for (cniqs.providers.kind.mirror):
- kindest/node:<Kubernetes release>: the node image of cniqs.site.nodeimage (Kubernetes built from its Go
  module, so the release the Go module proxy serves: the run takes the newest patch of its minor);
- cniqs/e2e-pod:1: the test pods' image (busybox with the applets the suite runs);
- cniqs-installer:<content tag>: the DaemonSet's installer image, built from this checkout.

A push is skipped when the registry already holds the same content under that name.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

from cniqs.common.run import run_process
from cniqs.providers.cluster import daemonset
from cniqs.providers.kind import mirror, nodebuild
from cniqs.providers.local import images
from cniqs.ship import build
from cniqs.site import nodeimage, services
from cniqs.toolchain import kubebin

POD_IMAGE = "cniqs/e2e-pod:1"


class PushError(RuntimeError):
    pass


def _say(msg: str) -> None:
    print(f"site: {msg}", file=sys.stderr, flush=True)


def site_mirror() -> mirror.Mirror:
    chosen = mirror.parse(f"http://{services.REGISTRY}")
    assert chosen is not None
    return chosen


def _run(argv: list[str], what: str) -> None:
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=1800)
    if proc.returncode != 0:
        raise PushError(f"{what} failed (exit {proc.returncode}): {' '.join(argv)}\n{proc.stderr.strip()[-2000:]}")


def _record() -> Path:
    return services.site_dir() / "pushed.json"


def _pushed() -> dict[str, str]:
    return json.loads(_record().read_text()) if _record().is_file() else {}


def _remember(dest: str, source_id: str) -> None:
    pushed = _pushed()
    pushed[dest] = source_id
    _record().write_text(json.dumps(pushed, indent=1, sort_keys=True) + "\n")


def _current(registry: mirror.Registry, dest: str, source_id: str) -> bool:
    return _pushed().get(dest) == source_id and registry.digest(dest) is not None


def push_node(registry: mirror.Registry, minor: str) -> str:
    local = nodeimage.build(minor)
    dest = f"{registry.mirror.host}/{mirror.NODE_REPO}:{kubebin.release_for(minor)}"
    if not _current(registry, dest, local):
        _run(["podman", "push", "--quiet", "--tls-verify=false", local, f"docker://{dest}"], f"push {local}")
        _remember(dest, local)
    return dest


def push_archive(registry: mirror.Registry, archive: Path, dest: str, source_id: str) -> str:
    if not _current(registry, dest, source_id):
        if shutil.which("skopeo") is None:
            raise PushError("skopeo is not installed (apt-get install skopeo)")
        _run(["skopeo", "copy", "--quiet", "--dest-tls-verify=false", f"oci-archive:{archive}", f"docker://{dest}"],
             f"push {archive.name}")  # fmt: skip
        _remember(dest, source_id)
    return dest


def push_pod_image(registry: mirror.Registry) -> str:
    busybox = Path(shutil.which("busybox") or "/bin/busybox").read_bytes()
    built = images.test_image(busybox, build.host_arch(), name=POD_IMAGE)
    folder = services.site_dir() / "archives"
    folder.mkdir(parents=True, exist_ok=True)
    return push_archive(registry, images.write(built, folder), registry.mirror.ref(POD_IMAGE), built.manifest_digest)


def push_installer(registry: mirror.Registry) -> str:
    """The installer image of the node build the suite's kind provider makes (nodebuild.build_for_nodes: native
    where this host serves the nodes, else the container build), so the tag the suite asks the mirror for is
    this one."""
    image = daemonset.build_image(nodebuild.build_for_nodes(run_process, build.host_arch()))
    return push_archive(registry, image.archive, registry.mirror.ref(image.name), image.name)


def push_all(minors: list[str] | None = None) -> list[str]:
    registry = mirror.Registry(site_mirror())
    registry.answers()
    pushed = [push_node(registry, minor) for minor in (minors or nodeimage.default_minors())]
    pushed.append(push_pod_image(registry))
    pushed.append(push_installer(registry))
    for dest in pushed:
        _say(f"in the registry: {dest}")
    return pushed

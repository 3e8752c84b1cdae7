"""Where a kind run's images come from: upstream registries by default, or a registry mirror the user names.

With a mirror (--registry-mirror or $CNIQS_REGISTRY_MIRROR, as `[http://|https://]HOST[:PORT]`), every image
the run needs comes through it, as on a site without internet (kind's "local registry" guide):
- the node image: the engine pulls MIRROR/kindest/node:<tag> (the release note's tag when the mirror has it,
  pinned by digest when the mirror's digest is the note's; else the newest patch of that minor it holds);
- inside the nodes, containerd sends pulls for docker.io and registry.k8s.io to the mirror (hosts.toml files
  under /etc/containerd/certs.d), and pulls of MIRROR/... go to it over the scheme given;
- the pod image and the DaemonSet's installer image: named MIRROR/... and pulled from it.

A run never writes to the mirror. Before any cluster is created, `check` asks the mirror for every image the
run needs and stops with the missing one's name and how to put it there.
"""

from __future__ import annotations

import ipaddress
import json
import re
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass

ENV = "CNIQS_REGISTRY_MIRROR"
NODE_REPO = "kindest/node"
CERTS_DIR = "/etc/containerd/certs.d"
# The registries whose pulls containerd in the nodes sends to the mirror (pods, kube-system images).
MIRRORED = ("docker.io", "registry.k8s.io")
# kind's containerdConfigPatches entry that makes the nodes' containerd read hosts.toml files.
CONTAINERD_PATCH = '[plugins."io.containerd.grpc.v1.cri".registry]\n  config_path = "/etc/containerd/certs.d"\n'
MANIFEST_TYPES = (
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
)
_HOST = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?(:\d{1,5})?$|^\[[0-9a-fA-F:]+\](:\d{1,5})?$")
_TAG = re.compile(r"^v(?P<minor>\d+\.\d+)\.(?P<patch>\d+)$")


class MirrorProblem(RuntimeError):
    """The mirror does not answer, or lacks an image the run needs: raised before anything is created."""


@dataclass(frozen=True)
class Mirror:
    host: str  # HOST[:PORT], as image references name it
    scheme: str = "https"

    @property
    def url(self) -> str:
        return f"{self.scheme}://{self.host}"

    @property
    def insecure(self) -> bool:
        return self.scheme == "http"

    def ref(self, image: str) -> str:
        """The mirror's name for an image reference (docker.io's library/ made explicit)."""
        if image.startswith(f"{self.host}/"):
            return image
        return f"{self.host}/{repository(image)}{_suffix(image)}"


def parse(text: str | None) -> Mirror | None:
    """'' or None: no mirror. 'http://HOST[:PORT]' is plain HTTP; 'HOST[:PORT]' and 'https://...' use TLS."""
    text = (text or "").strip()
    if not text:
        return None
    scheme = "https"
    for prefix in ("http://", "https://"):
        if text.startswith(prefix):
            scheme, text = prefix[:-3], text[len(prefix) :]
            break
    text = text.rstrip("/")
    if not _HOST.match(text):
        raise ValueError(f"registry mirror {text!r}: give HOST[:PORT], optionally with http:// or https://")
    return Mirror(text, scheme)


def _split(image: str) -> tuple[str, str]:
    """(name, suffix): suffix is ':tag', '@sha256:...', ':tag@sha256:...' or ''."""
    name, at, digest = image.partition("@")
    last = name.rsplit("/", 1)[-1]
    tag = ""
    if ":" in last:
        name, tag = name.rsplit(":", 1)
        tag = ":" + tag
    return name, tag + (at + digest if at else "")


def _suffix(image: str) -> str:
    return _split(image)[1]


def domain(image: str) -> str:
    """The registry an image reference names: docker.io unless its first part looks like a host."""
    name = _split(image)[0]
    first, slash, _ = name.partition("/")
    if slash and ("." in first or ":" in first or first == "localhost"):
        return first
    return "docker.io"


def repository(image: str) -> str:
    """The repository path within its registry: alpine -> library/alpine, registry.k8s.io/pause -> pause."""
    name = _split(image)[0]
    hub = domain(image) == "docker.io"
    if not hub or name.startswith("docker.io/"):
        name = name.split("/", 1)[1]
    return f"library/{name}" if hub and "/" not in name else name


def tag(image: str) -> str | None:
    suffix = _split(image)[1].split("@", 1)[0]
    return suffix[1:] if suffix else None


def digest(image: str) -> str | None:
    return image.partition("@")[2] or None


def hosts_toml(mirror: Mirror, upstream: str) -> str:
    """containerd's hosts.toml for pulls of `upstream` (a registry host, or the mirror itself)."""
    server = mirror.url if upstream == mirror.host else f"https://{upstream}"
    if upstream == "docker.io":
        server = "https://registry-1.docker.io"
    lines = [f'server = "{server}"', "", f'[host."{mirror.url}"]', '  capabilities = ["pull", "resolve"]']
    if mirror.insecure:
        lines.append("  skip_verify = true")
    return "\n".join(lines) + "\n"


def node_files(mirror: Mirror) -> dict[str, str]:
    """Path in the node -> content: one hosts.toml per mirrored registry and one for the mirror itself."""
    return {f"{CERTS_DIR}/{host}/hosts.toml": hosts_toml(mirror, host) for host in (*MIRRORED, mirror.host)}


# the registry's HTTP API (OCI distribution): read only


Fetch = Callable[[urllib.request.Request], tuple[int, dict[str, str], bytes]]


def _fetch(request: urllib.request.Request) -> tuple[int, dict[str, str], bytes]:
    try:
        with urllib.request.urlopen(request, timeout=15) as response:  # noqa: S310 (http/https only: parse())
            return response.status, dict(response.headers.items()), response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers.items()), b""


class Registry:
    """What a run asks the mirror: does it answer, which tags a repository holds, an image's digest."""

    def __init__(self, mirror: Mirror, fetch: Fetch = _fetch) -> None:
        self.mirror = mirror
        self.fetch = fetch

    def _get(self, path: str, method: str = "GET", accept: Sequence[str] = ()) -> tuple[int, dict[str, str], bytes]:
        request = urllib.request.Request(f"{self.mirror.url}{path}", method=method)  # noqa: S310 (http/https only)
        if accept:
            request.add_header("Accept", ", ".join(accept))
        try:
            return self.fetch(request)
        except (OSError, urllib.error.URLError) as exc:
            raise MirrorProblem(f"the registry mirror {self.mirror.url} does not answer: {exc}") from None

    def answers(self) -> None:
        status, _, _ = self._get("/v2/")
        if status not in (200, 401):
            raise MirrorProblem(f"the registry mirror {self.mirror.url} answered /v2/ with HTTP {status}")

    def tags(self, repo: str) -> list[str]:
        status, _, body = self._get(f"/v2/{repo}/tags/list")
        if status == 404:
            return []
        if status != 200:
            raise MirrorProblem(f"the registry mirror {self.mirror.url}: tags of {repo}: HTTP {status}")
        return list(json.loads(body or b"{}").get("tags") or [])

    def digest(self, image: str) -> str | None:
        """The digest the mirror serves for an image reference; None when it does not hold it."""
        reference = digest(image) or tag(image) or "latest"
        status, headers, _ = self._get(f"/v2/{repository(image)}/manifests/{reference}", "HEAD", MANIFEST_TYPES)
        if status == 404:
            return None
        if status != 200:
            raise MirrorProblem(f"the registry mirror {self.mirror.url}: manifest of {image}: HTTP {status}")
        found = {k.lower(): v for k, v in headers.items()}.get("docker-content-digest")
        return found or reference


def push_hint(image: str, mirror: Mirror, source: str | None = None) -> str:
    """How an image gets into a mirror: a copy from a machine that can pull it (or from an archive)."""
    flag = " --dest-tls-verify=false" if mirror.insecure else ""
    name, pinned, wanted = _split(image)[0], digest(image), tag(image)
    # skopeo takes a tag or a digest, not both: copy by digest (it keeps it), name the copy by the tag.
    source = source or f"docker://{name}@{pinned}" if pinned else source or f"docker://{image}"
    dest = f"{mirror.host}/{repository(image)}" + (f":{wanted}" if wanted else f"@{pinned}" if pinned else "")
    return f"skopeo copy{flag} {source} docker://{dest}"


@dataclass(frozen=True)
class NodeChoice:
    image: str  # what the engine pulls and kind runs
    note: str  # how it was chosen, for the run's summary


def node_image(registry: Registry, pinned: str, minor: str) -> NodeChoice:
    """The node image of a versions-table row through the mirror (see the module's docstring)."""
    mirror = registry.mirror
    wanted = tag(pinned) or ""
    tags = registry.tags(NODE_REPO)
    if wanted in tags:
        served = registry.digest(f"{NODE_REPO}:{wanted}")
        ref = f"{mirror.host}/{NODE_REPO}:{wanted}"
        if served and served == digest(pinned):
            return NodeChoice(f"{ref}@{served}", f"{ref} through the mirror, digest as the release note pins it")
        return NodeChoice(ref, f"{ref} through the mirror, digest {served} (the release note pins {digest(pinned)})")
    patches = sorted((int(m["patch"]), t) for t in tags if (m := _TAG.match(t)) is not None and m["minor"] == minor)
    if not patches:
        have = ", ".join(sorted(tags)) or "none"
        raise MirrorProblem(
            f"the registry mirror {mirror.url} holds no {NODE_REPO} image for Kubernetes {minor} "
            f"(tags there: {have}); put one there with: {push_hint(pinned, mirror)}"
        )
    chosen = patches[-1][1]
    ref = f"{mirror.host}/{NODE_REPO}:{chosen}"
    return NodeChoice(ref, f"{ref} through the mirror (it has no {wanted}, the release note's image)")


def require(registry: Registry, images: Sequence[str], source: str | None = None) -> None:
    """Every image (named through the mirror or not) must be in the mirror; else one line naming the first gap."""
    mirror = registry.mirror
    for image in images:
        if registry.digest(image) is None:
            raise MirrorProblem(
                f"the registry mirror {mirror.url} has no {repository(image)}:{tag(image) or digest(image)} "
                f"(needed as {mirror.ref(image)}); put it there with: {push_hint(image, mirror, source)}"
            )


def is_loopback(host: str) -> bool:
    name = host.rsplit(":", 1)[0].strip("[]") if not host.startswith("[") or "]:" in host else host.strip("[]")
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False

"""The versions table: Kubernetes minor -> kind node image, for ONE pinned kind release.

kind only supports node images built for the kind release in use, and only by digest: every
release note says to use the exact `@sha256:` images it lists. All entries below come from the
"Images pre-built for this release" list of the kind v0.33.0 release note, the newest release whose
note could be read here. To move to another kind release, replace KIND_VERSION and every image together,
from that release's note, and update the matrix in .github/workflows/e2e.yml (tests/kind checks they agree).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

KIND_VERSION = "v0.33.0"
KIND_RELEASE_NOTES = f"https://github.com/kubernetes-sigs/kind/releases/tag/{KIND_VERSION}"
# The kind CLI is built from its Go module, `go install sigs.k8s.io/kind@<KIND_VERSION>`, which kind's quick
# start documents as an install method: the go command checks the module against the Go checksum database,
# so no binary checksum is pinned here. No pinning registry readable here (hermit-packages, cert-manager's
# makefile-modules) had v0.33.0's binary checksums yet; only copies in unrelated projects. The CI workflow and
# cniqs.kubebin (kind on podman here) build the same module at the same version.
KIND_MODULE = "sigs.k8s.io/kind"

# kubectl for each row (the skew policy allows kubectl one minor away from the API server at most), and the
# sha256 of its linux-amd64 binary (dl.k8s.io/release/<v>/bin/linux/amd64/kubectl), as pinned by kubespray
# (kubernetes-sigs/kubespray 46dbdd39, roles/kubespray_defaults/vars/main/checksums.yml, kubectl_checksums.amd64).
# kubespray pins no 1.37 kubectl yet, so the 1.37 row uses kubectl v1.36.4, within the skew. CI installs each row's
# kubectl and checks it against this pin and against the kubectl.sha256 published next to it.
KUBECTL_SHA256_LINUX_AMD64 = {
    "v1.36.4": "8b8f088da2dab964f853b38464033b1be15ede2839eca751482357c45abdd05a",
    "v1.35.8": "874d5e72dbb819f43cff16bcd1e4f8bac5b7f2361fe1e55049b0a6c676fb0cbf",
    "v1.34.11": "8efbb9435132a190920eb65a47a8c1ecf755ad85ab57a600c9bedbab460bb7a8",
}

IMAGE_PATTERN = re.compile(r"^kindest/node:v(?P<minor>1\.\d+)\.(?P<patch>\d+)@sha256:(?P<digest>[0-9a-f]{64})$")


@dataclass(frozen=True)
class NodeImage:
    minor: str
    image: str
    source: str

    @property
    def kubernetes_version(self) -> str:
        """v1.35.0 for kindest/node:v1.35.0@sha256:..."""
        return self.image.split(":", 1)[1].split("@", 1)[0]

    @property
    def digest(self) -> str:
        return self.image.split("@", 1)[1]


_NOTE = f"{KIND_RELEASE_NOTES} (Images pre-built for this release)"

# Newest first: the first entry is the default of --k8s-version. (The note's first line says the release
# "defaults to Kubernetes 1.36.1"; its Breaking Changes and the list name v1.37.0 as the default image.)
IMAGES: tuple[NodeImage, ...] = (
    NodeImage(
        "1.37",
        "kindest/node:v1.37.0@sha256:a1ed56cfb0e7b93589bdf97c8cd566405a265939e3620fc4f5de89adff580ae5",
        _NOTE + "; also the release's default image",
    ),
    NodeImage(
        "1.36",
        "kindest/node:v1.36.4@sha256:099e049362a1526b2db71494e1947aae99bd16290d7c895f2b7ea312e3cbfaed",
        _NOTE,
    ),
    NodeImage(
        "1.35",
        "kindest/node:v1.35.8@sha256:07b2536e30b803ed61d1677a79df6115f798ce64c80f9e22f6ed45afd09323c0",
        _NOTE,
    ),
    NodeImage(
        "1.34",
        "kindest/node:v1.34.11@sha256:44e222ee2132dab25ff87301682f89eb82c7880ea3a1bf543bfe9708fd08d67d",
        _NOTE,
    ),
)

# The kubectl each row's CI job installs (a key of KUBECTL_SHA256_LINUX_AMD64).
KUBECTL_FOR_MINOR = {"1.37": "v1.36.4", "1.36": "v1.36.4", "1.35": "v1.35.8", "1.34": "v1.34.11"}

ALL = "all"


def glibc_key(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split("."))


# The glibc rule: the node executable bundles the build host's libpython, so it needs the build's glibc, and it
# must start on every node it is meant for: the pinned images, whose userland is Debian trixie (glibc 2.41) from
# kind v0.32 on (kind images/base/Dockerfile), and the node image built here for kind on podman
# (cniqs.providers.kind.nodeimage), Debian bookworm (2.36), which is also the base of kind v0.23 to v0.31's
# images. The container build (plugin/Dockerfile) must use a Debian release whose glibc is no newer than the
# older of the two; tests/kind/test_versions.py holds the Dockerfile's base, and cniqs.arm64 its build, to this.
NODE_BASE = "trixie"
BUILT_NODE_BASE = "bookworm"  # nodeimage.DEBIAN_RELEASE (tests/kind checks they agree)
DEBIAN_GLIBC = {"bullseye": "2.31", "bookworm": "2.36", "trixie": "2.41"}
NODE_GLIBC = min(DEBIAN_GLIBC[NODE_BASE], DEBIAN_GLIBC[BUILT_NODE_BASE], key=glibc_key)


def build_base_glibc(dockerfile_text: str) -> tuple[str, str]:
    """(Debian release, its glibc) of the Dockerfile's first FROM (python:<v>-slim-<release>)."""
    for line in dockerfile_text.splitlines():
        if line.upper().startswith("FROM "):
            image = line.split()[1]
            release = image.rsplit("-", 1)[-1]
            if release not in DEBIAN_GLIBC:
                raise ValueError(f"the build base {image} names no Debian release this table knows")
            return release, DEBIAN_GLIBC[release]
    raise ValueError("the Dockerfile has no FROM line")


def _minor_key(minor: str) -> tuple[int, ...]:
    return tuple(int(part) for part in minor.split("."))


def problems(images: tuple[NodeImage, ...] = IMAGES) -> list[str]:
    """What is wrong with a table (empty when it is usable)."""
    found: list[str] = []
    if len(images) < 1:
        found.append("the versions table is empty")
    seen: set[str] = set()
    for entry in images:
        match = IMAGE_PATTERN.match(entry.image)
        if match is None:
            found.append(f"{entry.minor}: {entry.image!r} is not kindest/node:vX.Y.Z@sha256:<64 hex digits>")
        elif match["minor"] != entry.minor:
            found.append(f"{entry.minor}: image {entry.image!r} is Kubernetes {match['minor']}")
        if entry.minor in seen:
            found.append(f"{entry.minor}: listed twice")
        seen.add(entry.minor)
        if not entry.source.startswith("https://"):
            found.append(f"{entry.minor}: no release note cited")
    keys = [_minor_key(e.minor) for e in images if re.fullmatch(r"1\.\d+", e.minor)]
    if keys != sorted(keys, reverse=True):
        found.append("entries are not newest first")
    return found


def kubectl_problems(images: tuple[NodeImage, ...] = IMAGES, kubectl: dict[str, str] | None = None) -> list[str]:
    """Rows without a pinned kubectl, or whose kubectl is more than one minor from the node's Kubernetes."""
    chosen = KUBECTL_FOR_MINOR if kubectl is None else kubectl
    found: list[str] = []
    for entry in images:
        version = chosen.get(entry.minor)
        if version is None or version not in KUBECTL_SHA256_LINUX_AMD64:
            found.append(f"{entry.minor}: no pinned kubectl (KUBECTL_FOR_MINOR, KUBECTL_SHA256_LINUX_AMD64)")
            continue
        skew = abs(_minor_key(version.removeprefix("v"))[1] - _minor_key(entry.minor)[1])
        if skew > 1:
            found.append(f"{entry.minor}: kubectl {version} is {skew} minors away (the skew policy allows 1)")
    return found


def select(choice: str | None, images: tuple[NodeImage, ...] = IMAGES) -> list[NodeImage]:
    """--k8s-version: None or "" is the newest, "all" is every entry, else one minor ("1.34" or "v1.34")."""
    if not choice:
        return [images[0]]
    if choice == ALL:
        return list(images)
    wanted = choice.removeprefix("v")
    if wanted.count(".") == 2:  # 1.34.3: accept the exact version the table pins
        wanted = wanted.rsplit(".", 1)[0] if any(e.kubernetes_version == f"v{wanted}" for e in images) else ""
    for entry in images:
        if entry.minor == wanted:
            return [entry]
    known = ", ".join(e.minor for e in images)
    raise ValueError(f"--k8s-version {choice!r} is not in the versions table (kind {KIND_VERSION}): use {known} or all")

"""The versions table: Kubernetes minor -> kind node image, for ONE pinned kind release.

kind only supports node images built for the kind release in use, and only by digest: every
release note says to use the exact `@sha256:` images it lists. All entries below come from the
"Images pre-built for this release" list of the kind v0.31.0 release note. To move to another
kind release, replace KIND_VERSION, the binary checksums and every image together, from that
release's note, and update the matrix in .github/workflows/e2e.yml (tests/kind checks they agree).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

KIND_VERSION = "v0.31.0"
KIND_RELEASE_NOTES = f"https://github.com/kubernetes-sigs/kind/releases/tag/{KIND_VERSION}"

# sha256 of the kind release binaries, as published next to them (kind-linux-<arch>.sha256sum on
# the release page). The CI workflow checks the download against these and against the published file.
KIND_BINARY_SHA256 = {
    "linux-amd64": "eb244cbafcc157dff60cf68693c14c9a75c4e6e6fedaf9cd71c58117cb93e3fa",
    "linux-arm64": "8e1014e87c34901cc422a1445866835d1e666f2a61301c27e722bdeab5a1f7e4",
}

# sha256 of each pinned Kubernetes release's linux-amd64 kubectl (dl.k8s.io/release/<v>/bin/linux/amd64/kubectl),
# as pinned by cashapp/hermit-packages kubectl.hcl (commit f0517fd7, its sha256sums keyed by the dl.k8s.io URL).
# CI installs the kubectl of each matrix entry (the skew policy allows kubectl +-1 minor only) and checks it
# against this pin and against the kubectl.sha256 published next to it; tests/kind checks the workflow carries it.
KUBECTL_SHA256_LINUX_AMD64 = {
    "v1.35.0": "a2e984a18a0c063279d692533031c1eff93a262afcc0afdc517375432d060989",
    "v1.34.3": "ab60ca5f0fd60c1eb81b52909e67060e3ba0bd27e55a8ac147cbc2172ff14212",
    "v1.33.7": "471d94e208a89be62eb776700fc8206cbef11116a8de2dc06fc0086b0015375b",
    "v1.32.11": "48581d0e808bd8b7d3c3fc014e86b170e25a987df04c8a879b982b28a5180815",
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

# Not pinned: the 1.31 image of the v0.31.0 note. Its image list could not be read from the note itself here
# (only third-party copies of the digest were found), and a digest is pinned only from the release's own text.
# Newer kind releases exist (v0.32.0, v0.33.0; v0.33.0's note lists 1.37, 1.36, 1.35, 1.34 images); moving
# means a new binary checksum, every image from that note, and NODE_GLIBC (v0.32+ nodes run trixie, 2.41).

# Newest first: the first entry is the default of --k8s-version.
IMAGES: tuple[NodeImage, ...] = (
    NodeImage(
        "1.35",
        "kindest/node:v1.35.0@sha256:452d707d4862f52530247495d180205e029056831160e22870e37e3f6c1ac31f",
        _NOTE + "; also the release's default image",
    ),
    NodeImage(
        "1.34",
        "kindest/node:v1.34.3@sha256:08497ee19eace7b4b5348db5c6a1591d7752b164530a36f855cb0f2bdcbadd48",
        _NOTE,
    ),
    NodeImage(
        "1.33",
        "kindest/node:v1.33.7@sha256:d26ef333bdb2cbe9862a0f7c3803ecc7b4303d8cea8e814b481b09949d353040",
        _NOTE,
    ),
    NodeImage(
        "1.32",
        "kindest/node:v1.32.11@sha256:5fc52d52a7b9574015299724bd68f183702956aa4a2116ae75a63cb574b35af8",
        _NOTE,
    ),
)

ALL = "all"

# The glibc rule: the node executable bundles the build host's libpython, so it needs the build's glibc.
# Every pinned node image runs kind's base userland: Debian bookworm (glibc 2.36) for kind v0.23 to v0.31
# (kind images/base/Dockerfile); the container build (plugin/Dockerfile) must use a Debian release whose
# glibc is no newer. tests/kind/test_versions.py holds the Dockerfile's base to this.
NODE_GLIBC = "2.36"
DEBIAN_GLIBC = {"bullseye": "2.31", "bookworm": "2.36", "trixie": "2.41"}


def glibc_key(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split("."))


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

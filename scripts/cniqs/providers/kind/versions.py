"""What the versions table allows: which node images a run gets, and why a kind cannot make or load a cluster.

The table itself (every kind release from v0.30.0 to v0.33.0, Kubernetes minor -> kind node image) is
cniqs.providers.kind.nodeimages, which this module reads. The image set follows the kind
that is found (`kind version`, parse_kind_version): kind v0.30.0 gets v0.30.0's images (for_kind).
refusal() says, before anything is created, why a Kubernetes minor cannot run with the kind found;
load_refusal() why `kind load` cannot import into a cluster's nodes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from cniqs.common.errors import ParseError
from cniqs.providers.kind.nodeimages import (
    IMAGES,
    KIND_MODULE,
    KIND_VERSION,
    KUBECTL_FOR_MINOR,
    KUBECTL_SHA256_LINUX_AMD64,
    NEWEST,
    OLDEST,
    RELEASES,
    SOURCES,
    KindRelease,
    NodeImage,
    release_notes,
)

IMAGE_PATTERN = re.compile(r"^kindest/node:v(?P<minor>1\.\d+)\.(?P<patch>\d+)@sha256:(?P<digest>[0-9a-f]{64})$")


# kubeadm 1.37 no longer reads kubeadm.k8s.io/v1beta3: kind v0.30.0 creating a 1.37 cluster fails with "your
# configuration file uses an old API spec: kubeadm.k8s.io/v1beta3 ... Please use kubeadm v1.36".
KUBEADM_WITHOUT_V1BETA3 = "1.37"


ALL = "all"


def glibc_key(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split("."))


# The glibc rule: the node executable bundles the build host's libpython, so it needs the build's glibc, and it
# must start on every node it is meant for: the pinned images, whose userland is Debian trixie (glibc 2.41) from
# kind v0.32 on (kind images/base/Dockerfile), Debian bookworm (2.36) for v0.23 to v0.31 (the v0.30.0 and
# v0.31.0 rows of the table), and the node image the offline site builds (cniqs.site.nodeimage),
# bookworm too. The container build (plugin/Dockerfile) must use a Debian release whose glibc is no newer than the
# older of the two; tests/kind/test_versions.py holds the Dockerfile's base, and cniqs.ship.arm64 its build, to this.
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


def table_problems(releases: tuple[KindRelease, ...] = RELEASES) -> list[str]:
    """What is wrong with the table of every release (empty when it is usable)."""
    found = [f"kind {r.tag}: {p}" for r in releases for p in problems(r.images)]
    versions_ = [r.version for r in releases]
    if versions_ != sorted(set(versions_), reverse=True):
        found.append("kind releases are not newest first, or one is listed twice")
    found += [f"kind {r.tag}: no source named in SOURCES" for r in releases if r.tag not in SOURCES]
    return found


def select(choice: str | None, images: tuple[NodeImage, ...] = IMAGES, kind_tag: str = KIND_VERSION) -> list[NodeImage]:
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
    raise ValueError(f"--k8s-version {choice!r} is not in the versions table (kind {kind_tag}): use {known} or all")


# the kind that is found


@dataclass(frozen=True)
class KindVersion:
    """What `kind version` says: v0.30.0, or a build between releases such as v0.33.0-alpha.12+0123456789abcd."""

    major: int
    minor: int
    patch: int
    pre: str = ""

    @property
    def core(self) -> tuple[int, int, int]:
        return self.major, self.minor, self.patch

    def key(self) -> tuple[int, int, int, int]:
        """Semantic version order: a pre-release sorts before its release."""
        return self.major, self.minor, self.patch, 0 if self.pre else 1

    def __str__(self) -> str:
        return f"v{self.major}.{self.minor}.{self.patch}" + (f"-{self.pre}" if self.pre else "")


_KIND_VERSION = re.compile(r"v?(\d+)\.(\d+)\.(\d+)(?:-([0-9A-Za-z.-]+))?(?:\+[0-9A-Za-z.-]+)?")


def parse_kind_version(output: str) -> KindVersion:
    """`kind version` ("kind v0.30.0 go1.24.1 linux/amd64"; with -q just "0.30.0") -> KindVersion."""
    words = output.split()
    if words and words[0] == "kind":
        words = words[1:]  # the word after "kind" is the version; "go1.24.1" never is
    for word in words:
        match = _KIND_VERSION.fullmatch(word)
        if match is not None:
            major, minor, patch, pre = match.groups()
            return KindVersion(int(major), int(minor), int(patch), pre or "")
    raise ParseError(f"no version in the output of `kind version`: {output.strip()[:200]!r}")


def how_to_get(tag: str) -> str:
    return f"`go install {KIND_MODULE}@{tag}` or {release_notes(tag)}"


def for_kind(found: KindVersion, releases: tuple[KindRelease, ...] = RELEASES) -> tuple[KindRelease | None, str]:
    """The release whose images the kind found uses, and a note when it is not that release exactly.

    None for a kind older than the table's oldest release. A build between releases (v0.33.0-alpha...) or a patch
    release not listed gets the newest release before it; a kind newer than the newest listed gets the newest
    (kind supports node images of other releases on a best-effort basis only, kind docs design/node-image)."""
    older = [r for r in releases if (*r.version, 1) <= found.key()]
    if not older:
        return None, ""
    chosen = older[0]
    if found.core == chosen.version and not found.pre:
        return chosen, ""
    if chosen is releases[0] and found.key() > (*chosen.version, 1):
        return chosen, (
            f"kind {found} is newer than {chosen.tag}, the newest release in the versions table: "
            f"using {chosen.tag}'s node images (kind supports them with other releases best effort only)"
        )
    return chosen, f"kind {found} is not a release in the versions table: using the node images of {chosen.tag}"


def kubeadm_problem(release: KindRelease, minor: str) -> str | None:
    """Why kubeadm refuses the config this kind writes for this minor (None when it reads it)."""
    if _minor_key(minor) < _minor_key(KUBEADM_WITHOUT_V1BETA3):
        return None
    if release.v1beta4_from is not None and _minor_key(minor) >= _minor_key(release.v1beta4_from):
        return None
    return f"writes kubeadm v1beta3 config, which kubeadm {minor} no longer reads"


def _first_writing_v1beta4(minor: str) -> KindRelease | None:
    fits = [r for r in RELEASES if kubeadm_problem(r, minor) is None]
    return fits[-1] if fits else None


def refusal(found: KindVersion, minor: str, *, table_image: bool = True) -> str | None:
    """Why Kubernetes `minor` cannot be created with the kind found, in one line (None when it can).

    table_image: the node image comes from the found kind's release (False: another patch, from a mirror, and
    only kubeadm's config version matters)."""
    release, _ = for_kind(found)
    if release is None:
        return (
            f"kind {found} is older than {OLDEST.tag}, the oldest kind release cni-quickstart supports "
            f"(its node images and kubeadm config): use kind {NEWEST.tag}, {how_to_get(NEWEST.tag)}"
        )
    kubeadm = kubeadm_problem(release, minor)
    if table_image and release.image_for(minor) is None:
        having = [r for r in RELEASES if r.image_for(minor) is not None and kubeadm_problem(r, minor) is None]
        listed = f"kind {release.tag}'s release note lists {', '.join(release.minors())}"
        why = f"kind {found} has no node image for Kubernetes {minor} ({listed})"
        if kubeadm:
            why += f" and {kubeadm}"
        if not having:
            known = ", ".join(sorted({m for r in RELEASES for m in r.minors()}, key=_minor_key, reverse=True))
            return f"{why}; no kind release from {OLDEST.tag} to {NEWEST.tag} has one (they have {known})"
        best = having[0]
        image = best.image_for(minor)
        assert image is not None
        return f"{why}: kind {best.tag} has {image.kubernetes_version}, {how_to_get(best.tag)}"
    if kubeadm:
        needed = _first_writing_v1beta4(minor)
        if needed is None:
            return f"kind {found} {kubeadm}, and so does every kind release up to {NEWEST.tag}"
        return (
            f"kind {found} {kubeadm} (kind {needed.tag} and later write v1beta4 from {needed.v1beta4_from} on): "
            f"use kind {needed.tag} or newer, {how_to_get(NEWEST.tag)}"
        )
    return None


def requested_minor(choice: str | None) -> str | None:
    """The minor a --k8s-version names ("1.34" for 1.34, v1.34 or 1.34.3), None for the default, all, or nonsense."""
    if not choice or choice == ALL:
        return None
    match = re.fullmatch(r"v?(1\.\d+)(?:\.\d+)?", choice)
    return match[1] if match else None


def select_for_kind(choice: str | None, found: KindVersion) -> list[NodeImage]:
    """--k8s-version among the images of the found kind's release; ValueError with refusal()'s line otherwise."""
    release, _ = for_kind(found)
    minor = requested_minor(choice)
    if release is None or (minor is not None and release.image_for(minor) is None):
        raise ValueError(refusal(found, minor or NEWEST.images[0].minor))
    return select(choice, release.images, release.tag)


# `kind load`: what the nodes' containerd says against what the found kind reads

# The top-level `version` that `containerd config dump` prints is the running containerd's own config version,
# whatever the file says (containerd cmd/containerd/command/config.go sets it to version.ConfigVersion before
# printing): 2 for containerd 1.x, 3 for 2.0 to 2.2, 4 from 2.3 (version/version.go at v1.7.20, v2.0.0, v2.2.0,
# v2.3.0). Every kind node image writes a `version = 2` file (kind images/base/files/etc/containerd/config.toml);
# kind v0.30.0's images run containerd 2.1.4 and v0.31.0's 2.2.0 (3), v0.32.0's 2.3.1 and v0.33.0's 2.3.4 (4)
# (kind images/base/Dockerfile CONTAINERD_VERSION). The node image cniqs.site.nodeimage builds runs containerd
# cniqs.toolchain.kubebin.CONTAINERD (2.2.x: 3), so every kind from v0.30.0 loads into it.
CONTAINERD_FOR_CONFIG_VERSION = {2: "containerd 1.x", 3: "containerd 2.0 to 2.2", 4: "containerd 2.3 or later"}


def containerd_config_version(dump: str) -> int:
    """The top-level `version = N` of `containerd config dump` (before the first [table])."""
    for line in dump.splitlines():
        text = line.strip()
        if text.startswith("["):
            break
        match = re.fullmatch(r"version\s*=\s*(\d+)\s*(?:#.*)?", text)
        if match:
            return int(match[1])
    raise ParseError("no top-level `version = N` in the output of `containerd config dump`")


def load_refusal(found: KindVersion, config_version: int) -> str | None:
    """Why `kind load` of the kind found cannot import into nodes whose containerd config version is this."""
    release, _ = for_kind(found)
    accepted = release.load_config_versions if release is not None else OLDEST.load_config_versions
    if config_version in accepted:
        return None
    runtime = CONTAINERD_FOR_CONFIG_VERSION.get(config_version, "an unknown containerd")
    reads = " and ".join(str(v) for v in sorted(accepted))
    why = (
        f"kind {found} cannot `kind load` into these nodes: `containerd config dump` on them says config version "
        f"{config_version} ({runtime}) and kind {found} reads only {reads}"
    )
    readers = [r for r in RELEASES if config_version in r.load_config_versions]
    if not readers:
        return f"{why}; no kind release from {OLDEST.tag} to {NEWEST.tag} reads it"
    return f"{why}: kind {readers[-1].tag} or newer reads it, {how_to_get(NEWEST.tag)}"

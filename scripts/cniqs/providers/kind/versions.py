"""The versions table: for each kind release from v0.30.0 to v0.33.0, Kubernetes minor -> kind node image.

kind only supports node images built for the kind release in use, and only by digest: every release note
says to use the exact `@sha256:` images it lists. Each release below carries every image of its note's
"Images pre-built for this release" list, newest first, and says where each digest was read (SOURCES).
The image set follows the kind that is found (`kind version`, parse_kind_version): kind v0.30.0 gets
v0.30.0's images (for_kind). refusal() says, before anything is created, why a Kubernetes minor cannot run
with the kind found; load_refusal() why `kind load` cannot import into a cluster's nodes.

IMAGES is the newest release's list: the CI workflow tests the newest kind release, one job per row
(.github/workflows/e2e.yml; tests/kind checks they agree). To add a kind release, add its KindRelease with
every image of its note, and move KIND_VERSION, the workflow and cniqs.kubebin.KIND together.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from cniqs.common.errors import ParseError

KIND_MODULE = "sigs.k8s.io/kind"
KIND_RELEASES_PAGE = "https://github.com/kubernetes-sigs/kind/releases"


def release_notes(tag: str) -> str:
    return f"{KIND_RELEASES_PAGE}/tag/{tag}"


# kubectl for each row of the newest release, each row's own minor (the skew policy allows kubectl one minor away
# from the API server at most; kubectl_problems checks that much), and the sha256 of its linux-amd64 binary
# (dl.k8s.io/release/<v>/bin/linux/amd64/kubectl). v1.36.4, v1.35.8 and v1.34.11 as pinned by kubespray
# (kubernetes-sigs/kubespray 46dbdd39, roles/kubespray_defaults/vars/main/checksums.yml, kubectl_checksums.amd64),
# which pins no 1.37 kubectl yet; v1.37.0 as pinned by rosenhouse/capi-dagger-dev-env a8b7f948,
# internal/devenv/infra/infra.go (its kubectl download for KubernetesVersion v1.37.0, amd64). CI installs each
# row's kubectl and checks it against this pin and against the kubectl.sha256 published next to it.
KUBECTL_SHA256_LINUX_AMD64 = {
    "v1.37.0": "6129359f4e1f3848a5572ccb0b26cf28b8ca08cef38c95a765b2f64a2c961a2f",
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


# kubeadm 1.37 no longer reads kubeadm.k8s.io/v1beta3 (seen here: kind v0.30.0 creating a 1.37 cluster fails
# with "your configuration file uses an old API spec: kubeadm.k8s.io/v1beta3 ... Please use kubeadm v1.36").
KUBEADM_WITHOUT_V1BETA3 = "1.37"


@dataclass(frozen=True)
class KindRelease:
    """One kind release: its images (newest first; the first is its default) and what its CLI can do.

    v1beta4_from: the first Kubernetes minor for which this kind writes kubeadm v1beta4 config (None: it writes
    v1beta3 for every minor from 1.23). kind pkg/cluster/internal/kubeadm/config.go: v0.30.0 and v0.31.0 pick
    ConfigTemplateBetaV3 from 1.23 on; v0.32.0 and v0.33.0 pick ConfigTemplateBetaV4 unless the version is
    below v1.36.0.
    load_config_versions: the containerd config versions its `kind load` accepts. kind
    pkg/cluster/nodeutils/util.go parseSnapshotter reads the top-level `version` of `containerd config dump`
    on a node: v0.30.0 and v0.31.0 accept 2 and 3 ("supported versions: 2 and 3"), v0.32.0 and v0.33.0 also 4
    (kind b22acfaf "handle containerd v4 config format").
    """

    tag: str
    images: tuple[NodeImage, ...]
    v1beta4_from: str | None
    load_config_versions: frozenset[int]

    @property
    def version(self) -> tuple[int, int, int]:
        major, minor, patch = self.tag.removeprefix("v").split(".")
        return int(major), int(minor), int(patch)

    @property
    def notes(self) -> str:
        return release_notes(self.tag)

    def minors(self) -> list[str]:
        return [entry.minor for entry in self.images]

    def image_for(self, minor: str) -> NodeImage | None:
        return next((entry for entry in self.images if entry.minor == minor), None)


# Where each release's digests were read. Every digest of a release agrees in all the sources named for it, and
# each release's first image is also the default image in kind's own source at that tag
# (pkg/apis/config/defaults/image.go: git tags v0.30.0 to v0.32.0 of kubernetes-sigs/kind, and the v0.33.0
# module that `go install sigs.k8s.io/kind@v0.33.0` fetched here).
SOURCES = {
    "v0.33.0": "the release note itself",
    "v0.32.0": (
        "the note's list as pinned in kubernetes-sigs/cluster-api test/infrastructure/kind/mapper.go "
        '("Pre-built images for Kind v0.32", commit 15f3dc16af "Bump to kind v0.32.0"); '
        "the note's own text was not readable here"
    ),
    "v0.31.0": (
        "a verbatim copy of the release note (its Source line links the note), and kubernetes-sigs/cluster-api "
        'test/infrastructure/kind/mapper.go ("Pre-built images for Kind v0.31", commit f1dfe6f0a1)'
    ),
    "v0.30.0": (
        "a verbatim copy of the release note (its Source line links the note), and kubernetes-sigs/cluster-api "
        'test/infrastructure/kind/mapper.go ("Pre-built images for Kind v0.30", commit c599b48b15)'
    ),
}


def _release(
    tag: str, images: tuple[tuple[str, str], ...], v1beta4_from: str | None, load_config_versions: set[int]
) -> KindRelease:
    source = f"{release_notes(tag)} (Images pre-built for this release); read in {SOURCES[tag]}"
    rows = tuple(
        NodeImage(minor, image, source + ("; also the release's default image" if i == 0 else ""))
        for i, (minor, image) in enumerate(images)
    )
    return KindRelease(tag, rows, v1beta4_from, frozenset(load_config_versions))


# Newest release first; within a release newest Kubernetes first. (The v0.33.0 note's first line says the release
# "defaults to Kubernetes 1.36.1"; its Breaking Changes and its list name v1.37.0 as the default image, and kind
# corrected that line: kubernetes-sigs/kind#4248.)
RELEASES: tuple[KindRelease, ...] = (
    _release(
        "v0.33.0",
        (
            ("1.37", "kindest/node:v1.37.0@sha256:a1ed56cfb0e7b93589bdf97c8cd566405a265939e3620fc4f5de89adff580ae5"),
            ("1.36", "kindest/node:v1.36.4@sha256:099e049362a1526b2db71494e1947aae99bd16290d7c895f2b7ea312e3cbfaed"),
            ("1.35", "kindest/node:v1.35.8@sha256:07b2536e30b803ed61d1677a79df6115f798ce64c80f9e22f6ed45afd09323c0"),
            ("1.34", "kindest/node:v1.34.11@sha256:44e222ee2132dab25ff87301682f89eb82c7880ea3a1bf543bfe9708fd08d67d"),
        ),
        "1.36",
        {2, 3, 4},
    ),
    _release(
        "v0.32.0",
        (
            ("1.36", "kindest/node:v1.36.1@sha256:3489c7674813ba5d8b1a9977baea8a6e553784dab7b84759d1014dbd78f7ebd5"),
            ("1.35", "kindest/node:v1.35.5@sha256:ce977ae6d65918d0b58a5f8b5e940429c2ce42fa3a5619ec2bbc60b949c0ac95"),
            ("1.34", "kindest/node:v1.34.8@sha256:02722c2dedddcfc00febf5d27fbeb9b7b2c14294c82109ff4a85d89ac9ba3256"),
            ("1.33", "kindest/node:v1.33.12@sha256:3f5c8443c620245e4d355cfe09e96a91ead32ceaa569d3f1ca9edf0cb2fe2ff4"),
        ),
        "1.36",
        {2, 3, 4},
    ),
    _release(
        "v0.31.0",
        (
            ("1.35", "kindest/node:v1.35.0@sha256:452d707d4862f52530247495d180205e029056831160e22870e37e3f6c1ac31f"),
            ("1.34", "kindest/node:v1.34.3@sha256:08497ee19eace7b4b5348db5c6a1591d7752b164530a36f855cb0f2bdcbadd48"),
            ("1.33", "kindest/node:v1.33.7@sha256:d26ef333bdb2cbe9862a0f7c3803ecc7b4303d8cea8e814b481b09949d353040"),
            ("1.32", "kindest/node:v1.32.11@sha256:5fc52d52a7b9574015299724bd68f183702956aa4a2116ae75a63cb574b35af8"),
            ("1.31", "kindest/node:v1.31.14@sha256:6f86cf509dbb42767b6e79debc3f2c32e4ee01386f0489b3b2be24b0a55aac2b"),
        ),
        None,
        {2, 3},
    ),
    _release(
        "v0.30.0",
        (
            ("1.34", "kindest/node:v1.34.0@sha256:7416a61b42b1662ca6ca89f02028ac133a309a2a30ba309614e8ec94d976dc5a"),
            ("1.33", "kindest/node:v1.33.4@sha256:25a6018e48dfcaee478f4a59af81157a437f15e6e140bf103f85a2e7cd0cbbf2"),
            ("1.32", "kindest/node:v1.32.8@sha256:abd489f042d2b644e2d033f5c2d900bc707798d075e8186cb65e3f1367a9d5a1"),
            ("1.31", "kindest/node:v1.31.12@sha256:0f5cc49c5e73c0c2bb6e2df56e7df189240d83cf94edfa30946482eb08ec57d2"),
        ),
        None,
        {2, 3},
    ),
)

NEWEST = RELEASES[0]
OLDEST = RELEASES[-1]
# The release the CI workflow and cniqs.kubebin (for the offline site here) build: the newest.
KIND_VERSION = NEWEST.tag
KIND_RELEASE_NOTES = NEWEST.notes
IMAGES: tuple[NodeImage, ...] = NEWEST.images

# The kubectl each row's CI job installs (a key of KUBECTL_SHA256_LINUX_AMD64).
KUBECTL_FOR_MINOR = {"1.37": "v1.37.0", "1.36": "v1.36.4", "1.35": "v1.35.8", "1.34": "v1.34.11"}

ALL = "all"


def glibc_key(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split("."))


# The glibc rule: the node executable bundles the build host's libpython, so it needs the build's glibc, and it
# must start on every node it is meant for: the pinned images, whose userland is Debian trixie (glibc 2.41) from
# kind v0.32 on (kind images/base/Dockerfile), Debian bookworm (2.36) for v0.23 to v0.31 (the v0.30.0 and
# v0.31.0 rows of the table), and the node image the offline site builds here (cniqs.site.nodeimage),
# bookworm too. The container build (plugin/Dockerfile) must use a Debian release whose glibc is no newer than the
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

    None for a kind older than the oldest release here. A build between releases (v0.33.0-alpha...) or a patch
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
# (kind images/base/Dockerfile CONTAINERD_VERSION). The node image built here runs containerd
# cniqs.kubebin.CONTAINERD (2.2.x: 3), so every kind from v0.30.0 loads into it.
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

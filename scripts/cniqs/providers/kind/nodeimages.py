"""The versions table: for each kind release from v0.30.0 to v0.33.0, Kubernetes minor -> kind node image.

kind only supports node images built for the kind release in use, and only by digest: every release note
says to use the exact `@sha256:` images it lists. Each release below carries every image of its note's
"Images pre-built for this release" list, newest first, and says where each digest was read (SOURCES).
What a run may use of it is cniqs.providers.kind.versions.

IMAGES is the newest release's list: the CI workflow tests the newest kind release, one job per row
(.github/workflows/e2e.yml; tests/kind checks they agree). To add a kind release, add its KindRelease with
every image of its note, and move KIND_VERSION, the workflow and cniqs.toolchain.kubebin.KIND together.
"""

from __future__ import annotations

from dataclasses import dataclass

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


# The sources of each release's digests. Every digest of a release agrees in all the sources named for it, and
# each release's first image is also the default image in kind's own source at that tag
# (kubernetes-sigs/kind pkg/apis/config/defaults/image.go at each release's tag).
SOURCES = {
    "v0.33.0": "the release note itself",
    "v0.32.0": (
        "the note's list as pinned in kubernetes-sigs/cluster-api test/infrastructure/kind/mapper.go "
        '("Pre-built images for Kind v0.32", commit 15f3dc16af "Bump to kind v0.32.0")'
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
# The release the CI workflow and cniqs.toolchain.kubebin (for the offline site) build: the newest.
KIND_VERSION = NEWEST.tag
KIND_RELEASE_NOTES = NEWEST.notes
IMAGES: tuple[NodeImage, ...] = NEWEST.images

# The kubectl each row's CI job installs (a key of KUBECTL_SHA256_LINUX_AMD64).
KUBECTL_FOR_MINOR = {"1.37": "v1.37.0", "1.36": "v1.36.4", "1.35": "v1.35.8", "1.34": "v1.34.11"}

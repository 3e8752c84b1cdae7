"""The kind that is found: its version, its release's images, what it refuses before anything is created,
and the `kind load` check against the nodes' containerd config version."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest

from cniqs.common.errors import ParseError, Refused
from cniqs.common.run import Completed
from cniqs.provider import RunOptions
from cniqs.providers.cluster.nodes import Nodes
from cniqs.providers.kind import commands, release, versions
from cniqs.providers.kind.backend import KindBackend
from cniqs.providers.kind.versions import KindVersion, parse_kind_version

# Each release's list as its note gives it (versions.SOURCES): minor -> exact Kubernetes version and digest.
EXPECTED = {
    "v0.33.0": [
        ("1.37", "v1.37.0", "a1ed56cfb0e7b93589bdf97c8cd566405a265939e3620fc4f5de89adff580ae5"),
        ("1.36", "v1.36.4", "099e049362a1526b2db71494e1947aae99bd16290d7c895f2b7ea312e3cbfaed"),
        ("1.35", "v1.35.8", "07b2536e30b803ed61d1677a79df6115f798ce64c80f9e22f6ed45afd09323c0"),
        ("1.34", "v1.34.11", "44e222ee2132dab25ff87301682f89eb82c7880ea3a1bf543bfe9708fd08d67d"),
    ],
    "v0.32.0": [
        ("1.36", "v1.36.1", "3489c7674813ba5d8b1a9977baea8a6e553784dab7b84759d1014dbd78f7ebd5"),
        ("1.35", "v1.35.5", "ce977ae6d65918d0b58a5f8b5e940429c2ce42fa3a5619ec2bbc60b949c0ac95"),
        ("1.34", "v1.34.8", "02722c2dedddcfc00febf5d27fbeb9b7b2c14294c82109ff4a85d89ac9ba3256"),
        ("1.33", "v1.33.12", "3f5c8443c620245e4d355cfe09e96a91ead32ceaa569d3f1ca9edf0cb2fe2ff4"),
    ],
    "v0.31.0": [
        ("1.35", "v1.35.0", "452d707d4862f52530247495d180205e029056831160e22870e37e3f6c1ac31f"),
        ("1.34", "v1.34.3", "08497ee19eace7b4b5348db5c6a1591d7752b164530a36f855cb0f2bdcbadd48"),
        ("1.33", "v1.33.7", "d26ef333bdb2cbe9862a0f7c3803ecc7b4303d8cea8e814b481b09949d353040"),
        ("1.32", "v1.32.11", "5fc52d52a7b9574015299724bd68f183702956aa4a2116ae75a63cb574b35af8"),
        ("1.31", "v1.31.14", "6f86cf509dbb42767b6e79debc3f2c32e4ee01386f0489b3b2be24b0a55aac2b"),
    ],
    "v0.30.0": [
        ("1.34", "v1.34.0", "7416a61b42b1662ca6ca89f02028ac133a309a2a30ba309614e8ec94d976dc5a"),
        ("1.33", "v1.33.4", "25a6018e48dfcaee478f4a59af81157a437f15e6e140bf103f85a2e7cd0cbbf2"),
        ("1.32", "v1.32.8", "abd489f042d2b644e2d033f5c2d900bc707798d075e8186cb65e3f1367a9d5a1"),
        ("1.31", "v1.31.12", "0f5cc49c5e73c0c2bb6e2df56e7df189240d83cf94edfa30946482eb08ec57d2"),
    ],
}


def kind(text: str) -> KindVersion:
    return parse_kind_version(text)


# parsing `kind version`


@pytest.mark.parametrize(
    ("output", "expected"),
    [
        ("kind v0.30.0 go1.24.1 linux/amd64\n", KindVersion(0, 30, 0)),
        ("kind v0.33.0 go1.26.8 linux/amd64", KindVersion(0, 33, 0)),  # a kind built with `go install`
        ("0.31.0\n", KindVersion(0, 31, 0)),  # kind version -q
        ("kind v0.33.0-alpha.12+0123456789abcd go1.26.8 darwin/arm64", KindVersion(0, 33, 0, "alpha.12")),
        ("  kind   v1.2.3   go1.30 windows/amd64  ", KindVersion(1, 2, 3)),
    ],
)
def test_parse_kind_version(output: str, expected: KindVersion) -> None:
    assert parse_kind_version(output) == expected


@pytest.mark.parametrize("output", ["", "kind", "kind go1.24.1 linux/amd64", "command not found", "kind vX.Y"])
def test_parse_kind_version_refuses_what_has_no_version(output: str) -> None:
    with pytest.raises(ParseError, match="kind version"):
        parse_kind_version(output)


def test_pre_release_sorts_before_its_release() -> None:
    assert kind("v0.33.0-alpha.3").key() < kind("v0.33.0").key() < kind("v0.33.1").key()
    assert str(kind("kind v0.33.0-alpha.3+abc go1 linux/amd64")) == "v0.33.0-alpha.3"


# the table, release by release


def test_every_release_from_v0_30_to_v0_33_with_every_image_of_its_note() -> None:
    assert versions.table_problems() == []
    assert [r.tag for r in versions.RELEASES] == list(EXPECTED)
    for rel in versions.RELEASES:
        rows = [(e.minor, e.kubernetes_version, e.digest.removeprefix("sha256:")) for e in rel.images]
        assert rows == EXPECTED[rel.tag], rel.tag


def test_each_row_cites_its_own_release_note_and_where_it_was_read() -> None:
    for rel in versions.RELEASES:
        for i, entry in enumerate(rel.images):
            assert entry.source.startswith(f"https://github.com/kubernetes-sigs/kind/releases/tag/{rel.tag} ")
            assert versions.SOURCES[rel.tag] in entry.source
            assert ("default image" in entry.source) == (i == 0)


def test_the_newest_release_is_the_pinned_one() -> None:
    assert versions.KIND_VERSION == "v0.33.0" == versions.NEWEST.tag
    assert versions.IMAGES == versions.NEWEST.images


def test_table_problems_catches_a_bad_release() -> None:
    v30, v31 = versions.RELEASES[-1], versions.RELEASES[-2]
    assert "not newest first" in versions.table_problems((v30, v31))[0]
    broken = versions.KindRelease(
        "v0.29.0", (versions.NodeImage("1.33", "kindest/node:v1.33.1", ""),), None, v30.load_config_versions
    )
    found = versions.table_problems((broken,))
    assert any("sha256" in p for p in found) and any("no source" in p for p in found)


@pytest.mark.parametrize("tag", list(EXPECTED))
def test_the_image_set_follows_the_kind_found(tag: str) -> None:
    found = kind(f"kind {tag} go1.24.1 linux/amd64")
    chosen, note = versions.for_kind(found)
    assert chosen is not None and chosen.tag == tag and note == ""
    assert versions.select_for_kind(None, found)[0].kubernetes_version == EXPECTED[tag][0][1]
    assert [e.minor for e in versions.select_for_kind("all", found)] == [row[0] for row in EXPECTED[tag]]


def test_kind_v0_30_gets_v0_30_images_not_the_newest() -> None:
    (entry,) = versions.select_for_kind("1.34", kind("kind v0.30.0 go1.24.1 linux/amd64"))
    assert entry.image.endswith("7416a61b42b1662ca6ca89f02028ac133a309a2a30ba309614e8ec94d976dc5a")
    (exact,) = versions.select_for_kind("v1.34.0", kind("v0.30.0"))
    assert exact == entry
    with pytest.raises(ValueError, match="not in the versions table \\(kind v0.30.0\\)"):
        versions.select_for_kind("1.34.11", kind("v0.30.0"))  # v0.33.0's 1.34


def test_builds_between_releases_and_newer_kinds() -> None:
    alpha, note = versions.for_kind(kind("v0.33.0-alpha.12"))
    assert alpha is not None and alpha.tag == "v0.32.0" and "not a release in the versions table" in note
    newer, note = versions.for_kind(kind("v0.34.0"))
    assert newer is versions.NEWEST and "newer than v0.33.0" in note and "best effort" in note
    assert versions.for_kind(kind("v0.29.0")) == (None, "")
    assert versions.for_kind(kind("v0.30.0-alpha"))[0] is None


# refusals before anything is created


def one_line(text: str | None) -> str:
    assert text is not None and "\n" not in text
    return text


def test_older_than_v0_30_is_refused_with_how_to_get_a_supported_kind() -> None:
    text = one_line(versions.refusal(kind("kind v0.29.0 go1.24 linux/amd64"), "1.33"))
    assert "kind v0.29.0 is older than v0.30.0" in text
    assert "go install sigs.k8s.io/kind@v0.33.0" in text
    assert "https://github.com/kubernetes-sigs/kind/releases/tag/v0.33.0" in text
    with pytest.raises(ValueError, match="older than v0.30.0"):
        versions.select_for_kind(None, kind("v0.29.0"))


@pytest.mark.parametrize("tag", ["v0.30.0", "v0.31.0"])
def test_1_37_on_kind_v0_30_and_v0_31_names_kubeadm_and_the_release_that_has_it(tag: str) -> None:
    text = one_line(versions.refusal(kind(tag), "1.37"))
    assert f"kind {tag} has no node image for Kubernetes 1.37" in text
    assert "kubeadm v1beta3" in text and "kubeadm 1.37 no longer reads" in text
    assert "kind v0.33.0 has v1.37.0" in text and "go install sigs.k8s.io/kind@v0.33.0" in text


@pytest.mark.parametrize("tag", ["v0.30.0", "v0.31.0"])
def test_1_37_is_refused_even_with_an_image_from_elsewhere(tag: str) -> None:
    """A node image from elsewhere (a mirror's): the table has nothing to say, kubeadm's config version does."""
    text = one_line(versions.refusal(kind(tag), "1.37", table_image=False))
    assert "v1beta3" in text and "kind v0.32.0 and later write v1beta4 from 1.36 on" in text
    assert "use kind v0.32.0 or newer" in text and "go install sigs.k8s.io/kind@v0.33.0" in text


@pytest.mark.parametrize(("tag", "minor"), [("v0.32.0", "1.37"), ("v0.33.0", "1.37"), ("v0.31.0", "1.36")])
def test_kubeadm_has_nothing_to_say_where_kind_writes_what_it_reads(tag: str, minor: str) -> None:
    assert versions.refusal(kind(tag), minor, table_image=False) is None


def test_a_minor_only_an_older_kind_has_names_that_release() -> None:
    text = one_line(versions.refusal(kind("v0.33.0"), "1.31"))
    assert "kind v0.33.0 has no node image for Kubernetes 1.31" in text
    assert "kind v0.31.0 has v1.31.14" in text and "go install sigs.k8s.io/kind@v0.31.0" in text


def test_a_minor_no_release_has() -> None:
    text = one_line(versions.refusal(kind("v0.33.0"), "1.29"))
    assert "no kind release from v0.30.0 to v0.33.0 has one" in text


def test_the_minors_each_kind_can_create() -> None:
    for tag, rows in EXPECTED.items():
        for minor in ("1.37", "1.36", "1.35", "1.34", "1.33", "1.32", "1.31"):
            refused = versions.refusal(kind(tag), minor)
            assert (refused is None) == (minor in [row[0] for row in rows]), (tag, minor, refused)


def test_select_for_kind_refuses_with_the_refusal_line() -> None:
    with pytest.raises(ValueError) as raised:
        versions.select_for_kind("v1.37", kind("kind v0.30.0 go1.24.1 linux/amd64"))
    assert str(raised.value) == versions.refusal(kind("v0.30.0"), "1.37")


# the kind load check


DUMP_V3 = """version = 3
root = "/var/lib/containerd"
[plugins]
  [plugins."io.containerd.cri.v1.images"]
    snapshotter = "overlayfs"
  [plugins."io.containerd.internal.v1.opt"]
    version = 9
"""


def test_containerd_config_version() -> None:
    assert versions.containerd_config_version(DUMP_V3) == 3
    assert versions.containerd_config_version("# dumped\nversion = 4 \n[plugins]\n") == 4
    with pytest.raises(ParseError):
        versions.containerd_config_version('root = "/x"\n[plugins]\n  version = 3\n')


@pytest.mark.parametrize(
    ("tag", "config_version", "refused"),
    [
        ("v0.30.0", 2, False),
        ("v0.30.0", 3, False),  # kind v0.30/v0.31 images (containerd 2.1.4, 2.2.0) and the image built here
        ("v0.30.0", 4, True),  # kind v0.32/v0.33 images (containerd 2.3.1, 2.3.4)
        ("v0.31.0", 4, True),
        ("v0.32.0", 4, False),
        ("v0.33.0", 4, False),
        ("v0.33.0", 5, True),
    ],
)
def test_load_refusal(tag: str, config_version: int, refused: bool) -> None:
    assert (versions.load_refusal(kind(tag), config_version) is not None) == refused


def test_load_refusal_names_the_release_needed() -> None:
    text = one_line(versions.load_refusal(kind("kind v0.31.0 go1.25 linux/amd64"), 4))
    assert "kind v0.31.0 cannot `kind load`" in text and "config version 4 (containerd 2.3 or later)" in text
    assert "reads only 2 and 3" in text and "kind v0.32.0 or newer reads it" in text
    assert "go install sigs.k8s.io/kind@v0.33.0" in text
    assert "no kind release" in one_line(versions.load_refusal(kind("v0.33.0"), 5))


def test_the_image_built_here_loads_with_every_supported_kind() -> None:
    """Its containerd is a 2.2 (config version 3): kind v0.30.0's `kind load` reads it."""
    from cniqs.toolchain import kubebin

    assert kubebin.CONTAINERD.version.startswith("v2.2.")
    assert all(3 in r.load_config_versions for r in versions.RELEASES)


class FakeRun:
    def __init__(self, kind_output: str, dumps: dict[str, tuple[int, str]]) -> None:
        self.kind_output = kind_output
        self.dumps = dumps
        self.calls: list[list[str]] = []

    def __call__(self, argv: Sequence[str], *, input: str | None = None, timeout: float | None = None) -> Completed:
        argv = list(argv)
        self.calls.append(argv)
        if argv[1:] == ["version"]:
            return Completed(argv, 0, self.kind_output, "")
        if argv[:2] == ["docker", "exec"] and argv[3:] == ["containerd", "config", "dump"]:
            rc, out = self.dumps[argv[2]]
            return Completed(argv, rc, out if rc == 0 else "", "" if rc == 0 else "containerd: not found\n")
        if argv[1:3] == ["load", "image-archive"]:
            return Completed(argv, 0, "", "")
        raise AssertionError(f"unexpected command {argv}")


def test_check_load_asks_every_node() -> None:
    run = FakeRun("kind v0.31.0 go1.25 linux/amd64", {"a": (0, DUMP_V3), "b": (0, "version = 4\n")})
    with pytest.raises(Refused, match="^b: kind v0.31.0 cannot `kind load`"):
        release.check_load(run, "kind", commands.DOCKER, ["a", "b"])
    assert run.calls == [
        ["kind", "version"],
        ["docker", "exec", "a", "containerd", "config", "dump"],
        ["docker", "exec", "b", "containerd", "config", "dump"],
    ]
    release.check_load(FakeRun("kind v0.32.0", {"b": (0, "version = 4\n")}), "kind", commands.DOCKER, ["b"])
    with pytest.raises(Refused, match="containerd config dump` on a failed"):
        release.check_load(FakeRun("kind v0.33.0", {"a": (1, "")}), "kind", commands.DOCKER, ["a"])


def backend(run: FakeRun, nodes: list[str]) -> KindBackend:
    """A KindBackend without a cluster API: only what load_image uses."""
    kb = object.__new__(KindBackend)
    kb.run = run
    kb.kind = "kind"
    kb.cluster = "c"
    kb.shell = Nodes(run, commands.DOCKER)
    kb.nodes = nodes
    kb.loaded_images = []
    kb.load_checked = False
    return kb


def test_kind_load_is_refused_before_it_runs(tmp_path: Path) -> None:
    run = FakeRun("kind v0.30.0 go1.24.1 linux/amd64", {"c-control-plane": (0, "version = 4\n[plugins]\n")})
    with pytest.raises(Refused, match="kind v0.32.0 or newer"):
        backend(run, ["c-control-plane"]).load_image(tmp_path / "installer.oci.tar")
    assert not [c for c in run.calls if c[1:2] == ["load"]]


def test_kind_load_runs_after_the_check_once(tmp_path: Path) -> None:
    run = FakeRun("kind v0.30.0 go1.24.1 linux/amd64", {"c-control-plane": (0, DUMP_V3)})
    kb = backend(run, ["c-control-plane"])
    kb.load_image(tmp_path / "a.tar")
    kb.load_image(tmp_path / "b.tar")
    assert [c[:3] for c in run.calls] == [
        ["kind", "version"],
        ["docker", "exec", "c-control-plane"],
        ["kind", "load", "image-archive"],
        ["kind", "load", "image-archive"],
    ]


# the provider: nothing is created for a kind that cannot run it


def test_prerequisites_name_a_kind_too_old() -> None:
    assert release.problems(FakeRun("kind v0.29.0 go1.24 linux/amd64", {}), "kind")[0].startswith(
        "kind v0.29.0 is older than v0.30.0"
    )
    assert release.problems(FakeRun("kind v0.30.0 go1.24 linux/amd64", {}), "kind") == []
    assert "no version in the output" in release.problems(FakeRun("garbage", {}), "kind")[0]


def test_up_refuses_a_too_old_kind_before_anything(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from cniqs.providers.kind import provider

    run = FakeRun("kind v0.29.0 go1.24 linux/amd64", {})
    monkeypatch.setattr(provider, "run_process", run)
    monkeypatch.setenv("KIND_EXPERIMENTAL_PROVIDER", "docker")
    monkeypatch.delenv("CNIQS_KIND", raising=False)
    monkeypatch.delenv("KIND", raising=False)
    with pytest.raises(Refused, match="older than v0.30.0"):
        provider.KindProvider().up(RunOptions(), name="cni-test", workdir=tmp_path / "w")
    assert run.calls == [["kind", "version"]]
    assert not (tmp_path / "w").exists()


def test_open_refuses_1_37_with_kind_v0_30_before_anything(monkeypatch: pytest.MonkeyPatch) -> None:
    from cniqs.providers.kind import provider

    run = FakeRun("kind v0.30.0 go1.24.1 linux/amd64", {})
    monkeypatch.setattr(provider, "run_process", run)
    monkeypatch.setenv("KIND_EXPERIMENTAL_PROVIDER", "docker")
    monkeypatch.delenv("CNIQS_KIND", raising=False)
    monkeypatch.delenv("KIND", raising=False)
    kp = provider.KindProvider()
    with pytest.raises(ValueError, match="kubeadm v1beta3"):
        kp.variants(RunOptions({"--k8s-version": "1.37"}))
    assert kp.variants(RunOptions({"--k8s-version": "all"})) == ["1.34", "1.33", "1.32", "1.31"]
    with pytest.raises(ValueError, match="kind v0.33.0 has v1.37.0"), kp.open(RunOptions(), "1.37"):
        pass
    assert {tuple(c) for c in run.calls} == {("kind", "version")}

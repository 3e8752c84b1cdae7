"""The registry mirror (cniqs.providers.kind.mirror): parsing, image reference parts, the nodes' hosts.toml
files, and what a run asks the mirror (a fake fetch: no registry is reached)."""

from __future__ import annotations

import json
import shlex
import urllib.error
import urllib.request

import pytest
import tomllib

from cniqs.providers.kind import mirror

DIGEST = "sha256:" + "a" * 64
OTHER = "sha256:" + "b" * 64
PINNED = f"kindest/node:v1.34.0@{DIGEST}"

# --- parse ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "host", "scheme"),
    [
        ("http://10.0.0.5:5000", "10.0.0.5:5000", "http"),
        ("https://registry.example/", "registry.example", "https"),
        ("registry.example:5000", "registry.example:5000", "https"),
        ("  http://198.18.77.2:5000/  ", "198.18.77.2:5000", "http"),
        ("[fd00::5]:5000", "[fd00::5]:5000", "https"),
    ],
)
def test_parse(text: str, host: str, scheme: str) -> None:
    chosen = mirror.parse(text)
    assert chosen == mirror.Mirror(host, scheme)
    assert chosen.url == f"{scheme}://{host}"
    assert chosen.insecure is (scheme == "http")


@pytest.mark.parametrize("text", ["", "   ", None])
def test_no_mirror(text: str | None) -> None:
    assert mirror.parse(text) is None


@pytest.mark.parametrize(
    "text", ["http://", "ftp://registry.example", "registry.example/path", "host name", "-bad", "reg.example:port"]
)
def test_parse_refuses_what_is_not_a_host(text: str) -> None:
    with pytest.raises(ValueError, match=r"give HOST\[:PORT\]"):
        mirror.parse(text)


# --- image reference parts --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("image", "domain", "repository", "tag", "digest"),
    [
        ("alpine", "docker.io", "library/alpine", None, None),
        ("alpine:3.20", "docker.io", "library/alpine", "3.20", None),
        ("library/x", "docker.io", "library/x", None, None),
        ("docker.io/alpine:3.20", "docker.io", "library/alpine", "3.20", None),
        (PINNED, "docker.io", "kindest/node", "v1.34.0", DIGEST),
        (f"kindest/node@{DIGEST}", "docker.io", "kindest/node", None, DIGEST),
        ("registry.k8s.io/pause:3.10", "registry.k8s.io", "pause", "3.10", None),
        ("registry.k8s.io/coredns/coredns:v1.12.4", "registry.k8s.io", "coredns/coredns", "v1.12.4", None),
        ("HOST:5000/x/y:t", "HOST:5000", "x/y", "t", None),
        ("localhost/cniqs/kind-node:v1", "localhost", "cniqs/kind-node", "v1", None),
    ],
)
def test_reference_parts(image: str, domain: str, repository: str, tag: str | None, digest: str | None) -> None:
    assert mirror.domain(image) == domain
    assert mirror.repository(image) == repository
    assert mirror.tag(image) == tag
    assert mirror.digest(image) == digest


def test_mirror_ref_names_the_image_by_its_path_in_the_mirror() -> None:
    m = mirror.Mirror("10.0.0.5:5000", "http")
    assert m.ref("alpine:3.20") == "10.0.0.5:5000/library/alpine:3.20"
    assert m.ref(PINNED) == f"10.0.0.5:5000/kindest/node:v1.34.0@{DIGEST}"
    assert m.ref("cniqs-installer:abc") == "10.0.0.5:5000/library/cniqs-installer:abc"
    assert m.ref("registry.k8s.io/coredns/coredns:v1.12.4") == "10.0.0.5:5000/coredns/coredns:v1.12.4"
    assert m.ref("10.0.0.5:5000/cniqs/e2e-pod:1") == "10.0.0.5:5000/cniqs/e2e-pod:1"  # named through it already


# --- hosts.toml ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("scheme", ["http", "https"])
def test_hosts_toml(scheme: str) -> None:
    m = mirror.Mirror("10.0.0.5:5000", scheme)
    expected_server = {
        "docker.io": "https://registry-1.docker.io",
        "registry.k8s.io": "https://registry.k8s.io",
        "10.0.0.5:5000": f"{scheme}://10.0.0.5:5000",
    }
    for upstream, server in expected_server.items():
        doc = tomllib.loads(mirror.hosts_toml(m, upstream))
        assert doc["server"] == server
        host = doc["host"][f"{scheme}://10.0.0.5:5000"]
        assert host["capabilities"] == ["pull", "resolve"]  # never push
        assert host.get("skip_verify", False) is (scheme == "http")
        assert set(doc["host"]) == {m.url}


def test_node_files_one_per_mirrored_registry_and_the_mirror() -> None:
    m = mirror.Mirror("10.0.0.5:5000", "http")
    files = mirror.node_files(m)
    assert sorted(files) == [
        "/etc/containerd/certs.d/10.0.0.5:5000/hosts.toml",
        "/etc/containerd/certs.d/docker.io/hosts.toml",
        "/etc/containerd/certs.d/registry.k8s.io/hosts.toml",
    ]
    assert files["/etc/containerd/certs.d/docker.io/hosts.toml"] == mirror.hosts_toml(m, "docker.io")
    patch = tomllib.loads(mirror.CONTAINERD_PATCH)
    assert patch["plugins"]["io.containerd.grpc.v1.cri"]["registry"]["config_path"] == mirror.CERTS_DIR


def test_configure_mirror_writes_every_node_in_one_exec_and_leaves_no_staging() -> None:
    from cniqs.providers.kind.images import configure_mirror
    from tests.kind.fakes import FakeDocker, FakeNode

    m = mirror.Mirror("10.0.0.5:5000", "http")
    old = "/etc/containerd/certs.d/docker.io/hosts.toml"
    nodes = {"c-control-plane": FakeNode(files={old: b"server = 'https://elsewhere'"}), "c-worker": FakeNode()}
    docker = FakeDocker(nodes)
    configure_mirror(docker, "docker", sorted(nodes), mirror.Registry(m))
    wanted = mirror.node_files(m)
    for name, node in nodes.items():
        assert {path: node.files[path].decode() for path in wanted} == wanted, name
        assert not [p for p in [*node.files, *node.dirs] if "/.cniqs-" in p], name
    assert len(docker.calls) == len(nodes)  # one exec per node
    assert all(call[:3] == ["docker", "exec", "-i"] for call in docker.calls)  # the archive on stdin


# --- the registry's API, with a fake fetch ----------------------------------------------------------------


class FakeRegistry:
    """A registry holding repository -> {tag: digest}; every request recorded as (method, url, accept)."""

    def __init__(self, held: dict[str, dict[str, str]], digest_header: bool = True) -> None:
        self.held = held
        self.digest_header = digest_header
        self.requests: list[tuple[str, str, str | None]] = []

    def __call__(self, request: urllib.request.Request) -> tuple[int, dict[str, str], bytes]:
        url = request.full_url
        self.requests.append((request.get_method(), url, request.get_header("Accept")))
        path = url.split("://", 1)[1].split("/", 1)[1]
        if path == "v2/":
            return 200, {}, b"{}"
        if path.endswith("/tags/list"):
            repo = path[len("v2/") : -len("/tags/list")]
            if repo not in self.held:
                return 404, {}, b""
            return 200, {}, json.dumps({"name": repo, "tags": sorted(self.held[repo])}).encode()
        repo, _, reference = path[len("v2/") :].partition("/manifests/")
        tags = self.held.get(repo, {})
        found = tags.get(reference) or (reference if reference in tags.values() else None)
        if found is None:
            return 404, {}, b""
        return 200, ({"Docker-Content-Digest": found} if self.digest_header else {}), b""


MIRROR = mirror.Mirror("10.0.0.5:5000", "http")


def registry(held: dict[str, dict[str, str]]) -> tuple[mirror.Registry, FakeRegistry]:
    fake = FakeRegistry(held)
    return mirror.Registry(MIRROR, fetch=fake), fake


def test_the_registry_is_asked_read_only() -> None:
    reg, fake = registry({"kindest/node": {"v1.34.0": DIGEST}})
    reg.answers()
    assert reg.tags("kindest/node") == ["v1.34.0"]
    assert reg.tags("nothing/here") == []
    assert reg.digest("kindest/node:v1.34.0") == DIGEST
    assert reg.digest("kindest/node:v9.9.9") is None
    assert {method for method, _, _ in fake.requests} <= {"GET", "HEAD"}
    head = [r for r in fake.requests if r[0] == "HEAD"][0]
    assert head[1] == "http://10.0.0.5:5000/v2/kindest/node/manifests/v1.34.0"
    assert head[2] is not None and "application/vnd.oci.image.index.v1+json" in head[2]


def test_node_image_pins_the_digest_when_the_mirror_serves_the_release_notes_image() -> None:
    reg, _ = registry({"kindest/node": {"v1.34.0": DIGEST, "v1.34.3": OTHER}})
    choice = mirror.node_image(reg, PINNED, "1.34")
    assert choice.image == f"10.0.0.5:5000/kindest/node:v1.34.0@{DIGEST}"
    assert "digest as the release note pins it" in choice.note


def test_node_image_by_tag_when_the_mirror_holds_another_digest() -> None:
    reg, _ = registry({"kindest/node": {"v1.34.0": OTHER}})
    choice = mirror.node_image(reg, PINNED, "1.34")
    assert choice.image == "10.0.0.5:5000/kindest/node:v1.34.0"
    assert OTHER in choice.note and DIGEST in choice.note


def test_node_image_falls_back_to_the_newest_patch_of_the_minor() -> None:
    held = {"v1.34.2": OTHER, "v1.34.10": OTHER, "v1.34.9": OTHER, "v1.35.0": OTHER, "v1.3.99": OTHER, "latest": OTHER}
    reg, _ = registry({"kindest/node": held})
    choice = mirror.node_image(reg, PINNED, "1.34")
    assert choice.image == "10.0.0.5:5000/kindest/node:v1.34.10"  # 10 > 9 as numbers, not as text
    assert "has no v1.34.0" in choice.note


@pytest.mark.parametrize("held", [{}, {"kindest/node": {"v1.35.0": OTHER, "v1.33.4": OTHER}}])
def test_no_node_image_for_the_minor_names_a_skopeo_command(held: dict[str, dict[str, str]]) -> None:
    reg, _ = registry(held)
    with pytest.raises(mirror.MirrorProblem, match="no kindest/node image for Kubernetes 1.34") as caught:
        mirror.node_image(reg, PINNED, "1.34")
    assert "skopeo copy --dest-tls-verify=false" in str(caught.value)


def skopeo_refs(hint: str) -> list[str]:
    words = shlex.split(hint[hint.index("skopeo copy") :])
    return [w.removeprefix("docker://") for w in words if w.startswith("docker://")]


def test_the_push_hint_for_a_pinned_node_image_is_a_command_skopeo_accepts() -> None:
    """skopeo's docker transport refuses a reference with both a tag and a digest ("Docker references with
    both a tag and digest are currently not supported"); the mirror must end up with the release's tag."""
    source, dest = skopeo_refs(mirror.push_hint(PINNED, MIRROR))
    for ref in (source, dest):
        assert not (mirror.tag(ref) and mirror.digest(ref)), ref
    assert dest == "10.0.0.5:5000/kindest/node:v1.34.0"


def test_push_hint() -> None:
    assert mirror.push_hint("alpine:3.20", MIRROR) == (
        "skopeo copy --dest-tls-verify=false docker://alpine:3.20 docker://10.0.0.5:5000/library/alpine:3.20"
    )
    tls = mirror.Mirror("registry.example")
    assert mirror.push_hint("cniqs-installer:abc", tls, "oci-archive:/b/i.tar") == (
        "skopeo copy oci-archive:/b/i.tar docker://registry.example/library/cniqs-installer:abc"
    )


def test_require() -> None:
    reg, _ = registry({"library/alpine": {"3.20": DIGEST}, "cniqs/e2e-pod": {"1": OTHER}})
    mirror.require(reg, ["alpine:3.20", "10.0.0.5:5000/cniqs/e2e-pod:1", f"alpine@{DIGEST}"])
    with pytest.raises(mirror.MirrorProblem) as caught:
        mirror.require(reg, ["alpine:3.20", "busybox:1.36", "alpine:9"], source=None)
    text = str(caught.value)
    assert "has no library/busybox:1.36" in text and "10.0.0.5:5000/library/busybox:1.36" in text
    assert "skopeo copy --dest-tls-verify=false docker://busybox:1.36" in text
    assert "alpine:9" not in text  # the first gap only


@pytest.mark.parametrize(
    "error", [urllib.error.URLError("[Errno 111] Connection refused"), ConnectionResetError("reset"), TimeoutError()]
)
def test_a_mirror_that_does_not_answer_is_a_mirror_problem(error: OSError) -> None:
    def fetch(request: urllib.request.Request) -> tuple[int, dict[str, str], bytes]:
        raise error

    reg = mirror.Registry(MIRROR, fetch=fetch)
    with pytest.raises(mirror.MirrorProblem, match="http://10.0.0.5:5000 does not answer"):
        reg.answers()
    with pytest.raises(mirror.MirrorProblem):
        mirror.node_image(reg, PINNED, "1.34")


@pytest.mark.parametrize(("status", "ok"), [(200, True), (401, True), (404, False), (500, False)])
def test_answers_by_status(status: int, ok: bool) -> None:
    reg = mirror.Registry(MIRROR, fetch=lambda request: (status, {}, b""))
    if ok:
        reg.answers()
    else:
        with pytest.raises(mirror.MirrorProblem, match=f"HTTP {status}"):
            reg.answers()


def test_other_http_errors_are_mirror_problems() -> None:
    reg = mirror.Registry(MIRROR, fetch=lambda request: (500, {}, b""))
    with pytest.raises(mirror.MirrorProblem, match="tags of kindest/node: HTTP 500"):
        reg.tags("kindest/node")
    with pytest.raises(mirror.MirrorProblem, match="manifest of alpine:3.20: HTTP 500"):
        reg.digest("alpine:3.20")


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1:5000", True),
        ("127.1.2.3", True),
        ("localhost:5000", True),
        ("localhost", True),
        ("[::1]:5000", True),
        ("[::1]", True),
        ("10.0.0.5:5000", False),
        ("198.18.77.2:5000", False),
        ("registry.example", False),
        ("[fd00::5]:5000", False),
    ],
)
def test_is_loopback(host: str, loopback: bool) -> None:
    assert mirror.is_loopback(host) is loopback

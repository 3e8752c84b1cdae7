from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
import yaml

from cniqs.providers.kind import nodeimages, versions
from cniqs.providers.kind.versions import IMAGES, NodeImage

WORKFLOW = Path(__file__).resolve().parents[2] / ".github" / "workflows" / "e2e.yml"


def test_table_is_usable() -> None:
    assert versions.problems() == []
    assert len(IMAGES) >= 3


def test_every_entry_is_pinned_by_digest_and_cites_its_release_note() -> None:
    for entry in IMAGES:
        assert re.fullmatch(r"sha256:[0-9a-f]{64}", entry.digest), entry
        assert entry.image.startswith(f"kindest/node:v{entry.minor}.")
        assert nodeimages.KIND_RELEASE_NOTES in entry.source


def test_minors_and_digests_are_unique() -> None:
    assert len({e.minor for e in IMAGES}) == len(IMAGES)
    assert len({e.digest for e in IMAGES}) == len(IMAGES)


def test_newest_first_and_default_is_newest() -> None:
    keys = [tuple(map(int, e.minor.split("."))) for e in IMAGES]
    assert keys == sorted(keys, reverse=True)
    assert versions.select(None) == [IMAGES[0]]
    assert versions.select("") == [IMAGES[0]]


@pytest.mark.parametrize("choice", ["1.34", "v1.34", "1.34.11"])
def test_select_one(choice: str) -> None:
    (entry,) = versions.select(choice)
    assert entry.minor == "1.34"
    assert entry.kubernetes_version == "v1.34.11"


def test_select_all() -> None:
    assert versions.select("all") == list(IMAGES)


@pytest.mark.parametrize("choice", ["1.20", "1.34.1", "latest", "1"])
def test_select_unknown_names_the_choices(choice: str) -> None:
    with pytest.raises(ValueError, match="1.37, 1.36, 1.35, 1.34"):
        versions.select(choice)


def test_problems_finds_broken_tables() -> None:
    good = IMAGES[0]
    no_digest = NodeImage("1.35", "kindest/node:v1.35.0", good.source)
    wrong_minor = NodeImage("1.34", good.image, good.source)
    uncited = NodeImage("1.33", IMAGES[2].image, "")
    assert any("sha256" in p for p in versions.problems((no_digest,)))
    assert any("is Kubernetes 1.37" in p for p in versions.problems((wrong_minor,)))
    assert any("listed twice" in p for p in versions.problems((good, good)))
    assert any("no release note" in p for p in versions.problems((uncited,)))
    assert any("newest first" in p for p in versions.problems((IMAGES[2], IMAGES[0])))
    assert versions.problems(()) == ["the versions table is empty"]


def test_kind_is_built_from_its_module_at_the_pinned_release() -> None:
    """cniqs.toolchain.kubebin (the offline site's kind, on both engines) and the workflow: one `go install`, one
    version."""
    from cniqs.toolchain import kubebin

    assert (kubebin.KIND.module, kubebin.KIND.version) == (versions.KIND_MODULE, versions.KIND_VERSION)


def workflow_matrix(text: str) -> list[dict[str, str]]:
    matrix = yaml.safe_load(text)["jobs"]["kind"]["strategy"]["matrix"]
    assert set(matrix) == {"include"}, f"the matrix is a plain include list, one entry per table row: {matrix}"
    return [{key: str(value) for key, value in entry.items()} for entry in matrix["include"]]


def test_workflow_matrix_and_kind_pin_match_the_table() -> None:
    text = WORKFLOW.read_text()
    entries = workflow_matrix(text)
    assert [e["k8s-minor"] for e in entries] == [e.minor for e in IMAGES]
    assert [e["k8s-version"] for e in entries] == [e.kubernetes_version for e in IMAGES]
    assert f"KIND_VERSION: {versions.KIND_VERSION}" in text
    steps = yaml.safe_load(text)["jobs"]["kind"]["steps"]
    (install,) = [s for s in steps if str(s.get("name", "")).startswith("Install kind")]
    assert f'go install "{versions.KIND_MODULE}@${{KIND_VERSION}}"' in install["run"]
    assert "kind version" in install["run"]


def test_workflow_installs_each_entrys_kubectl_pinned_by_sha256() -> None:
    text = WORKFLOW.read_text()
    assert versions.kubectl_problems() == []
    assert set(versions.KUBECTL_SHA256_LINUX_AMD64) == set(versions.KUBECTL_FOR_MINOR.values())
    for entry in workflow_matrix(text):
        assert entry["kubectl-version"] == versions.KUBECTL_FOR_MINOR[entry["k8s-minor"]], entry
        assert entry["kubectl-sha256"] == versions.KUBECTL_SHA256_LINUX_AMD64[entry["kubectl-version"]], entry
    steps = yaml.safe_load(text)["jobs"]["kind"]["steps"]
    (install,) = [s for s in steps if str(s.get("name", "")).startswith("Install kubectl")]
    assert install["env"] == {
        "KUBECTL_VERSION": "${{ matrix.kubectl-version }}",
        "KUBECTL_SHA256": "${{ matrix.kubectl-sha256 }}",
    }
    script = install["run"]
    assert "https://dl.k8s.io/release/${KUBECTL_VERSION}/bin/linux/amd64" in script
    assert '"${base}/kubectl.sha256"' in script and "sha256sum --check --strict" in script


def test_workflow_runs_the_suite_in_ci_egress_mode_at_the_exact_version() -> None:
    steps = yaml.safe_load(WORKFLOW.read_text())["jobs"]["kind"]["steps"]
    (suite,) = [s for s in steps if str(s.get("run", "")).startswith("tox -e e2e")]
    argv = shlex.split(suite["run"])
    assert argv[argv.index("--k8s-version") + 1] == "${{ matrix.k8s-version }}"
    assert argv[argv.index("--kind-egress") + 1] == "ci"


# What brings up a cluster through cniqs in a workflow step: the console script itself, `tox -e demo` (cniqs demo)
# and `tox -e e2e`, whose CLI tests run `cniqs up` with the suite's --k8s-version (e2e/test_cli_kind.py).
THROUGH_CNIQS = (("cniqs", "up"), ("cniqs", "demo"), ("tox", "-e", "demo"), ("tox", "-e", "e2e"))
MATRIX_VERSIONS = ("${{ matrix.k8s-version }}", "${{ matrix.k8s-minor }}")


def cniqs_cluster_commands(script: str) -> list[list[str]]:
    """The command lines of a step's script that bring up a cluster through cniqs, from that word on."""
    found = []
    for line in script.replace("\\\n", " ").splitlines():
        for command in re.split(r"&&|\|\||;|\|", line):
            try:
                argv = shlex.split(command, comments=True)
            except ValueError:  # a quote split by the separators above (`"$(kind version | awk ...)"`)
                argv = command.split()
            for start in range(len(argv)):
                if any(tuple(argv[start : start + len(words)]) == words for words in THROUGH_CNIQS):
                    found.append(argv[start:])
                    break
    return found


def test_cniqs_cluster_commands_are_found_in_any_shape_of_script() -> None:
    script = 'set -e\nsudo -E cniqs up --provider kind && cniqs demo \\\n  --keep\necho "cniqs status"\ntox -e lint\n'
    assert cniqs_cluster_commands(script) == [["cniqs", "up", "--provider", "kind"], ["cniqs", "demo", "--keep"]]
    assert cniqs_cluster_commands('tox -e e2e -- --k8s-version "v1.36.4"') == [
        ["tox", "-e", "e2e", "--", "--k8s-version", "v1.36.4"]
    ]


def test_every_cluster_a_workflow_job_brings_up_through_cniqs_runs_the_jobs_version() -> None:
    """A `cniqs up` or `cniqs demo` without --k8s-version makes the newest minor's cluster (1.37) in every job."""
    steps = yaml.safe_load(WORKFLOW.read_text())["jobs"]["kind"]["steps"]
    found = [(step.get("name"), argv) for step in steps for argv in cniqs_cluster_commands(str(step.get("run", "")))]
    assert found, "the workflow runs the suite (tox -e e2e), whose CLI tests run `cniqs up`"
    for name, argv in found:
        assert "--k8s-version" in argv, f"step {name!r} runs {shlex.join(argv)} at cniqs's default version"
        assert argv[argv.index("--k8s-version") + 1] in MATRIX_VERSIONS, (name, argv)


def test_the_suites_cli_tests_bring_up_kind_clusters_at_the_suites_version() -> None:
    """Every `cniqs up`/`cniqs demo` command line of the e2e suite on kind passes the run's --k8s-version
    (e2e.support_cli.k8s_version_args), so a CI job of one version never makes a cluster of another."""
    import ast

    e2e = Path(__file__).resolve().parents[2] / "e2e"
    kind_lines = []

    def from_the_suite(element: ast.expr, source: str) -> bool:
        """`*k8s_version_args(...)`, or `*name` with `name = k8s_version_args(...)` in the module."""
        if not isinstance(element, ast.Starred):
            return isinstance(element, ast.Constant) and element.value == "--k8s-version"
        value = element.value
        if isinstance(value, ast.Call) and isinstance(value.func, ast.Name):
            return value.func.id == "k8s_version_args"
        return isinstance(value, ast.Name) and f"{value.id} = k8s_version_args(" in source

    for path in sorted(e2e.glob("*.py")):
        source = path.read_text()
        for node in ast.walk(ast.parse(source, str(path))):
            if not isinstance(node, ast.List) or len(node.elts) < 2:
                continue
            words = [e.value if isinstance(e, ast.Constant) else None for e in node.elts]
            if words[:1] != ["cniqs"] or words[1] not in ("up", "demo"):
                continue
            pairs = list(zip(words, words[1:]))
            if ("--provider", "kind") not in pairs:
                continue
            kind_lines.append(f"{path.name}:{node.lineno}")
            assert any(from_the_suite(e, source) for e in node.elts), (
                f"{path.name}:{node.lineno}: `cniqs {words[1]}` on kind without the suite's --k8s-version"
            )
    assert kind_lines, "e2e/test_cli_kind.py runs `cniqs up --provider kind`"


@pytest.mark.parametrize(
    ("given", "args"),
    [("", []), ("all", []), ("1.36", ["--k8s-version", "1.36"]), ("v1.35.8", ["--k8s-version", "v1.35.8"])],
)
def test_the_suites_version_on_a_cniqs_command_line(given: str, args: list[str]) -> None:
    from types import SimpleNamespace

    from e2e.support_cli import k8s_version_args

    config = SimpleNamespace(getoption=lambda flag, default=None: {"--k8s-version": given}[flag])
    assert k8s_version_args(config) == args  # type: ignore[arg-type]


@pytest.mark.parametrize("pin", [e.kubernetes_version for e in IMAGES])
def test_the_exact_version_the_workflow_passes_selects_its_row(pin: str) -> None:
    (entry,) = versions.select(pin)
    assert entry.kubernetes_version == pin


def test_kubectl_pins_look_like_sha256() -> None:
    for version, digest in versions.KUBECTL_SHA256_LINUX_AMD64.items():
        assert re.fullmatch(r"v1\.\d+\.\d+", version) and re.fullmatch(r"[0-9a-f]{64}", digest), version


def test_each_row_installs_its_own_minors_kubectl() -> None:
    """Within the skew policy is the floor; each row's CI job runs the kubectl of its own Kubernetes minor."""
    for entry in IMAGES:
        kubectl = versions.KUBECTL_FOR_MINOR[entry.minor]
        assert kubectl.removeprefix("v").rsplit(".", 1)[0] == entry.minor, (entry.minor, kubectl)


def test_kubectl_skew_is_checked() -> None:
    assert versions.kubectl_problems(kubectl={**versions.KUBECTL_FOR_MINOR, "1.34": "v1.36.4"}) == [
        "1.34: kubectl v1.36.4 is 2 minors away (the skew policy allows 1)"
    ]
    assert "1.37: no pinned kubectl" in versions.kubectl_problems(kubectl={})[0]


def test_the_container_build_needs_no_newer_glibc_than_any_pinned_node() -> None:
    """The node executable carries the build's libpython: its glibc floor is the build base's."""
    from cniqs.resources import DOCKERFILE

    release, glibc = versions.build_base_glibc(DOCKERFILE.read_text())
    assert versions.glibc_key(glibc) <= versions.glibc_key(versions.NODE_GLIBC), (
        f"plugin/Dockerfile builds on {release} (glibc {glibc}); the pinned nodes have glibc {versions.NODE_GLIBC}"
    )


def test_glibc_rule_catches_a_too_new_base() -> None:
    release, glibc = versions.build_base_glibc("FROM python:3.12-slim-trixie AS build\n")
    assert (release, glibc) == ("trixie", "2.41")
    assert versions.glibc_key(glibc) > versions.glibc_key(versions.NODE_GLIBC)  # no start on bookworm nodes


def test_the_floor_is_the_older_of_the_pinned_images_and_the_image_built_here() -> None:
    from cniqs.site import nodeimage

    assert versions.BUILT_NODE_BASE == nodeimage.DEBIAN_RELEASE
    assert versions.NODE_GLIBC == "2.36"  # bookworm's: the pinned images' trixie (2.41) is newer
    from cniqs.ship import arm64

    assert arm64.NODE_GLIBC == versions.NODE_GLIBC


def junit_paths(tox_ini: str) -> dict[str, str]:
    """{tox env: the path its pytest command passes to --junitxml}."""
    found = {}
    for env, body in re.findall(r"^\[testenv:([a-z0-9]+)\]\n(.*?)(?=^\[|\Z)", tox_ini, re.M | re.S):
        match = re.search(r"--junitxml=(\S+)", body)
        if match:
            found[env] = match[1]
    return found


def test_every_junit_report_is_written_where_the_workflow_uploads_it() -> None:
    """actions/upload-artifact v4.4+ leaves hidden paths (.tox/) out: the reports go to artifacts/junit/, and
    the workflow fails the upload step when the kind run's report is missing."""
    tox_ini = (WORKFLOW.parents[2] / "tox.ini").read_text()
    paths = junit_paths(tox_ini)
    assert {"unit", "local", "load", "quickstart", "kube", "e2e", "arm64"} <= set(paths), paths
    for env, path in paths.items():
        assert path == f"{{toxinidir}}/artifacts/junit/{env}.xml", f"tox env {env} writes its JUnit XML to {path}"
    steps = yaml.safe_load(WORKFLOW.read_text())["jobs"]["kind"]["steps"]
    uploads = [s for s in steps if str(s.get("uses", "")).startswith("actions/upload-artifact@")]
    junit = [s for s in uploads if "artifacts/junit/e2e.xml" in str(s["with"]["path"]).split()]
    assert len(junit) == 1, f"no upload step of artifacts/junit/e2e.xml: {uploads}"
    assert junit[0]["with"]["if-no-files-found"] == "error" and junit[0]["if"] == "always()"
    for step in uploads:
        hidden = [p for p in str(step["with"]["path"]).split() if any(part.startswith(".") for part in p.split("/"))]
        assert not hidden or step["with"].get("include-hidden-files"), f"{step['name']} uploads hidden {hidden}"


def test_the_kind_and_kube_envs_pass_the_job_summary_file_through() -> None:
    """tox passes only the variables passenv names: without GITHUB_STEP_SUMMARY the run cannot write the job
    summary (e2e.plugins.versions_report)."""
    tox_ini = (WORKFLOW.parents[2] / "tox.ini").read_text()
    for env in ("e2e", "kube"):
        body = tox_ini.split(f"[testenv:{env}]\n", 1)[1].split("\n[", 1)[0]
        passenv = body.split("passenv =", 1)[1].split("\ncommands", 1)[0]
        assert "GITHUB_STEP_SUMMARY" in re.split(r"[\s,]+", passenv), f"tox env {env} drops GITHUB_STEP_SUMMARY"

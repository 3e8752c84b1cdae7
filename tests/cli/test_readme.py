"""The README's promises that need no node: a two-command quick start, the test command CI runs."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from e2e.support_cli import hand_steps, quick_start_commands

REPO = Path(__file__).resolve().parents[2]
README = (REPO / "README.md").read_text()


def test_quick_start_is_exactly_two_commands_the_demo_and_the_tests() -> None:
    assert quick_start_commands(README) == ["tox -e demo", "tox"]


def test_the_quick_start_demo_is_a_tox_env_that_runs_cniqs_demo() -> None:
    import configparser

    tox = configparser.ConfigParser(interpolation=None)
    tox.read(REPO / "tox.ini")
    assert tox["testenv:demo"]["commands"].strip() == "cniqs demo {posargs}"
    assert "quickstart" in tox["tox"]["envlist"], "plain `tox` runs the quick start's demo on a fresh clone"


def test_run_the_tests_gives_the_command_ci_runs() -> None:
    assert quick_start_commands(README)[-1] == "tox"
    section = (REPO / "docs" / "ci.md").read_text().split("\n## Run the tests", 1)[1].split("\n## ", 1)[0]
    assert re.search(r"```\ntox\n```", section)
    ci = (REPO / ".ci" / "run").read_text().splitlines()
    assert "tox" in ci, "CI runs exactly the test command of the quick start and docs/ci.md"


def cniqs_subcommands(text: str) -> set[str]:
    return set(re.findall(r"^cniqs ([a-z]+)", text, re.M)) | set(re.findall(r"`cniqs ([a-z]+)", text))


def test_every_cniqs_subcommand_the_readme_and_docs_show_exists() -> None:
    from cniqs.cli.main import build_parser

    docs = [page.read_text() for page in sorted((REPO / "docs").glob("*.md"))]
    used = set().union(*(cniqs_subcommands(text) for text in [README, *docs]))
    parser = build_parser()
    for command in sorted(used):
        parser.parse_args([command, "x"] if command in ("run", "reveal") else [command])
    assert {"demo", "up", "install", "run", "reveal", "uninstall", "status", "down"} <= cniqs_subcommands(README)


def test_the_air_gapped_commands_exist() -> None:
    """docs/offline-images.md's commands: the mirror variable and flag, and every `python -m cniqs.site` action."""
    from cniqs.providers.kind import mirror
    from cniqs.providers.kind.options import OPTIONS
    from cniqs.site.__main__ import main

    section = (REPO / "docs" / "offline-images.md").read_text()
    assert f"export {mirror.ENV}=" in section
    flags = {option.flag for option in OPTIONS}
    for flag in re.findall(r"(--(?:registry-mirror|kind-[a-z-]+))", section):
        assert flag in flags or flag.rstrip("-") + "-ip" in flags, flag
    actions = re.findall(r"^python -m cniqs\.site ([a-z]+)", section, re.M)
    assert actions == ["up", "push", "down"]
    for action in actions:
        with pytest.raises(SystemExit) as exc:
            main([action, "--help"])
        assert exc.value.code == 0
    ci = (REPO / ".ci" / "run").read_text()
    for action in ("up", "env", "down"):
        assert f"python3 -m cniqs.site {action}" in ci, f".ci/run runs the README's `cniqs.site {action}`"
    assert "tox -e site -- push" in ci, ".ci/run runs the README's `cniqs.site push` (in tox's venv)"


def test_the_hand_steps_wait_for_the_pod_before_they_describe_it() -> None:
    """Step 4 describes the pod only after `kubectl wait` says it is Ready (right after `kubectl run` it is
    still Pending); the later steps exec into the same pod."""
    steps = hand_steps(README)
    assert sorted(steps) == [1, 2, 3, 4, 5, 6], steps
    run = "kubectl run test --image alpine -- sleep infinity"
    wait = "kubectl wait --for=condition=Ready pod/test --timeout=120s"
    assert steps[4] == [run, wait, "kubectl describe pods test"], steps[4]
    ready = False
    for number in sorted(steps):
        for command in steps[number]:
            ready = ready or command == wait
            if re.match(r"kubectl (describe pods?|exec( -it)?) test\b", command):
                assert ready, f"step {number} looks at pod test before it is Ready: {command}"

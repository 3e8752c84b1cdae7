"""A pytest plugin for runs on a real Kubernetes (kind, kube): per-version outcomes, diagnostics on failure,
the final summary.

It is those providers' cniqs.provider.Watcher: the provider tells it what it opened, it tells the
provider whether a version's tests failed.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from cniqs.providers.k8s import diagnostics
from cniqs.providers.k8s.backend import KubeBackend

PLUGIN_NAME = "cniqs-versions-run"


@dataclass
class VersionRun:
    version: str
    image: str = ""
    cluster: str = ""
    outcomes: Counter[str] = field(default_factory=Counter)
    artifacts: Path | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        return bool(self.outcomes["failed"] or self.outcomes["error"])


def outcome(report: Any) -> str | None:
    """What one phase report adds to the counts, pytest-style: call -> passed/failed/skipped,
    setup/teardown failures -> error, a skip at setup -> skipped."""
    if report.when == "call":
        return "passed" if report.passed else "failed" if report.failed else "skipped"
    if report.failed:
        return "error"
    if report.when == "setup" and report.skipped:
        return "skipped"
    return None


def summary_lines(runs: dict[str, VersionRun]) -> list[str]:
    out = []
    for run in runs.values():
        counts = ", ".join(f"{n} {k}" for k, n in sorted(run.outcomes.items())) or "no tests ran"
        only_skips = run.outcomes["skipped"] and not run.outcomes["passed"]
        verdict = "FAILED" if run.failed else "skipped" if only_skips else "ok" if run.outcomes else "not run"
        out.append(f"Kubernetes {run.version}: {verdict}: {counts}" + (f" [{run.image}]" if run.image else ""))
        if run.cluster:
            out.append(f"    cluster: {run.cluster}")
        if run.artifacts:
            out.append(f"    diagnostics: {run.artifacts}")
        out += [f"    {note}" for note in run.notes]
    return out


class VersionsPlugin:
    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.item_version: dict[str, str] = {}
        self.runs: dict[str, VersionRun] = {}
        self.live: dict[str, tuple[KubeBackend, Path]] = {}

    def run_of(self, version: str) -> VersionRun:
        return self.runs.setdefault(version, VersionRun(version))

    # cniqs.provider.Watcher

    def record(self, variant: str, **facts: Any) -> None:
        for key, value in facts.items():
            setattr(self.run_of(variant), key, value)

    def note(self, variant: str, text: str) -> None:
        self.run_of(variant).notes.append(text)

    def opened(self, variant: str, backend: Any, artifacts: Path) -> None:
        self.live[variant] = (backend, artifacts)

    def closed(self, variant: str) -> None:
        self.live.pop(variant, None)

    def failed(self, variant: str) -> bool:
        return self.run_of(variant).failed

    def say(self, line: str) -> None:
        reporter = self.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:
            reporter.write_line(line)

    @pytest.hookimpl
    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        for item in items:
            callspec = getattr(item, "callspec", None)
            version = callspec.params.get("backend") if callspec is not None else None
            if isinstance(version, str):
                self.item_version[item.nodeid] = version
                self.run_of(version)

    @pytest.hookimpl
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        version = self.item_version.get(report.nodeid)
        if version is None:
            return
        kind = outcome(report)
        if kind is None:
            return
        self.run_of(version).outcomes[kind] += 1
        if kind in ("failed", "error") and version in self.live:
            backend, artifacts = self.live[version]
            dest = artifacts / diagnostics.slug(report.nodeid)
            backend.collect(dest)
            self.run_of(version).artifacts = artifacts
            self.say(f"\ncni-quickstart {backend.name}: diagnostics of {report.nodeid} in {dest}")

    @pytest.hookimpl
    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if not any(run.outcomes for run in self.runs.values()):
            return  # nothing ran (--collect-only, or no kind test selected)
        terminalreporter.section(f"cni-quickstart on {self.config.getoption('--backend')}, per Kubernetes version")
        for line in summary_lines(self.runs):
            terminalreporter.write_line(line)


def plugin(config: pytest.Config) -> VersionsPlugin:
    found = config.pluginmanager.get_plugin(PLUGIN_NAME)
    if isinstance(found, VersionsPlugin):
        return found
    made = VersionsPlugin(config)
    config.pluginmanager.register(made, PLUGIN_NAME)
    return made

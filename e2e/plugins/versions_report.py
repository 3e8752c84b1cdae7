"""A pytest plugin for runs on a real Kubernetes (kind, kube): per-version outcomes, diagnostics on failure,
the final summary.

It is those providers' cniqs.provider.Watcher: the provider tells it what it opened, it tells the
provider whether a version's tests failed.
"""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from cniqs.providers.cluster import diagnostics
from cniqs.providers.cluster.backend import ClusterBackend

PLUGIN_NAME = "cniqs-versions-run"


@dataclass(frozen=True)
class Check:
    """One connectivity check from a pod (cniqs.provider.probes), as the suite ran it."""

    what: str
    ok: bool
    detail: str = ""


@dataclass
class VersionRun:
    version: str
    image: str = ""
    cluster: str = ""
    outcomes: Counter[str] = field(default_factory=Counter)
    artifacts: Path | None = None
    notes: list[str] = field(default_factory=list)
    kind: str = ""  # `kind version` of the run (kind provider)
    views: dict[str, list[str]] = field(default_factory=dict)  # the test pod's IPs per reported view
    real: list[str] = field(default_factory=list)  # the test pod's addresses, as `ip a s eth0` shows them
    checks: list[Check] = field(default_factory=list)

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
        out.append(f"Kubernetes {run.version}: {verdict(run)}: {counts}" + (f" [{run.image}]" if run.image else ""))
        if run.cluster:
            out.append(f"    cluster: {run.cluster}")
        if run.artifacts:
            out.append(f"    diagnostics: {run.artifacts}")
        out += [f"    {note}" for note in run.notes]
    return out


def verdict(run: VersionRun) -> str:
    only_skips = run.outcomes["skipped"] and not run.outcomes["passed"]
    return "FAILED" if run.failed else "skipped" if only_skips else "ok" if run.outcomes else "not run"


def _cell(text: str) -> str:
    return " ".join(text.replace("|", "\\|").split()) or "-"


def markdown(runs: dict[str, VersionRun], provider: str) -> str:
    """The run as Markdown, one table per Kubernetes version: the tests' outcomes, kind and the node image,
    what each view reports of the test pod against its real eth0, each connectivity check. The GitHub job
    summary ($GITHUB_STEP_SUMMARY) and the end of a local run show the same text."""
    out = []
    for run in runs.values():
        real = [address.split("/")[0] for address in run.real]
        n = run.outcomes
        counts = f"{n['passed']} passed, {n['failed']} failed, {n['skipped']} skipped"
        rows = [("tests", counts + (f", {n['error']} errors" if n["error"] else ""))]
        if run.kind:
            rows.append(("kind", run.kind))
        rows.append(("node image", f"`{run.image}`" if run.image else "-"))
        if run.cluster:
            rows.append(("cluster", run.cluster))
        rows.append(("the pod really has (`ip a s eth0`)", ", ".join(run.real) or "not recorded"))
        for where, ips in run.views.items():
            same = bool(real) and sorted(ips) == sorted(real)
            against = "" if not real else " (= eth0)" if same else " (not eth0's)"
            rows.append((f"reported: {where}", (", ".join(ips) or "none") + against))
        for check in run.checks:
            rows.append((f"connectivity: {check.what}", "ok" if check.ok else f"FAILED: {check.detail}"))
        if run.artifacts:
            rows.append(("diagnostics", str(run.artifacts)))
        out += [f"### cni-quickstart on {provider}, Kubernetes {run.version}: {verdict(run)}", ""]
        out += ["| | |", "|---|---|", *(f"| {_cell(what)} | {_cell(value)} |" for what, value in rows), ""]
    return "\n".join(out)


class VersionsPlugin:
    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.item_version: dict[str, str] = {}
        self.runs: dict[str, VersionRun] = {}
        self.live: dict[str, tuple[ClusterBackend, Path]] = {}
        self.said: list[str] = []  # what say() kept on an xdist worker

    def run_of(self, version: str) -> VersionRun:
        return self.runs.setdefault(version, VersionRun(version))

    # cniqs.provider.Watcher

    def record(self, variant: str, **facts: Any) -> None:
        for key, value in facts.items():
            setattr(self.run_of(variant), key, value)

    def note(self, variant: str, text: str) -> None:
        self.run_of(variant).notes.append(text)

    def observe(self, nodeid: str, **facts: Any) -> None:
        """What a test saw (views, real, checks), for the version the test ran on; nothing for others."""
        version = self.item_version.get(nodeid)
        if version is not None:
            self.record(version, **facts)

    def opened(self, variant: str, backend: Any, artifacts: Path) -> None:
        self.live[variant] = (backend, artifacts)

    def closed(self, variant: str) -> None:
        self.live.pop(variant, None)

    def failed(self, variant: str) -> bool:
        return self.run_of(variant).failed

    def say(self, line: str) -> None:
        """A line now, in the terminal; on an xdist worker (whose terminal nobody sees) kept for the report the
        controller prints."""
        reporter = self.config.pluginmanager.get_plugin("terminalreporter")
        if on_worker(self.config):
            self.said.append(line)
        elif reporter is not None:
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

    def reports(self) -> list[Report]:
        """The run's per-version report: one section; on an xdist worker one part per version it ran, which the
        controller merges with the other workers' parts in the versions' order (merged)."""
        if not any(run.outcomes for run in self.runs.values()):
            return []  # nothing ran (--collect-only, or no kind test selected)
        provider = self.config.getoption("--provider")
        title = f"cni-quickstart on {provider}, per Kubernetes version"
        if not on_worker(self.config):
            return [Report(title, summary_lines(self.runs), markdown(self.runs, provider))]
        parts = []
        for position, (version, run) in enumerate(self.runs.items()):
            if run.outcomes:  # another worker ran the others
                one = {version: run}
                parts.append(Report(title, summary_lines(one), markdown(one, provider), position))
        parts[0] = Report(title, [*self.said, *parts[0].lines], parts[0].markdown, parts[0].position)
        return parts

    @pytest.hookimpl
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        for report in self.reports():
            send_to_controller(self.config, report)

    @pytest.hookimpl
    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if on_worker(self.config):
            return  # a worker's terminal is nobody's: its reports went to the controller (pytest_sessionfinish)
        for report in self.reports():
            show(terminalreporter, report)


@dataclass(frozen=True)
class Report:
    """A section of the run's end: its lines, and Markdown for GitHub's job summary."""

    title: str
    lines: list[str]
    markdown: str = ""
    position: int = 0  # where a worker's part goes among the parts of its section (merged)


REPORTS = "cniqs-reports"  # the key of an xdist worker's reports in its workeroutput


def on_worker(config: pytest.Config) -> bool:
    return hasattr(config, "workerinput")


def send_to_controller(config: pytest.Config, report: Report) -> None:
    """On an xdist worker, the report travels to the controller (e2e.plugins.parallel), which shows it; its
    own terminal is nobody's."""
    if on_worker(config):
        output: dict[str, Any] = config.workeroutput  # type: ignore[attr-defined]
        sent = {"title": report.title, "lines": report.lines, "md": report.markdown, "position": report.position}
        output.setdefault(REPORTS, []).append(sent)


def received(workeroutput: dict[str, Any]) -> list[Report]:
    return [Report(r["title"], list(r["lines"]), r["md"], r["position"]) for r in workeroutput.get(REPORTS, [])]


def merged(reports: list[Report]) -> list[Report]:
    """The workers' parts as one report per section, each section's parts in their positions' order (the
    versions as collected): what a run without xdist prints."""
    sections: dict[str, list[Report]] = {}
    for report in reports:
        sections.setdefault(report.title, []).append(report)
    out = []
    for title, parts in sections.items():
        parts.sort(key=lambda part: part.position)
        lines = [line for part in parts for line in part.lines]
        out.append(Report(title, lines, "\n".join(part.markdown for part in parts if part.markdown)))
    return out


def show(terminalreporter: Any, report: Report) -> None:
    """A report in the terminal summary; its Markdown also to GitHub's job summary ($GITHUB_STEP_SUMMARY)."""
    terminalreporter.section(report.title)
    for line in report.lines:
        terminalreporter.write_line(line)
    if not report.markdown:
        return
    terminalreporter.write_line("")
    for line in report.markdown.splitlines():
        terminalreporter.write_line(line)
    summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if summary:  # GitHub's job summary: Markdown appended to this file
        with open(summary, "a", encoding="utf-8") as out:
            out.write(report.markdown + "\n")


def plugin(config: pytest.Config) -> VersionsPlugin:
    found = config.pluginmanager.get_plugin(PLUGIN_NAME)
    if isinstance(found, VersionsPlugin):
        return found
    made = VersionsPlugin(config)
    config.pluginmanager.register(made, PLUGIN_NAME)
    return made

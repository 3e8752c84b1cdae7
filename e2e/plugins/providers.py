"""Pytest plugin: `--provider NAME` picks a provider (cniqs.providers), whose options become pytest options,
and the session-scoped `backend` fixture opens it (once per variant: kind runs once per version)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cniqs import providers
from cniqs.provider import Backend, Option, Provider, RunOptions
from e2e.plugins.versions_report import Report, VersionsPlugin, on_worker, send_to_controller, show

NOTICES = "cniqs-notices"
# Providers whose runs a pytest plugin follows per variant (a cniqs.provider.Watcher), by name.
WATCHERS: dict[str, type[VersionsPlugin]] = {"kind": VersionsPlugin, "kube": VersionsPlugin}
WATCHER = "cniqs-watcher"
# Options that name a path: relative ones are below the run's root directory.
PATH_OPTIONS = ("--kind-artifacts", "--kube-artifacts")


class Notices:
    """Lines for the end of the session (a kept node's how-to, teardown problems): output written while
    session fixtures tear down is captured, the terminal summary is not."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def say(self, text: str) -> None:
        self.lines.append(text)

    def report(self) -> Report:
        return Report("cni-quickstart provider notices", self.lines)

    @pytest.hookimpl
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        if self.lines:
            send_to_controller(session.config, self.report())

    @pytest.hookimpl(trylast=True)
    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if self.lines and not on_worker(terminalreporter.config):  # a worker's went to the controller
            show(terminalreporter, self.report())


def add_options(group: Any, provider: Provider, added: set[str] | None = None) -> None:
    """A provider's options on a pytest option group; those in added (shared, such as --k8s-version, and
    added with an earlier provider's group) are left out, and the ones added here join it."""
    seen = set() if added is None else added
    for option in provider.options():
        if option.flag not in seen:
            group.addoption(option.flag, **_addoption_kwargs(option))
            seen.add(option.flag)


def _addoption_kwargs(option: Option) -> dict[str, Any]:
    kwargs: dict[str, Any] = {"help": option.help}
    if option.action:
        kwargs["action"] = option.action
    else:
        kwargs.update(default=option.initial(), metavar=option.metavar)
        if option.type is not None:
            kwargs["type"] = option.type
        if option.choices is not None:
            kwargs["choices"] = list(option.choices)
    return kwargs


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--provider",
        "--backend",  # its name before the rename
        dest="provider",
        choices=providers.NAMES,
        default="local",
        help="the provider the e2e suite runs on",
    )
    added: set[str] = set()
    for name in providers.NAMES:
        add_options(parser.getgroup(f"cniqs-{name}", f"cni-quickstart {name} provider"), providers.get(name), added)


def provider(config: pytest.Config) -> Provider:
    return providers.get(config.getoption("--provider"))


def run_options(config: pytest.Config) -> RunOptions:
    """The chosen provider's option values, its notices and (kind) the run's watcher."""
    chosen = provider(config)
    values: dict[str, Any] = {}
    for option in chosen.options():
        value = config.getoption(option.flag)
        if option.flag in PATH_OPTIONS and value and not Path(value).is_absolute():
            value = str(config.rootpath / value)
        values[option.flag] = value
    notices = config.pluginmanager.get_plugin(NOTICES)
    if notices is None:
        notices = Notices()
        config.pluginmanager.register(notices, NOTICES)
    watcher: VersionsPlugin | None = config.pluginmanager.get_plugin(WATCHER)
    if watcher is None and chosen.name in WATCHERS:
        watcher = WATCHERS[chosen.name](config)
        config.pluginmanager.register(watcher, WATCHER)
    say = watcher.say if watcher is not None else notices.say
    return RunOptions(values, say=say, watcher=watcher)


def missing_prerequisites(config: pytest.Config) -> None:
    """Skip with the reason; where CI=true, fail instead: a skipped e2e run is never silent in CI."""
    problems = provider(config).prerequisites(run_options(config))
    if not problems:
        return
    reason = f"{config.getoption('--provider')} provider cannot run here: " + "; ".join(problems)
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(reason, pytrace=False)
    pytest.skip(reason)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """A provider with variants (kind: Kubernetes versions) runs the suite once per variant, each test id
    naming it; the `backend` fixture opens each."""
    if "backend" not in metafunc.fixturenames:
        return
    try:
        variants = provider(metafunc.config).variants(run_options(metafunc.config))
    except ValueError as exc:
        raise pytest.UsageError(str(exc)) from None
    if variants:
        metafunc.parametrize("backend", variants, indirect=True, scope="session")


@pytest.fixture(scope="session")
def backend(request: pytest.FixtureRequest) -> Iterator[Backend]:
    missing_prerequisites(request.config)
    variant = getattr(request, "param", None)
    with provider(request.config).open(run_options(request.config), variant) as b:
        yield b

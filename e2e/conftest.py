"""Backend selection for the e2e suite: `pytest e2e --backend local|kind`."""

from __future__ import annotations

import os
from collections.abc import Generator, Iterator
from typing import Any

import pytest

from e2e.backends import NAMES, load
from e2e.backends.base import Backend


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--backend", choices=NAMES, default="local", help="where the e2e suite runs")
    for name in NAMES:
        load(name).add_options(parser.getgroup(f"cniqs-{name}", f"cni-quickstart {name} backend"))


pytest_plugins = ["e2e.support_local"]  # the local-only `node` fixture
ONLY = {"kind_only": "kind", "local_only": "local"}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Backend-only checks are deselected on other backends: a skip would read as a missing prerequisite."""
    backend = config.getoption("--backend")

    def runs_here(item: pytest.Item) -> bool:
        return all(item.get_closest_marker(marker) is None for marker, name in ONLY.items() if name != backend)

    kept = [item for item in items if runs_here(item)]
    if len(kept) != len(items):
        config.hook.pytest_deselected(items=[item for item in items if item not in kept])
        items[:] = kept


def missing_prerequisites(config: pytest.Config) -> None:
    """Skip with the reason; where CI=true, fail instead: a skipped e2e run is never silent in CI."""
    module = load(config.getoption("--backend"))
    problems = module.prerequisites(config)
    if not problems:
        return
    reason = f"{config.getoption('--backend')} backend cannot run here: " + "; ".join(problems)
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(reason, pytrace=False)
    pytest.skip(reason)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """A backend module may define variants(config): the suite then runs once per variant (kind: per
    Kubernetes version), each test id naming it, and open_backend(config, variant) opens each."""
    if "backend" not in metafunc.fixturenames:
        return
    variants = getattr(load(metafunc.config.getoption("--backend")), "variants", None)
    if variants is not None:
        metafunc.parametrize("backend", variants(metafunc.config), indirect=True, scope="session")


@pytest.fixture(scope="session")
def backend(request: pytest.FixtureRequest) -> Iterator[Backend]:
    missing_prerequisites(request.config)
    module = load(request.config.getoption("--backend"))
    variant = getattr(request, "param", None)
    opened = module.open_backend(request.config) if variant is None else module.open_backend(request.config, variant)
    with opened as b:
        yield b


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, Any, Any]:
    """A failing test's report ends with the backend's diagnostics (runtime and plugin log tails)."""
    report = yield
    backend = getattr(item, "funcargs", {}).get("backend")
    if report.failed and backend is not None:
        try:
            text = backend.diagnostics()
        except Exception as exc:  # noqa: BLE001 - the original failure matters more
            text = f"diagnostics unavailable: {exc}"
        report.sections.append(("backend diagnostics", text))
    return report

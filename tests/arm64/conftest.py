"""arm64 tests run only when asked for (`pytest tests -m arm64`, tox -e arm64): they build under emulation
for minutes. Elsewhere they are deselected, not skipped: a skip would read as a missing prerequisite."""

from __future__ import annotations

import pytest


def asked_for(markexpr: str) -> bool:
    return "arm64" in markexpr and "not arm64" not in markexpr


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if asked_for(config.getoption("markexpr") or ""):
        return
    dropped = [item for item in items if item.get_closest_marker("arm64") is not None]
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = [item for item in items if item.get_closest_marker("arm64") is None]

"""Tests that need something of the machine: skip with the reason, but fail where CI=true."""

from __future__ import annotations

import os

import pytest


def require(reason: str | None) -> None:
    """Nothing when reason is None; else skip with it, or fail with it where CI=true."""
    if reason is None:
        return
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"prerequisite missing in CI: {reason}", pytrace=False)
    pytest.skip(reason)

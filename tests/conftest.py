"""Unit tests never read this host's iptables: the kind provider's bridge forwarding (cniqs.providers.kind.
forwarding) sees no address families here, so the fake engines and kinds of the provider tests need not
answer iptables. tests/kind/test_forwarding.py tests that module against its own fake host."""

from __future__ import annotations

import pytest

from cniqs.providers.kind import forwarding


@pytest.fixture(autouse=True)
def _no_host_iptables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(forwarding, "FAMILIES", ())

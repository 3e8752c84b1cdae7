"""`cniqs install` warns before the damage: into a chain of cniVersion 0.4.0+ whose plugins act on the
rewritten result at DEL or CHECK it installs only with --force, and it says which plugin and what breaks.
Run for real on every tier: the node's own chain, switched to kindnet's chain at 0.4.0."""

from __future__ import annotations

import io

import pytest

from cniqs.cli.console import Console
from cniqs.cli.main import _install
from cniqs.cli.session import CliError
from cniqs.provider import Backend, ChainVariant

pytestmark = pytest.mark.e2e


def test_a_0_4_0_chain_needs_force_and_names_the_consequence(backend: Backend) -> None:
    backend.use_base_chain(ChainVariant(cni_version="0.4.0"))
    err = io.StringIO()
    ui = Console(err=err, out=io.StringIO())
    try:
        with pytest.raises(CliError, match=r"ptp: CHECK of the chain fails .*`cniqs install --force`"):
            _install(ui, backend)
        assert all(
            "cni-quickstart" not in str(p.get("type")) for p in backend.active_chain(backend.nodes[0])["plugins"]
        )
        _install(ui, backend, force=True)
        assert "installing anyway (--force): " in err.getvalue()
    finally:
        backend.uninstall()
        backend.use_base_chain(None)


def test_kindnets_own_chain_installs_without_force(backend: Backend) -> None:
    backend.use_base_chain(None)
    ui = Console(err=io.StringIO(), out=io.StringIO())
    try:
        _install(ui, backend)
    finally:
        backend.uninstall()

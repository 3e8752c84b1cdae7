"""Two `cniqs up` kind clusters at once, as two workshop participants (or two CI jobs) on one machine would
have them: each comes up and goes down on its own, and the first one down does not take the other's
network with it. The run also leaves the machine as it found it, on docker as on podman: the network kind
made for the pair is removed by whichever cluster leaves last (cniqs.providers.kind.network.release_network).

Real kind clusters through the console script, so only with `--provider kind`; a missing prerequisite
skips with the reason, and fails where CI=true.
"""

from __future__ import annotations

import secrets
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from cniqs.providers.kind import commands, egress, network
from cniqs.providers.kind.provider import KindProvider
from e2e.support_cli import Ran, k8s_version_args, require_cli, run_cniqs

pytestmark = [pytest.mark.e2e, pytest.mark.kind_only]


@pytest.fixture(scope="module", autouse=True)
def kind_prerequisites() -> None:
    require_cli(KindProvider())


def network_exists(engine: str, name: str) -> bool:
    return subprocess.run(commands.network_id(engine, name), capture_output=True).returncode == 0


def test_two_clusters_at_once_come_and_go_on_their_own(tmp_path: Path, request: pytest.FixtureRequest) -> None:
    token = secrets.token_hex(3)
    version = k8s_version_args(request.config)  # the run's Kubernetes version, not cniqs's default
    engine = commands.engine()
    # A network of their own, which neither finds: the pair must remove it themselves.
    own = f"cniqs-e2e-{token}"
    env = {egress.NETWORK_ENV[engine]: own}
    assert network.kind_network(engine, env) == own
    assert not network_exists(engine, own)
    first, second = tmp_path / "first", tmp_path / "second"
    names = {first: f"cniqs-first-{token}", second: f"cniqs-second-{token}"}
    up: list[Path] = [first, second]  # `cniqs down` where an up failed early finds nothing to do

    def bring_up(state: Path) -> Ran:
        return run_cniqs(["cniqs", "up", "--provider", "kind", "--name", names[state], *version], state, "kind", env)

    try:
        # Both at once, on a network neither finds: the first `kind create` makes it while the other waits for
        # the network's lock, which the first lets go once its node is on the network; from then on both creates
        # run side by side. The pool returns only once both have ended, also on Ctrl-C (which reaches both cniqs
        # processes too).
        with ThreadPoolExecutor(max_workers=2) as pool:
            ran = list(pool.map(bring_up, (first, second)))
        for each in ran:
            assert each.rc == 0, each
        assert network_exists(engine, own), f"kind put the clusters on another {engine} network than {own}"
        down = run_cniqs(["cniqs", "down"], first, "kind", env)
        assert down.rc == 0, down  # the other cluster still on the network is not a problem of this one
        up.remove(first)
        assert network_exists(engine, own), "the first one down removed the network the other uses"
        # The second cluster still answers through the network it shares.
        status = run_cniqs(["cniqs", "status"], second, "kind", env)
        assert status.rc == 0 and names[second] in status.out, status
        down = run_cniqs(["cniqs", "down"], second, "kind", env)
        assert down.rc == 0, down
        up.remove(second)
    finally:
        for state in up:
            run_cniqs(["cniqs", "down"], state, "kind", env)
        left = network_exists(engine, own)
        if left:  # the test's own network, whatever failed above
            subprocess.run(commands.network_rm(engine, own), capture_output=True)
        for suffix in (".lock", ".made"):
            (network.network_marks() / f"{engine}-{own}{suffix}").unlink(missing_ok=True)
    listed = subprocess.run([commands.kind_binary(), "get", "clusters"], capture_output=True, text=True)
    assert not set(names.values()) & set(listed.stdout.split()), listed.stdout
    assert not left, f"the last one down left the {engine} network {own}"

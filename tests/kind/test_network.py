"""kind's container network on either engine (cniqs.providers.kind.network): the marks that let the last run
out remove a network a cni-quickstart run made, the per-engine lock, the engine's command lines. Nothing here
runs docker, podman or kind."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from pathlib import Path

import pytest

from cniqs.common.run import Completed
from cniqs.providers.kind import commands, network

ENGINES = ["docker", "podman"]
# What each engine says when asked to inspect a network that is not there.
NOT_FOUND = {
    "docker": "Error response from daemon: network kind not found\n",
    "podman": "Error: unable to find network with name or ID kind: network not found\n",
}
YES, NO, ERROR = "yes", "no", "error"


class Engine:
    """docker or podman as the network helpers see it: the network is there (YES), not (NO) or the engine
    cannot say (ERROR); `network inspect` gives net_id, `ps` lists users, `network rm` exits rm_rc."""

    def __init__(self, engine: str, state: str, users: str = "", rm_rc: int = 0, net_id: str = "n1") -> None:
        self.engine, self.state, self.users, self.rm_rc, self.net_id = engine, state, users, rm_rc, net_id
        self.calls: list[list[str]] = []

    def __call__(self, argv: Sequence[str], *, input: str | None = None, timeout: float | None = None) -> Completed:
        argv = list(argv)
        self.calls.append(argv)
        assert argv[0] == self.engine, argv
        if argv[1:3] == ["network", "inspect"]:
            if self.state == YES:
                return Completed(argv, 0, f"{self.net_id}\n", "")
            if self.state == NO:
                return Completed(argv, 1, "", NOT_FOUND[self.engine])
            return Completed(argv, 125, "", "Error: permission denied while trying to connect\n")
        if argv[1] == "ps":
            return Completed(argv, 0, self.users, "")
        if argv[1:3] == ["network", "rm"]:
            return Completed(argv, self.rm_rc, "", "" if self.rm_rc == 0 else "Error: network kind is being used\n")
        raise AssertionError(f"unexpected command {argv}")


# --- command lines ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("engine", ENGINES)
def test_network_command_lines(engine: str) -> None:
    assert commands.network_id(engine, "kind") == [engine, "network", "inspect", "--format", "{{.ID}}", "kind"]
    assert commands.containers_on(engine, "kind") == [engine, "ps", "--all", "--quiet", "--filter", "network=kind"]
    # never -f: a network still in use by someone's containers stays
    assert commands.network_rm(engine, "kind") == [engine, "network", "rm", "kind"]
    assert commands.network_inspect(engine, "kind") == [engine, "network", "inspect", "kind"]


@pytest.mark.parametrize(
    ("engine", "env", "name"),
    [
        ("docker", {}, "kind"),
        ("podman", {}, "kind"),
        ("docker", {"KIND_EXPERIMENTAL_DOCKER_NETWORK": "kind-ci-2"}, "kind-ci-2"),
        ("podman", {"KIND_EXPERIMENTAL_DOCKER_NETWORK": "kind-ci-2"}, "kind"),
        ("podman", {"KIND_EXPERIMENTAL_PODMAN_NETWORK": "kind-ci-3"}, "kind-ci-3"),
    ],
)
def test_the_network_is_the_one_kind_uses(engine: str, env: dict[str, str], name: str) -> None:
    assert network.kind_network(engine, env) == name


def test_the_network_follows_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KIND_EXPERIMENTAL_PODMAN_NETWORK", "kind-ci-2")
    monkeypatch.delenv("KIND_EXPERIMENTAL_DOCKER_NETWORK", raising=False)
    assert network.kind_network("podman") == "kind-ci-2"
    assert network.kind_network("docker") == "kind"


# --- exists, remove --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("engine", ENGINES)
def test_exists_is_yes_no_or_cannot_say(engine: str) -> None:
    run = Engine(engine, YES)
    assert network.exists(run, engine, "kind") is True
    assert run.calls == [commands.network_id(engine, "kind")]
    assert network.exists(Engine(engine, NO), engine, "kind") is False
    assert network.exists(Engine(engine, ERROR), engine, "kind") is None
    assert network.network_id(Engine(engine, YES, net_id="abc"), engine, "kind") == "abc"
    assert network.network_id(Engine(engine, NO), engine, "kind") is None


@pytest.mark.parametrize("engine", ENGINES)
def test_remove_network_reports_a_network_that_stays(engine: str) -> None:
    run = Engine(engine, YES)
    assert network.remove_network(run, engine, "kind") is None
    assert run.calls == [[engine, "network", "rm", "kind"]]
    note = network.remove_network(Engine(engine, YES, rm_rc=1), engine, "kind")
    assert note is not None and f"the {engine} network kind stays" in note and "being used" in note


# --- marks -------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("engine", ENGINES)
def test_a_run_marks_only_the_network_kind_is_about_to_make(tmp_path: Path, engine: str) -> None:
    mark = tmp_path / f"{engine}-kind.made"
    assert network.mark_if_new(Engine(engine, YES), engine, mark, "kind") is False
    assert not mark.exists()  # the user's own network (or another run's): never removed by this run
    assert network.mark_if_new(Engine(engine, ERROR), engine, mark, "kind") is False
    assert not mark.exists()  # the engine could not say: a network that may be the user's is never claimed
    assert network.mark_if_new(Engine(engine, NO), engine, mark, "kind") is True
    assert mark.exists()


@pytest.mark.parametrize("engine", ENGINES)
def test_the_last_run_out_removes_the_network_a_run_made(tmp_path: Path, engine: str) -> None:
    mark = tmp_path / f"{engine}-kind.made"
    untouched = Engine(engine, YES)
    assert network.release_network(untouched, engine, mark, "kind") is None  # not ours: not even looked at
    assert network.release_network(untouched, engine, None, "kind") is None  # another run holds the lock
    assert untouched.calls == []
    mark.write_text("n1\n")
    busy = Engine(engine, YES, users="3f2a9c\n")
    assert network.release_network(busy, engine, mark, "kind") is None  # not this run's problem
    assert busy.calls[-1] == commands.containers_on(engine, "kind")  # nothing removed
    assert mark.exists()  # handed on to whoever leaves last
    last = Engine(engine, YES)
    assert network.release_network(last, engine, mark, "kind") is None
    assert last.calls[-1] == [engine, "network", "rm", "kind"] and not mark.exists()
    mark.write_text("n1\n")
    note = network.release_network(Engine(engine, YES, rm_rc=1), engine, mark, "kind")
    assert note is not None and "stays" in note and "being used" in note and mark.exists()
    note = network.release_network(Engine(engine, ERROR), engine, mark, "kind")
    assert note is not None and f"`{engine} network inspect` failed" in note and mark.exists()
    assert network.release_network(Engine(engine, NO), engine, mark, "kind") is None  # gone already
    assert not mark.exists()


@pytest.mark.parametrize("engine", ENGINES)
def test_a_network_made_again_since_is_not_ours(tmp_path: Path, engine: str) -> None:
    """A mark left by a killed run names the network's ID: a network of that name made later is left alone."""
    mark = tmp_path / f"{engine}-kind.made"
    mark.write_text("n1\n")
    run = Engine(engine, YES, net_id="n2")
    assert network.release_network(run, engine, mark, "kind") is None
    assert not mark.exists() and [engine, "network", "rm", "kind"] not in run.calls


@pytest.mark.parametrize("engine", ENGINES)
def test_creating_on_a_new_network_records_its_id(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, engine: str) -> None:
    monkeypatch.setattr(network, "network_marks", lambda: tmp_path / "marks")
    run = Engine(engine, NO, net_id="abc123")
    with network.creating_on_network(run, engine, "kind"):
        run.state = YES  # kind create cluster makes it
    assert (tmp_path / "marks" / f"{engine}-kind.made").read_text() == "abc123\n"
    with pytest.raises(RuntimeError), network.creating_on_network(Engine(engine, NO), engine, "other"):
        raise RuntimeError("kind create failed")
    assert (tmp_path / "marks" / f"{engine}-other.made").read_text() == ""  # no ID: any later run may remove it
    with network.creating_on_network(Engine(engine, YES), engine, "users"):
        pass
    assert not (tmp_path / "marks" / f"{engine}-users.made").exists()  # there before: never claimed


@pytest.mark.parametrize("engine", ENGINES)
def test_a_create_lets_the_lock_go_once_its_first_node_is_on_the_network(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, engine: str
) -> None:
    """A second run's create waits only until the first one's node is attached (from then on no teardown
    removes the network), not for the first `kind create` to end."""
    monkeypatch.setattr(network, "network_marks", lambda: tmp_path / "marks")
    run = Engine(engine, NO, net_id="abc123")

    def held_by_another() -> bool:
        with network.network_lock(engine, "kind", wait=False) as mark:
            return mark is None

    with network.creating_on_network(run, engine, "kind", "first", poll=0.01):
        assert held_by_another()  # kind has not put a node of "first" on it yet
        run.state, run.users = YES, "c0ffee\n"  # kind made the network and attached the control plane
        deadline = time.monotonic() + 10
        while held_by_another() and time.monotonic() < deadline:
            time.sleep(0.01)
        assert not held_by_another(), "the lock was still held with the cluster's node on the network"
        assert (tmp_path / "marks" / f"{engine}-kind.made").read_text() == "abc123\n"  # recorded on letting go
    label = ["--filter", f"label={commands.KIND_CLUSTER_LABEL}=first"]
    assert any(call[1] == "ps" and call[-2:] == label for call in run.calls), run.calls
    assert (tmp_path / "marks" / f"{engine}-kind.made").read_text() == "abc123\n"


@pytest.mark.parametrize("engine", ENGINES)
def test_leave_network_removes_what_this_engine_marked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, engine: str
) -> None:
    marks = tmp_path / "marks"
    marks.mkdir(mode=0o700)
    monkeypatch.setattr(network, "network_marks", lambda: marks)
    other = "podman" if engine == "docker" else "docker"
    (marks / f"{other}-kind.made").write_text("")  # the other engine's network of the same name
    run = Engine(engine, YES)
    assert network.leave_network(run, engine, "kind") is None
    assert run.calls == []  # this engine's network was not made by a run
    (marks / f"{engine}-kind.made").write_text("")
    assert network.leave_network(run, engine, "kind") is None
    assert run.calls[-1] == [engine, "network", "rm", "kind"]
    assert not (marks / f"{engine}-kind.made").exists() and (marks / f"{other}-kind.made").exists()


def test_the_marks_folder_must_be_private(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir(mode=0o777)
    shared.chmod(0o777)
    with pytest.raises(RuntimeError, match="mode 0700"), network.network_lock("docker", "kind", shared):
        pass


def test_the_marks_folder_is_made_private(tmp_path: Path) -> None:
    marks = tmp_path / "new" / "marks"
    with network.network_lock("podman", "kind", marks) as mark:
        assert mark == marks / "podman-kind.made"
    assert marks.stat().st_mode & 0o777 == 0o700
    assert (marks / "podman-kind.lock").is_file()


def test_the_network_lock_orders_two_runs(tmp_path: Path) -> None:
    """One run's check-and-create and another's teardown never interleave (flock, so also across processes);
    a teardown does not wait for it. The lock is per engine and network."""
    order: list[str] = []
    first_in = threading.Event()
    marks = tmp_path / "marks"

    def first() -> None:
        with network.network_lock("docker", "kind", marks):
            first_in.set()
            order.append("first in")
            threading.Event().wait(0.3)
            order.append("first out")

    thread = threading.Thread(target=first)
    thread.start()
    first_in.wait(5)
    with network.network_lock("docker", "kind", marks, wait=False) as busy:
        assert busy is None
    with network.network_lock("podman", "kind", marks, wait=False) as other_engine:
        assert other_engine == marks / "podman-kind.made"
    with network.network_lock("docker", "kind-2", marks, wait=False) as other_network:
        assert other_network == marks / "docker-kind-2.made"
    with network.network_lock("docker", "kind", marks) as mark:
        order.append("second in")
    thread.join()
    assert order == ["first in", "first out", "second in"]
    assert mark == marks / "docker-kind.made"


# --- the cniqs tool's kind cluster: what down removes -----------------------------------------------------------


@pytest.mark.parametrize("engine", ENGINES)
def test_down_removes_the_cluster_and_the_network_a_run_made(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, engine: str
) -> None:
    from cniqs.provider import State
    from cniqs.providers.kind import provider as kind_provider

    calls: list[list[str]] = []

    def run(argv: Sequence[str], *, input: str | None = None, timeout: float | None = None) -> Completed:
        calls.append(list(argv))
        return Completed(list(argv), 0, "demo\n" if list(argv[1:3]) == ["get", "clusters"] else "", "")

    monkeypatch.setattr(kind_provider, "run_process", run)
    marks = tmp_path / "marks"
    marks.mkdir(mode=0o700)
    monkeypatch.setattr(network, "network_marks", lambda: marks)
    kubeconfig = tmp_path / "demo.kubeconfig"
    kubeconfig.write_text("")
    state = State(
        "kind", "demo", kubeconfig=str(kubeconfig), kind="/k/kind", extra={"engine": engine, "network": "kind"}
    )
    (marks / f"{engine}-kind.made").write_text("")  # `up` found no network: kind made it for this one
    assert kind_provider.KindProvider().destroy(state) == []
    assert commands.kind_delete("/k/kind", "demo", str(kubeconfig)) in calls
    assert calls[-1] == commands.network_rm(engine, "kind")
    assert not kubeconfig.exists() and not (marks / f"{engine}-kind.made").exists()

    calls.clear()  # the network was there before: down leaves it
    kubeconfig.write_text("")
    kind_provider.KindProvider().destroy(state)
    assert commands.kind_delete("/k/kind", "demo", str(kubeconfig)) in calls
    assert not any(argv[0] == engine for argv in calls)

    calls.clear()  # a state without a network (a reused cluster's): no engine command at all
    kubeconfig.write_text("")
    kind_provider.KindProvider().destroy(State("kind", "demo", kubeconfig=str(kubeconfig), kind="/k/kind"))
    assert not any(argv[0] in ENGINES for argv in calls)

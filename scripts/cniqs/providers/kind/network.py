"""kind's container network (docker or podman): kind makes it on the first `kind create cluster` and keeps it.

A run that finds no network marks it as made by cni-quickstart (with the ID kind gave it); every run's
teardown then removes a marked network that no container uses any more, so with two runs at once the last
one out removes it, whichever made it. One lock per network orders one run's check-and-create against
another's teardown; a teardown never waits for it (whoever holds it is creating a cluster on the network,
or leaving it). A create holds it only until its cluster's first node is on the network: from then on no
teardown removes the network, and a second create goes ahead beside the first. A network that was there
before (the user's, or another tool's) is never claimed.
"""

from __future__ import annotations

import fcntl
import os
import stat
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from cniqs.common import cache
from cniqs.common.run import Runner
from cniqs.providers.kind import commands, egress


def kind_network(engine: str, environ: Mapping[str, str] | None = None) -> str:
    """The network kind puts its nodes on: "kind", or kind's KIND_EXPERIMENTAL_<ENGINE>_NETWORK."""
    return egress.network_name(engine, os.environ if environ is None else environ)


def remove_network(run: Runner, engine: str, network: str) -> str | None:
    """Remove the network kind made for this run's cluster (kind keeps it); a note when it stays."""
    result = run(commands.network_rm(engine, network), timeout=60)
    if result.rc != 0:
        return f"the {engine} network {network} stays: {result.stderr.strip() or result.stdout.strip()}"
    return None


def network_marks() -> Path:
    """This user's own folder (under the cache root), kept across reboots as the engines' networks are."""
    return cache.cache_root() / "kind" / "networks"


def _private_folder(folder: Path) -> Path:
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    st = os.lstat(folder)
    if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.getuid() or st.st_mode & 0o077:
        raise RuntimeError(f"{folder} holds kind network locks: it must be this user's own directory, mode 0700")
    return folder


class _Held:
    """A held lock's descriptor; release() closes it once, from whichever thread comes first."""

    def __init__(self, fd: int) -> None:
        self._fd: int | None = fd
        self._guard = threading.Lock()

    def release(self) -> None:
        with self._guard:
            if self._fd is not None:
                os.close(self._fd)  # which releases the lock
                self._fd = None


@contextmanager
def _locked(engine: str, network: str, marks: Path | None, wait: bool) -> Iterator[tuple[Path, _Held] | None]:
    folder = _private_folder(marks or network_marks())
    fd = os.open(folder / f"{engine}-{network}.lock", os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    held = _Held(fd)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            yield None
            return
        yield folder / f"{engine}-{network}.made", held
    finally:
        held.release()


@contextmanager
def network_lock(engine: str, network: str, marks: Path | None = None, wait: bool = True) -> Iterator[Path | None]:
    """Hold the network's lock and yield the path of its made-by-cni-quickstart mark; with wait=False, yield
    None at once when another run holds the lock."""
    with _locked(engine, network, marks, wait) as got:
        yield None if got is None else got[0]


def network_id(run: Runner, engine: str, network: str) -> str | None:
    result = run(commands.network_id(engine, network), timeout=60)
    return result.stdout.strip() or None if result.rc == 0 else None


def exists(run: Runner, engine: str, network: str) -> bool | None:
    """True, False, or None when the engine cannot say (an error that is not "no such network")."""
    result = run(commands.network_id(engine, network), timeout=60)
    if result.rc == 0:
        return True
    said = (result.stderr + result.stdout).lower()
    return False if ("no such network" in said or "not found" in said) else None


def mark_if_new(run: Runner, engine: str, mark: Path, network: str) -> bool:
    """Under the network's lock, before kind creates a cluster: mark the network when kind is about to make it
    (not when it exists, nor when the engine cannot say: a network that may be the user's is never claimed)."""
    if exists(run, engine, network) is not False:
        return False
    mark.write_text("")
    return True


def release_network(run: Runner, engine: str, mark: Path | None, network: str) -> str | None:
    """Under the network's lock, after this run's cluster is gone: remove the network if a cni-quickstart run
    made it and nothing uses it now; a note when it stays for another reason. mark None: another run holds
    the lock, and it will be the last one out."""
    if mark is None or not mark.exists():
        return None
    there = exists(run, engine, network)
    if there is None:
        return f"the {engine} network {network} stays: `{engine} network inspect` failed"
    recorded = mark.read_text().strip()
    if not there or (recorded and recorded != network_id(run, engine, network)):
        mark.unlink(missing_ok=True)  # gone, or made again since by someone else: not ours any more
        return None
    users = run(commands.containers_on(engine, network), timeout=60)
    if users.rc == 0 and users.stdout.strip():
        return None  # another run's cluster is on it: the last one out removes it
    note = remove_network(run, engine, network)
    if note is None:
        mark.unlink(missing_ok=True)
    return note


def cluster_on_network(run: Runner, engine: str, network: str, cluster: str) -> bool:
    """Whether a node container of this kind cluster is attached to the network."""
    result = run(commands.cluster_containers_on(engine, network, cluster), timeout=60)
    return result.rc == 0 and bool(result.stdout.strip())


@contextmanager
def creating_on_network(
    run: Runner, engine: str, network: str, cluster: str | None = None, poll: float = 0.5
) -> Iterator[None]:
    """Around `kind create cluster`: claim the network if kind is about to make it. With the cluster's name,
    the lock is let go as soon as one of its nodes is on the network (checked every poll seconds), so another
    run's create need not wait for this one's to end; without it, when the block ends."""
    with _locked(engine, network, None, wait=True) as got:
        assert got is not None  # waited for it
        mark, held = got
        made = mark_if_new(run, engine, mark, network)
        recorded = threading.Event()

        def record_and_release() -> None:
            if made and not recorded.is_set() and (made_id := network_id(run, engine, network)):
                mark.write_text(f"{made_id}\n")
                recorded.set()
            held.release()

        done = threading.Event()

        def watch() -> None:
            while not done.wait(poll):
                if cluster_on_network(run, engine, network, str(cluster)):
                    record_and_release()
                    return

        watcher = threading.Thread(target=watch, name=f"lock-{engine}-{network}", daemon=True)
        if cluster is not None:
            watcher.start()
        try:
            yield
        finally:
            done.set()
            if watcher.is_alive():
                watcher.join()
        record_and_release()


def leave_network(run: Runner, engine: str, network: str) -> str | None:
    """After this run's cluster is gone: the last one out removes the network a cni-quickstart run made."""
    with network_lock(engine, network, wait=False) as mark:
        return release_network(run, engine, mark, network)

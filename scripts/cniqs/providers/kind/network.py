"""kind's container network (docker or podman): kind makes it on the first `kind create cluster` and keeps it.

A run that finds no network marks it as made by cni-quickstart (with the ID kind gave it); every run's
teardown then removes a marked network that no container uses any more, so with two runs at once the last
one out removes it, whichever made it. One lock per network orders one run's check-and-create against
another's teardown; a teardown never waits for it (whoever holds it is creating a cluster on the network,
or leaving it). A network that was there before (the user's, or another tool's) is never claimed.
"""

from __future__ import annotations

import fcntl
import os
import stat
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


@contextmanager
def network_lock(engine: str, network: str, marks: Path | None = None, wait: bool = True) -> Iterator[Path | None]:
    """Hold the network's lock and yield the path of its made-by-cni-quickstart mark; with wait=False, yield
    None at once when another run holds the lock."""
    folder = _private_folder(marks or network_marks())
    fd = os.open(folder / f"{engine}-{network}.lock", os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            yield None
            return
        yield folder / f"{engine}-{network}.made"
    finally:
        os.close(fd)  # which releases the lock


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


@contextmanager
def creating_on_network(run: Runner, engine: str, network: str) -> Iterator[None]:
    """Around `kind create cluster`: claim the network if kind is about to make it."""
    with network_lock(engine, network) as mark:
        assert mark is not None  # waited for it
        made = mark_if_new(run, engine, mark, network)
        yield
        if made and (made_id := network_id(run, engine, network)):
            mark.write_text(f"{made_id}\n")


def leave_network(run: Runner, engine: str, network: str) -> str | None:
    """After this run's cluster is gone: the last one out removes the network a cni-quickstart run made."""
    with network_lock(engine, network, wait=False) as mark:
        return release_network(run, engine, mark, network)

"""Bring a node (local) or a cluster (kube, kind) up, find it again from the state file, take it down.

The providers (cniqs.providers) do the work; this module picks one by name, remembers what is up in
cniqs.cli.state and maps failures to clear messages.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

from cniqs import providers
from cniqs.cli import debdeps
from cniqs.common.errors import NodeGone, Refused
from cniqs.provider import Backend, Pod, Provider, RunOptions, State
from cniqs.providers.kind.commands import kind_binary
from cniqs.providers.kind.options import docker_answers

DEFAULT_CLUSTER = "cniqs"


class CliError(Exception):
    """A failure with a message for the user: what went wrong, and what to do."""


def choose_provider(
    requested: str | None,
    environ: Mapping[str, str] | None = None,
    which: Callable[[str], str | None] = shutil.which,
    docker_ok: Callable[[], bool] = docker_answers,
) -> tuple[str, str]:
    """(provider, why): --provider, else $CNIQS_PROVIDER ($CNIQS_BACKEND, its older name), else kind when Docker
    answers and kind is there, else local."""
    env = os.environ if environ is None else environ
    variable = next((v for v in ("CNIQS_PROVIDER", "CNIQS_BACKEND") if env.get(v)), "CNIQS_PROVIDER")
    choice = requested if requested not in (None, "", "auto") else env.get(variable, "auto") or "auto"
    if choice in providers.NAMES:
        source = "--provider" if requested not in (None, "", "auto") else f"${variable}"
        return choice, f"chosen with {source}"
    if choice != "auto":
        raise CliError(f"unknown provider {choice!r} in ${variable}: use {', '.join(providers.NAMES)} or auto")
    kind = kind_binary(env)
    if which(kind) is None:
        return "local", f"{kind} is not on PATH"
    if which("docker") is None:
        return "local", "docker is not on PATH"
    if not docker_ok():
        return "local", "the Docker daemon does not answer (docker info)"
    return "kind", "Docker answers and kind is on PATH"


def local_plan(problems: list[str], platform: str, debian: bool, packages: list[str], euid: int) -> list[str]:
    """Debian packages to install before the local node can run; CliError when cniqs cannot fix it."""
    if not problems:
        return []
    if platform != "linux":
        raise CliError(
            f"the local provider needs Linux (this is {platform}): start Docker and put kind on PATH "
            "for the kind provider"
        )
    if packages and debian and euid == 0:
        return packages
    if packages and debian:
        raise CliError(
            f"the local node needs the Debian packages {' '.join(packages)}: run cniqs as root "
            f"(it installs them), or apt-get install {' '.join(packages)}"
        )
    raise CliError("the local provider cannot run here: " + "; ".join(problems))


def ensure(provider: Provider, say: Callable[[str], None], step: Callable[[str], Any]) -> None:
    """Everything the provider needs, installing missing Debian packages where it and this machine allow it."""
    problems = provider.prerequisites(RunOptions())
    if not problems:
        return
    if not provider.debian_packages:
        raise CliError(f"the {provider.name} provider cannot run here: " + "; ".join(problems))
    debian = debdeps.is_debian()
    packages = debdeps.missing(debdeps.wanted()) if debian else []
    install = local_plan(problems, sys.platform, debian, packages, os.geteuid())
    if install:
        say(f"cniqs: the {provider.name} node needs Debian packages that are missing: {' '.join(install)}")
        say("cniqs: installing them now with apt-get update && apt-get install (as .ci/run does)")
        with step(f"Installing {' '.join(install)}"):
            debdeps.install(install)
        problems = provider.prerequisites(RunOptions())
        if problems:
            raise CliError(f"the {provider.name} provider still cannot run here: " + "; ".join(problems))


def up(
    provider: Provider,
    *,
    name: str,
    workdir: Path,
    say: Callable[[str], None],
    values: Mapping[str, Any] | None = None,
) -> State:
    """The provider's up(); values: its options given on the command line, by flag (--kind-egress)."""
    try:
        return provider.up(RunOptions(values or {}, say=say), name=name, workdir=workdir)
    except Refused as exc:
        raise CliError(str(exc)) from None


def attach(state: State) -> Backend:
    try:
        return providers.get(state.provider).attach(state)
    except NodeGone as exc:
        raise CliError(f"{exc}: run `cniqs down` to forget it, then `cniqs up`") from None


def down(state: State) -> list[str]:
    return providers.get(state.provider).destroy(state)


def describe(state: State) -> str:
    return providers.get(state.provider).describe(state)


@contextmanager
def temporary(
    provider: Provider,
    *,
    name: str,
    workdir: Path,
    say: Callable[[str], None],
    values: Mapping[str, Any] | None = None,
) -> Iterator[Backend]:
    """A node or cluster for one demo run, torn down on the way out (also on errors and Ctrl-C)."""
    with ExitStack() as stack:
        try:
            options = RunOptions(values or {}, say=say)
            backend = stack.enter_context(provider.temporary(options, name=name, workdir=workdir))
        except Refused as exc:
            raise CliError(str(exc)) from None
        yield backend


def find_pod(backend: Backend, name: str) -> Pod:
    pod = backend.find_pod(name)
    if pod is None:
        known = ", ".join(p.name for p in backend.pods()) or "none"
        raise CliError(
            f"no pod {name!r} on the {backend.name} provider (pods: {known}): start one with `cniqs run {name}`"
        )
    return pod

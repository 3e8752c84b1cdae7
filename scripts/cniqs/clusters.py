"""Bring a node (local) or cluster (kind) up, find it again from the state file, take it down.

The e2e backends do the work: e2e.backends.local (a containerd node in network namespaces, kept
between commands through e2e.backends.local.attach) and e2e.backends.kind (kind/docker/kubectl).
This module only picks one, remembers it in cniqs.state and maps failures to clear messages.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

from cniqs import debdeps
from cniqs.state import State
from e2e.backends.base import Backend, Pod, Targets

DEFAULT_CLUSTER = "cniqs"
POD_NAMESPACE = "default"
KIND_POD_IMAGE = "alpine:3.20"
KIND_TARGETS = Targets(ip="1.1.1.1", name="kubernetes.io")


class CliError(Exception):
    """A failure with a message for the user: what went wrong, and what to do."""


# -- choosing a backend --------------------------------------------------------------------------


def docker_answers(timeout: float = 15) -> bool:
    try:
        proc = subprocess.run(
            ["docker", "info", "--format", "{{.ServerVersion}}"], capture_output=True, timeout=timeout
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return proc.returncode == 0


def kind_binary(environ: Mapping[str, str]) -> str:
    return environ.get("CNIQS_KIND") or environ.get("KIND") or "kind"


def choose_backend(
    requested: str | None,
    environ: Mapping[str, str] | None = None,
    which: Callable[[str], str | None] = shutil.which,
    docker_ok: Callable[[], bool] = docker_answers,
) -> tuple[str, str]:
    """(backend, why): --backend, else $CNIQS_BACKEND, else kind when Docker answers and kind is there, else local."""
    env = os.environ if environ is None else environ
    choice = requested if requested not in (None, "", "auto") else env.get("CNIQS_BACKEND", "auto") or "auto"
    if choice in ("local", "kind"):
        source = "--backend" if requested not in (None, "", "auto") else "$CNIQS_BACKEND"
        return choice, f"chosen with {source}"
    if choice != "auto":
        raise CliError(f"unknown backend {choice!r} in $CNIQS_BACKEND: use local, kind or auto")
    kind = kind_binary(env)
    if which(kind) is None:
        return "local", f"{kind} is not on PATH"
    if which("docker") is None:
        return "local", "docker is not on PATH"
    if not docker_ok():
        return "local", "the Docker daemon does not answer (docker info)"
    return "kind", "Docker answers and kind is on PATH"


# -- prerequisites -------------------------------------------------------------------------------


def local_problems() -> list[str]:
    from e2e.backends.local import prerequisites

    return prerequisites()


def local_plan(problems: list[str], platform: str, debian: bool, packages: list[str], euid: int) -> list[str]:
    """Debian packages to install before the local node can run; CliError when cniqs cannot fix it."""
    if not problems:
        return []
    if platform != "linux":
        raise CliError(
            f"the local backend needs Linux (this is {platform}): start Docker and put kind on PATH "
            "for the kind backend"
        )
    if packages and debian and euid == 0:
        return packages
    if packages and debian:
        raise CliError(
            f"the local node needs the Debian packages {' '.join(packages)}: run cniqs as root "
            f"(it installs them), or apt-get install {' '.join(packages)}"
        )
    raise CliError("the local backend cannot run here: " + "; ".join(problems))


def ensure_local(say: Callable[[str], None], step: Callable[[str], Any]) -> None:
    """Everything the local node needs, installing missing Debian packages when this machine allows it."""
    problems = local_problems()
    if not problems:
        return
    debian = debdeps.is_debian()
    packages = debdeps.missing(debdeps.wanted()) if debian else []
    install = local_plan(problems, sys.platform, debian, packages, os.geteuid())
    if install:
        say(f"cniqs: the local node needs Debian packages that are missing: {' '.join(install)}")
        say("cniqs: installing them now with apt-get update && apt-get install (as .ci/run does)")
        with step(f"Installing {' '.join(install)}"):
            debdeps.install(install)
        problems = local_problems()
        if problems:
            raise CliError("the local backend still cannot run here: " + "; ".join(problems))


def kind_problems() -> list[str]:
    from e2e.backends.kind.options import tool_problems
    from e2e.backends.kind.versions import problems

    return problems() + tool_problems()


def ensure_kind() -> None:
    problems = kind_problems()
    if problems:
        raise CliError("the kind backend cannot run here: " + "; ".join(problems))


# -- local ---------------------------------------------------------------------------------------


def _local_settings(keep: bool, say: Callable[[str], None]) -> Any:
    from e2e.backends.local.settings import Settings

    return replace(Settings.from_env(), keep=keep, say=say)


def up_local(say: Callable[[str], None]) -> State:
    from e2e.backends.local import attach

    image: list[str] = []
    root = attach.start_kept(_local_settings(True, say), image_out=image)
    layout, _ = attach.load_state(root)
    return State("local", layout.run_id, root=str(root), image=image[0])


def attach_local(state: State) -> Backend:
    from e2e.backends.local import attach

    try:
        return attach.attach(Path(state.root), image=state.image)
    except attach.NodeGone as exc:
        raise CliError(f"{exc}: run `cniqs down` to forget it, then `cniqs up`") from None


def down_local(state: State) -> list[str]:
    from e2e.backends.local import attach

    if not (Path(state.root) / "run.json").is_file():
        return []
    return attach.destroy(Path(state.root))


def how_to_poke(backend: Backend) -> str:
    poke = getattr(backend, "how_to_poke", None)
    return str(poke()) if callable(poke) else ""


# -- kind ----------------------------------------------------------------------------------------


def _kind_image() -> Any:
    from e2e.backends.kind import versions

    return versions.select("")[0]


def up_kind(name: str, workdir: Path) -> State:
    from e2e.backends.kind import cluster as kind_cluster
    from e2e.backends.kind.nodeutils import run_process

    kind = kind_binary(os.environ)
    if not kind_cluster.valid_name(name):
        raise CliError(f"{name!r} is not a valid kind cluster name: use lower-case letters, digits and '-'")
    if name in kind_cluster.existing_clusters(run_process, kind):
        raise CliError(
            f"a kind cluster named {name} exists already: delete it (kind delete cluster --name {name}) "
            "or pick another name with --name"
        )
    workdir.mkdir(parents=True, exist_ok=True)
    cluster = kind_cluster.prepare(kind, name, workdir)
    image = _kind_image()
    try:
        # One node, as in the workshop: the control plane runs the pods (they tolerate its taint).
        kind_cluster.create(run_process, cluster, image.image, 0, "ipv4")
    except BaseException:
        if name in kind_cluster.existing_clusters(run_process, kind):
            cluster.delete(run_process)
        raise
    return State("kind", name, kubeconfig=str(cluster.kubeconfig), kind=kind, image=image.image)


def attach_kind(state: State) -> Backend:
    from e2e.backends.kind.backend import KindBackend
    from e2e.backends.kind.cluster import Cluster
    from e2e.backends.kind.nodeutils import run_process

    if not Path(state.kubeconfig).is_file():
        raise CliError(f"the kubeconfig {state.kubeconfig} of kind cluster {state.id} is gone: run `cniqs down`")
    cluster = Cluster(state.id, Path(state.kubeconfig), True, state.kind or "kind")
    return KindBackend(run_process, cluster, _kind_image(), KIND_TARGETS, KIND_POD_IMAGE, namespace=POD_NAMESPACE)


def down_kind(state: State) -> list[str]:
    from e2e.backends.kind import cluster as kind_cluster
    from e2e.backends.kind.nodeutils import run_process

    kind = state.kind or "kind"
    if state.id in kind_cluster.existing_clusters(run_process, kind):
        kind_cluster.Cluster(state.id, Path(state.kubeconfig), True, kind).delete(run_process)
    for path in (Path(state.kubeconfig), Path(state.kubeconfig).with_name(f"{state.id}.kind.yaml")):
        path.unlink(missing_ok=True)
    return []


# -- backend-neutral -----------------------------------------------------------------------------


def up(backend: str, *, name: str, workdir: Path, say: Callable[[str], None]) -> State:
    return up_local(say) if backend == "local" else up_kind(name, workdir)


def attach(state: State) -> Backend:
    return attach_local(state) if state.backend == "local" else attach_kind(state)


def detach(backend: Backend) -> None:
    close = getattr(backend, "close", None)
    if callable(close):
        close()
    cri = getattr(backend, "cri", None)
    if cri is not None:
        cri.close()


def down(state: State) -> list[str]:
    return down_local(state) if state.backend == "local" else down_kind(state)


@contextmanager
def temporary(backend: str, *, name: str, workdir: Path, say: Callable[[str], None]) -> Iterator[Backend]:
    """A node or cluster for one demo run, torn down on the way out (also on errors and Ctrl-C)."""
    if backend == "local":
        from e2e.backends.local import _sigterm_as_interrupt, node

        with ExitStack() as stack:
            stack.enter_context(_sigterm_as_interrupt())
            yield stack.enter_context(node.up(_local_settings(False, say)))
        return
    state = up_kind(name, workdir)
    try:
        b = attach_kind(state)
        try:
            yield b
        finally:
            detach(b)
    finally:
        down_kind(state)


def find_pod(backend: Backend, name: str) -> Pod:
    if backend.name == "local":
        pods: list[Pod] = getattr(backend, "pods", list)()
        for pod in pods:
            if pod.name == name:
                return pod
        known = ", ".join(p.name for p in pods) or "none"
        raise CliError(f"no pod {name!r} on the local node (pods: {known}): start one with `cniqs run {name}`")
    from kubernetes.client.exceptions import ApiException

    core: Any = getattr(backend, "core")  # noqa: B009 - kind-only attribute
    try:
        obj = core.read_namespaced_pod(name, POD_NAMESPACE)
    except ApiException as exc:
        if exc.status == 404:
            raise CliError(f"no pod {name!r} in namespace {POD_NAMESPACE}: start one with `cniqs run {name}`") from None
        raise
    return Pod(POD_NAMESPACE, name, obj.spec.node_name or "", handle=obj.metadata.uid)


def pod_exists(backend: Backend, name: str) -> bool:
    try:
        find_pod(backend, name)
    except CliError:
        return False
    return True

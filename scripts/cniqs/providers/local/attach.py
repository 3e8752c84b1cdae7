"""A local node that outlives the process that started it: start kept, attach by run root, destroy.

For tools (the `cniqs` command line) that bring a node up in one process and use it from later ones:

    root = start_kept(settings)       # node.up in keep mode; a failed start leaves nothing behind
    backend = attach(root)            # a LocalBackend over the running node, its pods found again
    backend.close()                   # close the CRI channel; the node keeps running
    problems = destroy(root)          # every pod, then cleanup.teardown

The run's state file (layout.RunState in <root>/run.json) is what attach and destroy read.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from cri_api.v1 import api_pb2 as api

from cniqs import provider
from cniqs.common import procs
from cniqs.common.errors import NodeGone
from cniqs.common.signals import deferred, interrupt_on_termination
from cniqs.providers.local import cleanup, containerd, netns, node
from cniqs.providers.local.cri import CRI
from cniqs.providers.local.images import TEST_IMAGE
from cniqs.providers.local.layout import STATE_FILE, Layout, RunState
from cniqs.providers.local.settings import Settings


def start_kept(settings: Settings, image_out: list[str] | None = None) -> Path:
    """Bring a node up that stays up after this process exits; return its run root.

    The root lives in a fresh directory of its own under settings.root_parent, so a start that fails
    (or is interrupted) can find and tear down whatever it had made. image_out, if given, receives
    the name of the image pods run.
    """
    parent = Path(tempfile.mkdtemp(prefix="cniqs-node-", dir=settings.root_parent))
    quiet: list[str] = []
    try:
        with (
            interrupt_on_termination(),
            node.up(replace(settings, keep=True, root_parent=parent, say=quiet.append)) as b,
        ):
            root = b.layout.root
            if image_out is not None:
                image_out.append(b.image)
            b.cri.close()
        return root
    except BaseException:
        for state_file in parent.glob(f"*/{STATE_FILE}"):
            destroy(state_file.parent)
        shutil.rmtree(parent, ignore_errors=True)
        raise


def load_state(root: Path) -> tuple[Layout, RunState]:
    try:
        state = RunState.load(root / STATE_FILE)
    except (OSError, ValueError, TypeError) as exc:
        raise NodeGone(f"no local node at {root} ({exc})") from None
    return Layout(state.run_id, Path(state.root)), state


def running(layout: Layout, state: RunState) -> bool:
    """The run's containerd still runs (and is this run's) and its node namespace exists."""
    pid = state.containerd_pid
    return (
        bool(pid) and procs.alive(pid or 0) and containerd.is_ours(pid or 0, layout) and netns.exists(layout.node_netns)
    )


def attach(root: Path, image: str = TEST_IMAGE, timeout: float = 10) -> node.LocalBackend:
    """A LocalBackend over the kept node at root, with the pods it runs (by name) found again."""
    layout, state = load_state(root)
    if not running(layout, state):
        raise NodeGone(f"the local node {layout.run_id} is not running any more (run root {root})")
    cri = CRI(layout.socket, timeout=timeout)
    backend = node.LocalBackend(layout, cri, image)
    for pod in find_pods(backend):
        backend.adopt(pod)
    return backend


def find_pods(backend: node.LocalBackend) -> list[provider.Pod]:
    """Every ready sandbox with its first container, as provider.Pod with a node.Handle."""
    runtime = backend.cri.runtime
    ready = api.PodSandboxStateValue(state=api.SANDBOX_READY)
    sandboxes = runtime.ListPodSandbox(
        api.ListPodSandboxRequest(filter=api.PodSandboxFilter(state=ready)), timeout=backend.cri.timeout
    ).items
    pods = []
    for sandbox in sandboxes:
        containers = runtime.ListContainers(
            api.ListContainersRequest(filter=api.ContainerFilter(pod_sandbox_id=sandbox.id)),
            timeout=backend.cri.timeout,
        ).containers
        if not containers:
            continue
        newest = max(containers, key=lambda c: c.created_at)
        handle = node.Handle(sandbox.id, newest.id, sandbox.metadata.uid)
        pods.append(provider.Pod(sandbox.metadata.namespace, sandbox.metadata.name, backend.node, handle))
    return sorted(pods, key=lambda p: p.name)


def destroy(root: Path, say: Callable[[str], None] | None = None) -> list[str]:
    """Remove every pod (while containerd still answers), then tear the whole run down; return problems."""
    layout, state = load_state(root)
    problems: list[str] = []
    if running(layout, state):
        cri = CRI(layout.socket, timeout=20)
        try:
            backend = node.LocalBackend(layout, cri, TEST_IMAGE)
            problems += backend.remove_all_pods()
        finally:
            cri.close()
    with deferred(node.TEARDOWN_NOTE):
        problems += cleanup.teardown(layout, state)
    parent = layout.root.parent
    if parent.name.startswith("cniqs-node-") and parent.is_dir() and not any(parent.iterdir()):
        parent.rmdir()
    if say is not None:
        for problem in problems:
            say(problem)
    return problems

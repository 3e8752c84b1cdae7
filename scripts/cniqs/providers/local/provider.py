"""The local provider: a containerd node in network namespaces (Linux, root), for tests and the cniqs tool."""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

from cniqs.common.signals import interrupt_on_termination
from cniqs.provider import Option, RunOptions, State
from cniqs.providers.local import attach, node
from cniqs.providers.local.layout import STATE_FILE
from cniqs.providers.local.node import LocalBackend
from cniqs.providers.local.settings import Settings

TOOLS = ("containerd", "containerd-shim-runc-v2", "runc", "ctr", "nsenter", "unshare", "ip", "iptables",
         "busybox", "dnsmasq", "mount", "umount", "sysctl", "gcc")  # fmt: skip
REFERENCE_PLUGINS = ("ptp", "host-local", "portmap", "loopback")
REFERENCE_PLUGIN_DIR = Path("/usr/lib/cni")  # Debian's containernetworking-plugins
# gRPC and the CRI API are not here: without them this module does not import (cniqs.providers names the extra).
PYTHON_MODULES = ("tenacity",)

OPTIONS = (
    Option("--local-keep", "leave the local node up and print how to poke at it", action="store_true"),
    Option("--local-image-archive", "test image archive (OCI or docker-save) to use", metavar="PATH"),
    Option("--local-image", "image name to run from --local-image-archive", metavar="NAME"),
)


def host_problems(tools: Sequence[str], modules: Sequence[str], why_root: str) -> list[str]:
    """What keeps this machine from running nodes in network namespaces: not Linux (then only that), not
    root, missing commands, missing reference CNI plugins or Python modules. Shared by the providers whose
    nodes run here (local, kube)."""
    if sys.platform != "linux":
        return [f"needs Linux (this is {sys.platform}); elsewhere use the kind provider"]
    problems = []
    if os.geteuid() != 0:
        problems.append(f"needs root ({why_root})")
    path = os.environ.get("PATH", "") + ":/usr/sbin:/sbin"
    missing = [t for t in tools if shutil.which(t, path=path) is None]
    if missing:
        problems.append("missing commands: " + ", ".join(missing) + " (see .ci/apt-packages.txt)")
    plugins = [p for p in REFERENCE_PLUGINS if not (REFERENCE_PLUGIN_DIR / p).is_file()]
    if plugins:
        problems.append(
            f"missing CNI plugins in {REFERENCE_PLUGIN_DIR}: " + ", ".join(plugins) + " (containernetworking-plugins)"
        )
    for module in modules:
        try:
            __import__(module)
        except ImportError:
            problems.append(f"missing Python module {module} (pip install -e .[build])")
    return problems


def settings(options: RunOptions, keep: bool | None = None) -> Settings:
    """The node's settings: the options, then CNIQS_* environment variables; keep overrides both."""
    archive = options.get("--local-image-archive")
    chosen = Settings.from_env(
        keep=bool(options.get("--local-keep", False)),
        image_archive=Path(archive) if archive else None,
        image=options.get("--local-image"),
    )
    return replace(chosen, say=options.say, keep=chosen.keep if keep is None else keep)


class LocalProvider:
    name = "local"
    debian_packages = True

    def options(self) -> Sequence[Option]:
        return OPTIONS

    def prerequisites(self, options: RunOptions) -> list[str]:
        problems = host_problems(TOOLS, PYTHON_MODULES, "network namespaces, containerd, iptables")
        if problems[:1] and problems[0].startswith("needs Linux"):
            return problems
        archive = options.get("--local-image-archive")
        if archive and not Path(archive).is_file():
            problems.append(f"--local-image-archive {archive} is not a file")
        return problems

    def variants(self, options: RunOptions) -> list[str]:
        return []

    @contextmanager
    def open(self, options: RunOptions, variant: str | None = None) -> Iterator[LocalBackend]:
        with interrupt_on_termination(), node.up(settings(options)) as backend:
            yield backend

    @contextmanager
    def temporary(self, options: RunOptions, *, name: str, workdir: Path) -> Iterator[LocalBackend]:
        with interrupt_on_termination(), node.up(settings(options, keep=False)) as backend:
            yield backend

    def up(self, options: RunOptions, *, name: str, workdir: Path) -> State:
        image: list[str] = []
        root = attach.start_kept(settings(options, keep=True), image_out=image)
        layout, _ = attach.load_state(root)
        return State("local", layout.run_id, root=str(root), image=image[0])

    def attach(self, state: State) -> LocalBackend:
        return attach.attach(Path(state.root), image=state.image)

    def destroy(self, state: State) -> list[str]:
        if not (Path(state.root) / STATE_FILE).is_file():
            return []
        return attach.destroy(Path(state.root))

    def describe(self, state: State) -> str:
        return f"local node {state.id} (run root {state.root})"

    def up_message(self, name: str) -> str:
        return "Bringing up a local containerd node (network namespaces, CRI)"

    def hints(self, state: State) -> list[str]:
        return []

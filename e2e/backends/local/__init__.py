"""The local backend: one real containerd node in network namespaces on this machine, driven over CRI.

See node.py for the node, cleanup.py for teardown (also of a node kept with --local-keep).
"""

from __future__ import annotations

import os
import shutil
import signal
import sys
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from types import FrameType
from typing import Any

import pytest

from e2e.backends.base import Backend
from e2e.backends.local.settings import Settings

TOOLS = ("containerd", "containerd-shim-runc-v2", "runc", "ctr", "nsenter", "unshare", "ip", "iptables",
         "busybox", "dnsmasq", "mount", "umount", "sysctl")  # fmt: skip
REFERENCE_PLUGINS = ("ptp", "host-local", "portmap", "loopback")
PYTHON_MODULES = ("grpc", "cri_api.v1.api_pb2", "tenacity", "PyInstaller")


def add_options(group: pytest.OptionGroup) -> None:
    group.addoption("--local-keep", action="store_true", help="leave the local node up and print how to poke at it")
    group.addoption("--local-image-archive", metavar="PATH", help="test image archive (OCI or docker-save) to use")
    group.addoption("--local-image", metavar="NAME", help="image name to run from --local-image-archive")


class Notices:
    """Lines for the end of the session (a kept node's how-to, teardown problems): output written while
    session fixtures tear down is captured, the terminal summary is not."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def say(self, text: str) -> None:
        self.lines.append(text)

    @pytest.hookimpl(trylast=True)
    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if self.lines:
            terminalreporter.section("cni-quickstart local node")
            for text in self.lines:
                terminalreporter.write_line(text)


def settings(config: pytest.Config) -> Settings:
    notices = config.pluginmanager.get_plugin("cniqs-local-notices")
    if notices is None:
        notices = Notices()
        config.pluginmanager.register(notices, "cniqs-local-notices")
    archive = config.getoption("--local-image-archive")
    return Settings.from_env(
        keep=config.getoption("--local-keep"),
        image_archive=Path(archive) if archive else None,
        image=config.getoption("--local-image"),
        say=notices.say,
    )


def prerequisites(config: pytest.Config | None = None) -> list[str]:
    problems = []
    if sys.platform != "linux":
        return [f"needs Linux (this is {sys.platform})"]
    if os.geteuid() != 0:
        problems.append("needs root (network namespaces, containerd, iptables)")
    missing = [t for t in TOOLS if shutil.which(t, path=os.environ.get("PATH", "") + ":/usr/sbin:/sbin") is None]
    if missing:
        problems.append("missing commands: " + ", ".join(missing) + " (see .ci/apt-packages.txt)")
    plugins = [p for p in REFERENCE_PLUGINS if not (Path("/usr/lib/cni") / p).is_file()]
    if plugins:
        problems.append("missing CNI plugins in /usr/lib/cni: " + ", ".join(plugins) + " (containernetworking-plugins)")
    for module in PYTHON_MODULES:
        try:
            __import__(module)
        except ImportError:
            problems.append(f"missing Python module {module} (pip install -e .[e2e,build])")
    if config is not None and config.getoption("--local-image-archive"):
        archive = Path(config.getoption("--local-image-archive"))
        if not archive.is_file():
            problems.append(f"--local-image-archive {archive} is not a file")
    return problems


@contextmanager
def open_backend(config: pytest.Config | None = None, **overrides: Any) -> Iterator[Backend]:
    from e2e.backends.local import node

    chosen = settings(config) if config is not None else Settings.from_env(**overrides)
    with _sigterm_as_interrupt(), node.up(chosen) as backend:
        yield backend


def _interrupt(signum: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def _sigterm_as_interrupt() -> AbstractContextManager[None]:
    """A SIGTERM or SIGHUP unwinds like Ctrl-C, so the node is torn down instead of left behind."""
    from e2e.backends.local.procs import signals_handled

    return signals_handled((signal.SIGTERM, signal.SIGHUP), _interrupt)

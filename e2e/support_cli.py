"""Running the `cniqs` console script as a user would, for the CLI tests of every backend."""

from __future__ import annotations

import ipaddress
import os
import re
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from cniqs.common import procs
from cniqs.common.mountinfo import mounts_under
from cniqs.provider import Provider, RunOptions
from cniqs.providers.local import netns
from cniqs.providers.local.layout import Layout

TIMEOUT = 600  # the first `up` may build the plugin executable (kube: also Kubernetes, when not cached)


def cniqs_script() -> str | None:
    """The console script of this Python (a tox env's bin), else the one on PATH."""
    beside = Path(sys.executable).parent / "cniqs"
    return str(beside) if beside.is_file() else shutil.which("cniqs")


@dataclass(frozen=True)
class Ran:
    argv: list[str]
    rc: int
    out: str
    err: str

    def __str__(self) -> str:
        return f"$ {shlex.join(self.argv)}  (exit {self.rc})\n--- stdout\n{self.out}--- stderr\n{self.err}"


def run_cniqs(
    argv: list[str], state_dir: Path, provider: str = "local", extra_env: dict[str, str] | None = None
) -> Ran:
    """Run a cniqs command line as a user would (argv[0] is `cniqs`), with a private state dir; provider is
    what $CNIQS_PROVIDER chooses when the command line does not."""
    assert argv[0] == "cniqs", argv
    env = {**os.environ, "CNIQS_STATE_DIR": str(state_dir), "CNIQS_PROVIDER": provider, "PYTHONUNBUFFERED": "1"}
    env.update(extra_env or {})
    proc = subprocess.Popen(
        [cniqs_script() or "cniqs", *argv[1:]], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )
    try:
        out, err = proc.communicate(timeout=TIMEOUT)
    except BaseException:
        # Timeout or Ctrl-C: SIGTERM first, which cniqs turns into its own teardown; SIGKILL only after.
        proc.terminate()
        try:
            proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
        raise
    return Ran(argv, proc.returncode, out, err)


def k8s_version_args(config: pytest.Config) -> list[str]:
    """The suite's --k8s-version for a `cniqs up`/`cniqs demo` command line, so the cluster a CLI test makes runs
    the version this run covers (a CI job's matrix version), not cniqs's default; none for the default or `all`
    (cniqs makes one cluster: then the newest, as without the option)."""
    version = str(config.getoption("--k8s-version", default="") or "")
    return [] if version in ("", "all") else ["--k8s-version", version]


def require_cli(provider: Provider, needs: tuple[str, ...] = ()) -> None:
    """Skip with the reason when the provider cannot run here, the console script or one of the commands
    in needs is missing; fail instead where CI=true (a skipped e2e test is never silent in CI)."""
    problems = provider.prerequisites(RunOptions())
    if cniqs_script() is None:
        problems.append("the `cniqs` console script is not installed (pip install -e .)")
    problems += [f"`{tool}` is not on PATH" for tool in needs if shutil.which(tool) is None]
    if problems:
        reason = f"{provider.name} provider cannot run here: " + "; ".join(problems)
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(reason, pytrace=False)
        pytest.skip(reason)


def quick_start_commands(readme: str) -> list[str]:
    """The commands of the first code block under the `## Quick start` heading."""
    section = readme.split("\n## Quick start", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```[a-z]*\n(.*?)```", section, re.S)
    assert block, "README's Quick start has no code block"
    return [ln.split(" #", 1)[0].strip() for ln in block.group(1).splitlines() if ln.strip() and ln[0] != "#"]


def hand_steps(readme: str) -> dict[int, list[str]]:
    """The commands of each numbered step of "Workshop steps by hand": the lines of every code block that holds
    a command (kubectl, kind, docker, ...), in order; blocks of printed output are left out."""
    section = readme.split("\n## Workshop steps by hand", 1)[1].split("\n## ", 1)[0]
    steps: dict[int, list[str]] = {}
    for match in re.finditer(r"^(\d+)\. \*\*(.*?)(?=^\d+\. \*\*|\Z)", section, re.M | re.S):
        blocks = re.findall(r"^ *```[a-z]*\n(.*?)^ *```", match.group(2), re.M | re.S)
        lines = [ln.strip() for block in blocks for ln in block.splitlines() if ln.strip()]
        tools = ("kubectl ", "kind ", "docker ", "echo ", "ARCH=", "export ")
        steps[int(match.group(1))] = [ln for ln in lines if ln.startswith(tools)]
    return steps


def node_left_nothing(run_id: str, root: Path | None = None, containerd_pid: int | None = None) -> list[str]:
    """What a torn-down local node left behind: namespaces, processes, mounts, cgroups, files."""
    layout = Layout(run_id, root or Path("/nonexistent"))
    left = [f"netns {ns}" for ns in (layout.node_netns, layout.ext_netns) if netns.exists(ns)]
    left += [f"cgroup {d}" for d in procs.cgroup_dirs(layout.cgroup_parent)]
    left += [f"process {pid}: {procs.cmdline(pid)}" for pid in procs.mentioning(f"cniqs-{run_id}") if procs.alive(pid)]
    if containerd_pid and procs.alive(containerd_pid):
        left.append(f"containerd {containerd_pid}: {procs.cmdline(containerd_pid)}")
    if root is not None:
        left += [f"mount {m}" for m in mounts_under(root)]
        left += [f"dir {p}" for p in (root, root.parent) if p.exists() and p.name.startswith("cniqs-")]
    return left


def real_address(text: str) -> ipaddress.IPv4Interface:
    """The real address reveal printed on the `ip a s eth0` line."""
    line = next(ln for ln in text.splitlines() if "(ip a s eth0)" in ln)
    return ipaddress.IPv4Interface(re.findall(r"\d+\.\d+\.\d+\.\d+/\d+", line)[0])

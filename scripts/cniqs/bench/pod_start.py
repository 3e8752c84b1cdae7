"""What cni-quickstart costs a pod start, and how long the local e2e session takes, from one run.

    python -m cniqs.bench.pod_start [--pods 20] [--rounds 2] [--no-session]

On a real local containerd node (the e2e suite's local provider; root, Linux): the median time of the
CRI RunPodSandbox call, which runs the whole CNI chain, with kindnet's plain chain and with
cni-quickstart appended, measured in alternating rounds so drift hits both alike. Then the wall time
of a whole `pytest e2e --provider local -m "not load"` session (tox -e local) in a subprocess (after the node is gone).
Targets: the plugin adds at most 50% to RunPodSandbox; the session takes under 60 s.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

from cniqs.install.conflist import chain_entry
from cniqs.resources import checkout

PLUGIN_TARGET = 1.5
SHARE_TARGET = 0.15  # the plugin's share of RunPodSandbox: (with - without) / with
SESSION_TARGET_S = 60.0


def time_sandboxes(backend: Any, label: str, count: int) -> list[float]:
    """Run count sandboxes one after another, each removed before the next; seconds per RunPodSandbox."""
    samples = []
    for n in range(count):
        spec = backend.sandbox_spec(f"bench-{label}-{n}")
        start = time.perf_counter()
        sandbox_id = backend.cri.run_pod_sandbox(spec)
        samples.append(time.perf_counter() - start)
        backend.cri.remove_pod_sandbox(sandbox_id)
    return samples


def measure_pod_start(pods: int, rounds: int, warmup: int, say: Callable[[str], None]) -> dict[str, list[float]]:
    from cniqs.provider import RunOptions
    from cniqs.providers.local.provider import LocalProvider

    provider, options = LocalProvider(), RunOptions(say=say)
    problems = provider.prerequisites(options)
    if problems:
        raise SystemExit("cannot run the local node here: " + "; ".join(problems))
    per_round = max(1, pods // rounds)
    samples: dict[str, list[float]] = {"plain": [], "plugin": []}
    with provider.open(options) as backend:
        time_sandboxes(backend, "warmup", warmup)
        for r in range(rounds):
            samples["plain"] += time_sandboxes(backend, f"plain{r}", per_round)
            backend.install(chain_entry())
            try:
                samples["plugin"] += time_sandboxes(backend, f"plugin{r}", per_round)
            finally:
                backend.uninstall()
    return samples


def session_wall_time(pytest_args: list[str], provider: str = "local") -> tuple[float, int, str]:
    """(wall seconds, exit code, pytest's last line) of one e2e session on a provider, in a subprocess."""
    argv = [sys.executable, "-m", "pytest", "e2e", "--provider", provider, "-m", "not load",
            "-q", "-p", "no:cacheprovider", *pytest_args]  # fmt: skip
    repo = checkout()
    if repo is None:
        raise SystemExit(
            "timing the e2e session needs a source checkout (the suite is not installed); use --no-session"
        )
    start = time.perf_counter()
    proc = subprocess.run(argv, cwd=repo, capture_output=True, text=True)
    wall = time.perf_counter() - start
    lines = [line for line in proc.stdout.splitlines() if line.strip()]
    return wall, proc.returncode, lines[-1] if lines else "(no output)"


def ms(seconds: float) -> str:
    return f"{seconds * 1000:8.1f} ms"


def report(samples: dict[str, list[float]]) -> list[str]:
    plain, plugin = statistics.median(samples["plain"]), statistics.median(samples["plugin"])
    ratio = plugin / plain
    verdict = "ok" if ratio <= PLUGIN_TARGET else "OVER TARGET"
    share = (plugin - plain) / plugin
    return [
        f"RunPodSandbox on a local containerd node, median of {len(samples['plain'])} each, sequential:",
        f"  kindnet (ptp, portmap)              {ms(plain)}",
        f"  kindnet + cni-quickstart            {ms(plugin)}",
        f"  ratio                               {ratio:8.2f}x  (+{(plugin - plain) * 1000:.1f} ms; "
        f"target at most {PLUGIN_TARGET:.1f}x: {verdict})",
        f"  cni-quickstart's share              {share:8.1%}  of RunPodSandbox with it (issue 14 target: at most "
        f"{SHARE_TARGET:.0%}: {'ok' if share <= SHARE_TARGET else 'OVER TARGET'})",
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pods", type=int, default=20, help="sandboxes timed per chain (default 20)")
    parser.add_argument("--rounds", type=int, default=2, help="alternating plain/plugin rounds (default 2)")
    parser.add_argument("--warmup", type=int, default=2, help="untimed sandboxes first (default 2)")
    parser.add_argument("--no-session", action="store_true", help="skip timing the whole local e2e session")
    parser.add_argument("pytest_args", nargs="*", help="extra arguments for the timed pytest session")
    args = parser.parse_args(argv)

    def say(text: str) -> None:
        print(text, file=sys.stderr, flush=True)

    for line in report(measure_pod_start(args.pods, args.rounds, args.warmup, say)):
        print(line, flush=True)
    if not args.no_session:
        wall, rc, summary = session_wall_time(args.pytest_args)
        verdict = "ok" if wall < SESSION_TARGET_S and rc == 0 else "NOT OK"
        print(f"local e2e session (as tox -e local): {wall:.1f} s wall, exit {rc}: {summary}")
        print(f"  target under {SESSION_TARGET_S:.0f} s and passing: {verdict}")
        return rc
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

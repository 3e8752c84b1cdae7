"""How pod start-up cost grows with the number of pods, and cni-quickstart's share of it, from one run.

    python -m cniqs.bench.scale [--pods 10,50,100] [--parallel 0] [--warmup 3]

On a real local containerd node (the e2e suite's local provider; root, Linux): for each N, N pod
sandboxes are created one after another ("sequential") and all at once ("parallel", --parallel
caps the number in flight; 0 means N), once with kindnet's plain chain and once with cni-quickstart
appended. All N stay up until the last is created (the node holds N pods), then all are removed
before the next measurement. Printed for each: the CRI RunPodSandbox time per pod (median and p90;
it runs the whole CNI chain) and the wall time to create all N.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from cniqs.install.conflist import chain_entry

DEFAULT_SIZES = (10, 50, 100)
MODES = ("sequential", "parallel")
CHAINS = ("kindnet", "kindnet + cni-quickstart")
REMOVERS = 4  # sandboxes removed at once between measurements (not timed)


@dataclass(frozen=True)
class Run:
    pods: int
    mode: str
    chain: str
    samples: list[float]  # seconds per RunPodSandbox
    total: float  # seconds from the first call to the last answer

    @property
    def median(self) -> float:
        return statistics.median(self.samples)

    @property
    def p90(self) -> float:
        if len(self.samples) < 2:
            return self.samples[0]
        return statistics.quantiles(self.samples, n=10, method="inclusive")[-1]


def create(backend: Any, names: Sequence[str], workers: int) -> tuple[list[str], list[float], float]:
    """RunPodSandbox for each name, workers at a time (1: sequential); (ids, seconds each, wall seconds)."""

    def one(name: str) -> tuple[str, float]:
        spec = backend.sandbox_spec(name)
        start = time.perf_counter()
        sandbox_id = backend.cri.run_pod_sandbox(spec)
        return sandbox_id, time.perf_counter() - start

    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=workers) as pool:
        futures = [pool.submit(one, n) for n in names]
        errors = [f.exception() for f in futures]
    wall = time.perf_counter() - start
    done = [f.result() for f, err in zip(futures, errors, strict=True) if err is None]
    failed = next((e for e in errors if e is not None), None)
    if failed is not None:
        remove(backend, [sandbox_id for sandbox_id, _ in done])
        raise failed
    return [s for s, _ in done], [t for _, t in done], wall


def remove(backend: Any, sandbox_ids: Sequence[str]) -> None:
    with ThreadPoolExecutor(max_workers=REMOVERS) as pool:
        for future in [pool.submit(backend.cri.remove_pod_sandbox, s) for s in sandbox_ids]:
            future.result()


def measure(sizes: Sequence[int], parallel: int, warmup: int, say: Callable[[str], None]) -> list[Run]:
    from cniqs.provider import RunOptions
    from cniqs.providers.local.provider import LocalProvider

    provider, options = LocalProvider(), RunOptions(say=say)
    problems = provider.prerequisites(options)
    if problems:
        raise SystemExit("cannot run the local node here: " + "; ".join(problems))
    runs = []
    with provider.open(options) as backend:
        ids, _, _ = create(backend, [f"warmup-{i}" for i in range(warmup)], 1)
        remove(backend, ids)
        for n in sizes:
            for mode in MODES:
                workers = 1 if mode == "sequential" else (parallel or n)
                for chain in CHAINS:
                    if chain == CHAINS[1]:
                        backend.install(chain_entry())
                    try:
                        tag = f"{mode[:3]}-{'plugin' if chain == CHAINS[1] else 'plain'}-{n}"
                        ids, samples, wall = create(backend, [f"scale-{tag}-{i}" for i in range(n)], workers)
                        remove(backend, ids)
                    finally:
                        if chain == CHAINS[1]:
                            backend.uninstall()
                    runs.append(Run(n, mode, chain, samples, wall))
                    say(f"scale: {n:4d} pods {mode:10s} {chain:26s} total {wall:6.2f} s")
    return runs


def table(runs: Sequence[Run], parallel: int) -> list[str]:
    head = f"{'pods':>5}  {'mode':<10}  {'chain':<26}  {'median':>9}  {'p90':>9}  {'total':>8}  {'plugin share':>12}"
    lines = [
        "RunPodSandbox per pod (median, p90) and wall time to create all N, on one local containerd node"
        f" ({'all N at once' if not parallel else f'{parallel} at a time'} when parallel):",
        head,
        "-" * len(head),
    ]
    plain: dict[tuple[int, str], Run] = {}
    for run in runs:
        share = ""
        if run.chain == CHAINS[0]:
            plain[(run.pods, run.mode)] = run
        elif (run.pods, run.mode) in plain:
            base = plain[(run.pods, run.mode)]
            extra = run.median - base.median
            share = f"{extra / run.median * 100:+.0f}% ({extra * 1000:+.1f} ms)"
        lines.append(
            f"{run.pods:>5}  {run.mode:<10}  {run.chain:<26}  {run.median * 1000:6.1f} ms  {run.p90 * 1000:6.1f} ms"
            f"  {run.total:6.2f} s  {share:>12}"
        )
    lines.append("plugin share: (median with cni-quickstart - median without) / median with it")
    return lines


def sizes_arg(text: str) -> tuple[int, ...]:
    try:
        sizes = tuple(int(s) for s in text.split(",") if s.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a comma-separated list of pod counts: {text!r}") from None
    if not sizes or any(n < 1 for n in sizes):
        raise argparse.ArgumentTypeError(f"pod counts must be positive: {text!r}")
    return sizes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pods", type=sizes_arg, default=DEFAULT_SIZES, help="pod counts, comma-separated (10,50,100)")
    parser.add_argument("--parallel", type=int, default=0, help="sandboxes in flight when parallel (0: all N)")
    parser.add_argument("--warmup", type=int, default=3, help="untimed sandboxes first (default 3)")
    args = parser.parse_args(argv)

    def say(text: str) -> None:
        print(text, file=sys.stderr, flush=True)

    started = time.perf_counter()
    runs = measure(args.pods, max(0, args.parallel), max(0, args.warmup), say)
    for line in table(runs, args.parallel):
        print(line, flush=True)
    print(f"benchmark wall time {time.perf_counter() - started:.0f} s", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

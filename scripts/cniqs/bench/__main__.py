"""`python -m cniqs.bench [NAME ...] [OPTIONS]`: run benchmarks that print figures (all by default).

OPTIONS go to the benchmark when exactly one is named.

plugin     one ADD through the node executable, beside Go ptp and a bare python3
pod-start  RunPodSandbox with kindnet's chain and with cni-quickstart appended; local e2e wall time
scale      N pods sequentially and in parallel, with and without cni-quickstart
kube       the kube provider: build, cluster up, kubectl apply -> Ready with and without cni-quickstart, e2e session
kind       a kind session (the kind suite) split by phase: pull, create, configure, ready, tests, teardown
tox        `tox` on a fresh clone: creating its environments, the unit run (--full: the whole `tox`)
"""

from __future__ import annotations

import importlib
import sys

BENCHMARKS = {
    "plugin": "cniqs.bench.plugin",
    "pod-start": "cniqs.bench.pod_start",
    "scale": "cniqs.bench.scale",
    "kube": "cniqs.bench.kube",
    "tox": "cniqs.bench.tox",
    "kind": "cniqs.bench.kind",
}


def main(argv: list[str]) -> int:
    if argv[:1] in (["-h"], ["--help"]):
        print(__doc__)
        return 0
    split = next((i for i, a in enumerate(argv) if a.startswith("-")), len(argv))
    asked, rest = argv[:split], [a for a in argv[split:] if a != "--"]
    unknown = [a for a in asked if a not in BENCHMARKS]
    if unknown:
        print(f"unknown benchmark {unknown[0]!r}; choose from {', '.join(BENCHMARKS)}", file=sys.stderr)
        return 2
    names = asked or list(BENCHMARKS)
    code = 0
    for name in names:
        try:
            module = importlib.import_module(BENCHMARKS[name])
        except ImportError as exc:
            print(f"== {name}: not available ({exc})", flush=True)
            code = 1
            continue
        print(f"== {name}", flush=True)
        code |= module.main(rest if len(names) == 1 else [])
    return code


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))

"""Median wall time of one CNI ADD through the built executable, beside reference points.

Prints, from one run on the same machine: the frozen cni-quickstart ADD, the same through
`python3 -m cni_quickstart`, the Go reference plugin `ptp` answering VERSION (the cheapest call a
Go plugin can make), and a bare `python3 -I -S -c pass` (the floor of any CPython start).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time

from cniqs.build import NAME, build_local
from cniqs.resources import plugin_sources

REFERENCE_DIRS = ("/usr/lib/cni", "/opt/cni/bin")

ADD_CONFIG = {
    "cniVersion": "0.3.1",
    "name": "kindnet",
    "type": NAME,
    "prevResult": {
        "cniVersion": "0.3.1",
        "interfaces": [
            {"name": "veth0a1b2c3d", "mac": "6e:5d:3b:11:22:33"},
            {"name": "eth0", "mac": "ae:89:21:5f:e3:5f", "sandbox": "/var/run/netns/cni-bench"},
        ],
        "ips": [{"version": "4", "address": "10.244.0.148/24", "gateway": "10.244.0.1", "interface": 1}],
        "routes": [{"dst": "0.0.0.0/0"}],
        "dns": {},
    },
}
ADD_ENV = {"CNI_COMMAND": "ADD", "CNI_CONTAINERID": "bench", "CNI_NETNS": "/var/run/netns/cni-bench",
           "CNI_IFNAME": "eth0", "CNI_PATH": "/usr/lib/cni"}  # fmt: skip


def median_ms(argv: list[str], env: dict[str, str], stdin: bytes, runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(argv, input=stdin, env=env, stdout=subprocess.DEVNULL, check=True)
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def find_reference(name: str) -> str | None:
    for d in REFERENCE_DIRS:
        if os.access(f"{d}/{name}", os.X_OK):
            return f"{d}/{name}"
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args(argv)
    exe = build_local() / NAME
    stdin = json.dumps(ADD_CONFIG).encode()
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), **ADD_ENV}
    # Sanity: the measured call really answers with the rewritten result.
    out = subprocess.run([str(exe)], input=stdin, env=env, capture_output=True, check=True).stdout
    assert json.loads(out)["ips"][0]["address"] == "1.2.3.0/24", out

    rows: list[tuple[str, float | None]] = []
    for _ in range(2):  # warm the page cache once
        median_ms([str(exe)], env, stdin, 2)
    rows.append((f"cni-quickstart ADD, frozen ({exe})", median_ms([str(exe)], env, stdin, args.runs)))
    src_env = {**env, "PYTHONPATH": str(plugin_sources().parent)}
    rows.append(
        (
            "cni-quickstart ADD, python3 -m cni_quickstart",
            median_ms([sys.executable, "-m", "cni_quickstart"], src_env, stdin, args.runs),
        )
    )
    ptp = find_reference("ptp")
    rows.append(
        ("Go ptp VERSION", median_ms([ptp], {**env, "CNI_COMMAND": "VERSION"}, b'{"cniVersion":"0.3.1"}', args.runs))
        if ptp
        else ("Go ptp VERSION (ptp not found)", None)
    )
    python3 = shutil.which("python3") or sys.executable
    rows.append(("python3 -I -S -c pass", median_ms([python3, "-I", "-S", "-c", "pass"], env, b"", args.runs)))
    print(f"median wall time of one call, {args.runs} runs each, {os.cpu_count()} CPUs")
    for label, value in rows:
        print(f"  {label:<70} {'n/a' if value is None else f'{value:7.1f} ms'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

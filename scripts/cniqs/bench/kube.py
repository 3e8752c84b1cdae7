"""What the kube provider costs: builds, cluster start, pod start with and without cni-quickstart, the e2e session.

    python -m cniqs.bench.kube [--k8s-version 1.36] [--ups 2] [--pods 6] [--no-session]

Prints, for one pinned Kubernetes release: its cold build time (as recorded by the build that made the
cache) and the time a cached `build` takes; how long a two-node cluster takes from nothing to every node
Ready with cached binaries; the time from `kubectl apply` of a pod to its Ready condition (kubectl wait,
a watch) with kindnet's chain and with cni-quickstart appended, alternating so drift hits both alike; and
the wall time of a whole `pytest e2e --provider kube` session for that release (tox -e kube), in a
subprocess after the bench's own cluster is gone. Targets: cluster up <= 30 s; one release's session <= 3 min.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

from cniqs.bench.pod_start import session_wall_time
from cniqs.common.run import run
from cniqs.install.conflist import chain_entry
from cniqs.providers.kube import cluster as kube_cluster
from cniqs.providers.kube.provider import backend_for, kubectl_on_path
from cniqs.providers.kube.state import Cluster
from cniqs.toolchain import kubebin

UP_TARGET_S = 30.0
SESSION_TARGET_S = 180.0


def pod_manifest(name: str, image: str, node: str) -> str:
    return json.dumps(
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": name, "namespace": "default"},
            "spec": {
                "nodeName": node,
                "terminationGracePeriodSeconds": 0,
                "automountServiceAccountToken": False,
                "containers": [{"name": "main", "image": image, "command": ["sleep", "3600"]}],
            },
        }
    )


def apply_to_ready(cluster: Cluster, name: str, node: str) -> float:
    """Seconds from `kubectl apply` to the pod's Ready condition (kubectl wait watches for it)."""
    start = time.perf_counter()
    run(cluster.kubectl_argv("apply", "-f", "-"), input=pod_manifest(name, cluster.image, node), timeout=30)
    run(cluster.kubectl_argv("wait", "--for=condition=Ready", f"pod/{name}", "--timeout=60s"), timeout=70)
    elapsed = time.perf_counter() - start
    run(cluster.kubectl_argv("delete", "pod", name, "--wait=true", "--timeout=60s"), timeout=70)
    return elapsed


def line(label: str, samples: list[float]) -> str:
    return (
        f"  {label:<28} median {statistics.median(samples):6.2f} s   min {min(samples):6.2f}   max {max(samples):6.2f}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m cniqs.bench.kube", description=__doc__.split("\n\n")[0])
    parser.add_argument("--k8s-version", default=kubebin.DEFAULT_MINOR, help="a pinned minor (default the newest)")
    parser.add_argument("--ups", type=int, default=2, help="cluster starts to time (default 2)")
    parser.add_argument("--pods", type=int, default=6, help="pods per mode (default 6)")
    parser.add_argument("--no-session", action="store_true", help="skip the e2e session wall time")
    args = parser.parse_args(argv)
    minor = args.k8s_version
    release = kubebin.release_for(minor)

    t0 = time.perf_counter()
    kubebin.build_kube(minor)
    kubebin.build_tools()
    cached = time.perf_counter() - t0
    cold = kubebin.cold_build_seconds(minor)
    print(f"Kubernetes {release} (Go {kubebin.go_version()})")
    steps = ", ".join(f"{k} {v:.0f} s" for k, v in cold.items() if k != "total")
    print(f"  build, cold (recorded)       {cold.get('total', float('nan')):6.0f} s   ({steps or 'not recorded'})")
    print(f"  build, cached                {cached:6.2f} s")

    ups: list[float] = []
    for n in range(args.ups):
        start = time.perf_counter()
        with kube_cluster.up(minor, workers=1) as cluster:
            ups.append(time.perf_counter() - start)
            if n < args.ups - 1:
                continue
            samples: dict[str, list[float]] = {"kindnet": [], "+cni-quickstart": []}
            node = cluster.nodes[-1].name
            with kubectl_on_path(cluster):
                backend = backend_for(cluster, namespace="default")
                try:
                    apply_to_ready(cluster, "warmup", node)
                    for i in range(args.pods):
                        samples["kindnet"].append(apply_to_ready(cluster, f"plain-{i}", node))
                        backend.install(chain_entry())
                        samples["+cni-quickstart"].append(apply_to_ready(cluster, f"plugin-{i}", node))
                        backend.uninstall()
                finally:
                    backend.close()
    print(line(f"cluster up (2 nodes, {args.ups}x)", ups) + f"   target <= {UP_TARGET_S:.0f} s")
    print("  kubectl apply -> pod Ready:")
    for label, values in samples.items():
        print("  " + line(label, values))
    ratio = statistics.median(samples["+cni-quickstart"]) / statistics.median(samples["kindnet"])
    print(f"    with / without: {ratio:.2f}x")

    if not args.no_session:
        wall, rc, last = session_wall_time(["-n", "2", "--k8s-version", minor], provider="kube")  # as tox -e kube
        print(f"  e2e session (tox -e kube)    {wall:6.1f} s   target <= {SESSION_TARGET_S:.0f} s   [{last}]")
        if rc != 0:
            return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

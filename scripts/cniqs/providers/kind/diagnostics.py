"""What a failed kind run leaves to look at: the Kubernetes layer's diagnostics, plus `kind export logs`."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from cniqs.common.run import Runner
from cniqs.providers.cluster import diagnostics
from cniqs.providers.cluster.nodes import Nodes
from cniqs.providers.kind import cluster as kind_cluster
from cniqs.providers.kind import commands


def collect(
    run: Runner,
    dest: Path,
    *,
    kubeconfig: str,
    namespace: str,
    nodes: Sequence[str],
    log_file: str,
    kind: str | None = None,
    cluster: str | None = None,
) -> Path:
    """Namespace and node state into dest; with kind and cluster also `kind export logs`."""
    diagnostics.collect(
        Nodes(run, commands.access(commands.engine())),
        dest,
        kubeconfig=kubeconfig,
        namespace=namespace,
        node_names=nodes,
        log_file=log_file,
    )
    if kind and cluster:
        kind_cluster.export_logs(run, kind, cluster, dest)
    return dest

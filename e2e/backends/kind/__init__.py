"""The kind backend: `pytest e2e --backend kind` (tox -e e2e) on kind clusters, per Kubernetes version.

Per version from the versions table: create a kind cluster (or reuse one) with its own kubeconfig,
yield a KindBackend (base.Backend) whose install builds the plugin for each node's platform and
installs it on every node; on any failure collect diagnostics before teardown; delete the cluster
unless asked to keep it.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from e2e.backends.kind import cluster as kind_cluster
from e2e.backends.kind import commands as c
from e2e.backends.kind import diagnostics, report, versions
from e2e.backends.kind.backend import KindBackend
from e2e.backends.kind.nodeutils import run_process
from e2e.backends.kind.options import add_options, option_problems, read_options, tool_problems

__all__ = ["add_options", "open_backend", "prerequisites", "variants"]


def prerequisites(config: pytest.Config) -> list[str]:
    """kind, docker (daemon answering, buildx) and kubectl; empty when the kind backend can run."""
    return versions.problems() + tool_problems()


def variants(config: pytest.Config) -> list[str]:
    """The Kubernetes minors this run covers (--k8s-version): the suite runs once per entry."""
    opts = read_options(config.getoption)
    try:
        chosen = versions.select(opts.k8s_version)
    except ValueError as exc:
        raise pytest.UsageError(str(exc)) from None
    problems = option_problems(opts, len(chosen)) + versions.problems()
    if problems:
        raise pytest.UsageError("; ".join(problems))
    report.plugin(config)
    return [entry.minor for entry in chosen]


@contextmanager
def open_backend(config: pytest.Config, variant: str | None = None) -> Iterator[KindBackend]:
    opts = read_options(config.getoption)
    image = versions.select(variant or opts.k8s_version)[0]
    tracker = report.plugin(config)
    record = tracker.run_of(image.minor)
    record.image = image.image
    kind = c.kind_binary()
    workdir = Path(tempfile.mkdtemp(prefix="cniqs-kind-"))
    cluster: kind_cluster.Cluster | None = None
    backend: KindBackend | None = None
    failed = False
    try:
        if opts.reuse_cluster:
            cluster = kind_cluster.reuse(run_process, kind, opts.reuse_cluster, workdir)
        else:
            cluster = kind_cluster.prepare(kind, kind_cluster.cluster_name(image.minor), workdir)
            record.cluster = cluster.name
            kind_cluster.create(run_process, cluster, image.image, opts.workers, opts.ip_family)
        record.cluster = cluster.name + ("" if cluster.created else " (reused)")
        backend = KindBackend(run_process, cluster, image, opts.targets, opts.pod_image, rebuild=opts.rebuild)
        tracker.attach(image.minor, backend, opts.artifacts / cluster.name)
        backend.wait_nodes_ready()
        if not cluster.created:
            # A reused cluster may hold what an interrupted run left: start from the cluster's own chain.
            backend.uninstall()
            backend.use_base_chain(None)
        backend.create_namespace()
        yield backend
    except BaseException:
        failed = True
        raise
    finally:
        tracker.detach(image.minor)
        try:
            if cluster is not None and (failed or record.failed):
                record.artifacts = _collect(kind, cluster, backend, opts.artifacts / cluster.name)
                tracker.say(f"\ncni-quickstart kind: diagnostics for Kubernetes {image.minor} in {record.artifacts}")
            _teardown(cluster, backend, keep=opts.keep, notes=record.notes)
        except Exception as exc:
            # Never hide the failure that brought us here behind a teardown error.
            record.notes.append(f"teardown failed: {exc}")
            if not failed:
                raise
        finally:
            if cluster is None or not (cluster.created and opts.keep):
                shutil.rmtree(workdir, ignore_errors=True)


def _collect(kind: str, cluster: kind_cluster.Cluster, backend: KindBackend | None, dest: Path) -> Path:
    nodes = list(backend.nodes) if backend is not None else _nodes(cluster)
    return diagnostics.collect(
        run_process,
        dest,
        kubeconfig=str(cluster.kubeconfig),
        namespace=backend.namespace if backend is not None else "default",
        nodes=nodes,
        log_file=backend.log_file if backend is not None else "/var/log/cni-quickstart.log",
        kind=kind,
        cluster=cluster.name,
    )


def _nodes(cluster: kind_cluster.Cluster) -> list[str]:
    result = run_process(c.kind_get_nodes(cluster.kind, cluster.name), timeout=60)
    return sorted(line.strip() for line in result.stdout.splitlines() if line.strip())


def _teardown(
    cluster: kind_cluster.Cluster | None, backend: KindBackend | None, *, keep: bool, notes: list[str]
) -> None:
    if cluster is None:
        return
    deleting = cluster.created and not keep
    try:
        if backend is not None and not cluster.created:
            # A reused cluster goes back to how it was: plugin and test namespace removed. A kept
            # cluster this run created stays as the tests left it, for a look around.
            backend.uninstall()
            backend.use_base_chain(None)
            backend.delete_namespace()
    finally:
        if backend is not None:
            backend.close()
        if deleting:
            cluster.delete(run_process)
        elif cluster.created:
            notes.append(
                f"kept: kubectl --kubeconfig {cluster.kubeconfig} ...; "
                f"delete with: {' '.join(c.kind_delete(cluster.kind, cluster.name, str(cluster.kubeconfig)))}"
            )

"""The kind provider: `pytest e2e --provider kind` (tox -e e2e) per Kubernetes version, and `cniqs --provider kind`.

A test run, per version from the versions table: create a kind cluster (or reuse one) with its own
kubeconfig, yield a KindBackend whose install builds the plugin for each node's platform and
installs it on every node; on any failure collect diagnostics before teardown; delete the cluster
unless asked to keep it. The cniqs tool: one one-node cluster named by the user, kept between commands.

kind runs its nodes in docker or podman (kind's own switch, KIND_EXPERIMENTAL_PROVIDER); the images come
from upstream registries, or all through the registry mirror the user names (cniqs.providers.kind.mirror).
The two choices are independent: the engine only decides how a node is reached.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from cniqs.common.errors import NodeGone, Refused
from cniqs.common.phases import Phases
from cniqs.common.run import run_process
from cniqs.provider import NullWatcher, Option, RunOptions, State, Targets, Watcher
from cniqs.providers.cluster import api
from cniqs.providers.cluster.backend import DEFAULT_LOG_FILE
from cniqs.providers.kind import cluster as kind_cluster
from cniqs.providers.kind import commands, coredns, egress, forwarding, mirror, network, release, versions
from cniqs.providers.kind import diagnostics as kind_diagnostics
from cniqs.providers.kind.backend import KindBackend
from cniqs.providers.kind.images import Images, configure_mirror, containerd_patches, images, pull
from cniqs.providers.kind.options import OPTIONS, KindOptions, option_problems, read_options, tool_problems

POD_NAMESPACE = "default"
CLI_POD_IMAGE = "alpine:3.20"
CLI_TARGETS = Targets(ip="1.1.1.1", name="kubernetes.io")


def cli_targets(extra: dict[str, str], base: Targets) -> Targets:
    """The cniqs tool's connectivity targets in the egress mode `cniqs up`/`demo` recorded (--kind-egress,
    as in the suite: egress.select); in ci mode the kind network's gateway read at `up`."""

    def recorded_gateway() -> str:
        if not extra.get("egress_gateway"):
            raise NodeGone("this cluster's state records --kind-egress ci but no gateway of kind's network")
        return extra["egress_gateway"]

    return egress.select(extra.get("egress") or egress.INTERNET, base, recorded_gateway)


def _select(choice: str | None) -> list[versions.NodeImage]:
    """The node images of --k8s-version among those of the found kind's release (`kind version`)."""
    return versions.select_for_kind(choice, release.found_kind(run_process, commands.kind_binary()))


def check_kind(kind: str, minor: str, opts: KindOptions) -> versions.KindVersion:
    """The found kind against this minor, before anything is created (Refused with one line). Through a mirror
    the node image may be another patch of the minor: then only kubeadm's config version matters."""
    return release.check_create(run_process, kind, minor, table_image=mirror.parse(opts.mirror) is None)


def kind_options(options: RunOptions) -> KindOptions:
    """The kind options of a run: each given value, else its default."""
    defaults = {option.flag: option.initial() for option in OPTIONS}
    return read_options(lambda flag: options.get(flag, defaults[flag]))


class KindProvider:
    name = "kind"
    debian_packages = False

    def options(self) -> Sequence[Option]:
        return OPTIONS

    def prerequisites(self, options: RunOptions) -> list[str]:
        """kind (v0.30.0 or newer), kubectl and docker (daemon answering) or podman (with DNS on its networks);
        empty when the kind provider can run."""
        return versions.table_problems() + tool_problems() or release.problems(run_process, commands.kind_binary())

    def variants(self, options: RunOptions) -> list[str]:
        """The Kubernetes minors this run covers (--k8s-version): the suite runs once per entry."""
        opts = kind_options(options)
        chosen = _select(opts.k8s_version)
        problems = option_problems(opts, len(chosen)) + versions.table_problems()
        if problems:
            raise ValueError("; ".join(problems))
        return [entry.minor for entry in chosen]

    @contextmanager
    def open(self, options: RunOptions, variant: str | None = None) -> Iterator[KindBackend]:
        opts = kind_options(options)
        engine = commands.engine()
        entry = _select(variant or opts.k8s_version)[0]
        watcher = options.watcher or NullWatcher()
        minor = entry.minor
        kind = commands.kind_binary()
        if not opts.reuse_cluster:
            found = check_kind(kind, minor, opts)
            watcher.record(minor, kind=str(found))
            if kind_note := versions.for_kind(found)[1]:
                watcher.note(minor, kind_note)
        image = images(opts, entry, opts.pod_image)
        watcher.record(minor, image=image.node)
        watcher.note(minor, f"node image: {image.note}")
        workdir = Path(tempfile.mkdtemp(prefix="cniqs-kind-"))
        api.load_soon()  # while kind creates the cluster
        suite = _SuiteRun(opts, watcher, minor, kind, engine, network.kind_network(engine), workdir)
        failed = False
        try:
            suite.cluster = _create_or_reuse(suite, image)
            suite.phases.mark("kind create")
            yield _configure(suite, suite.cluster, image)
        except BaseException:
            failed = True
            raise
        finally:
            suite.phases.mark("tests")
            watcher.closed(minor)
            try:
                if suite.cluster is not None and (failed or watcher.failed(minor)):
                    _diagnose(options, suite, suite.cluster)
                _teardown(suite.cluster, suite.backend, keep=opts.keep, notes=suite.notes)
            except Exception as exc:
                # Never hide the failure that brought us here behind a teardown error.
                suite.notes.append(f"teardown failed: {exc}")
                if not failed:
                    raise
            finally:
                _leave(suite)

    # the cniqs tool: one one-node cluster, kept between commands

    def up(self, options: RunOptions, *, name: str, workdir: Path) -> State:
        opts = kind_options(options)
        problems = option_problems(opts, 1)
        if problems:
            raise Refused("; ".join(problems))
        engine = commands.engine()
        kind = commands.kind_binary()
        # The found kind first: nothing is run or created for a kind that cannot make this cluster.
        try:
            entry = _select(opts.k8s_version)[0]
        except ValueError as exc:
            raise Refused(str(exc)) from None
        check_kind(kind, entry.minor, opts)
        if not kind_cluster.valid_name(name):
            raise Refused(f"{name!r} is not a valid kind cluster name: use lower-case letters, digits and '-'")
        if name in kind_cluster.existing_clusters(run_process, kind):
            raise Refused(
                f"a kind cluster named {name} exists already: delete it (kind delete cluster --name {name}) "
                "or pick another name with --name"
            )
        image = images(opts, entry, opts.pod_image)
        workdir.mkdir(parents=True, exist_ok=True)
        cluster = kind_cluster.prepare(kind, name, workdir)
        logs = create_logs(workdir, name)
        shutil.rmtree(logs, ignore_errors=True)  # an earlier failed create's, of a cluster long gone
        net = network.kind_network(engine)
        targets = opts.targets
        extra = {
            "engine": engine, "network": net, "mirror": opts.mirror, "pod_image": image.pod,
            "target_ip": targets.ip, "target_name": targets.name, "target_url": targets.url or "",
            "egress": opts.egress_mode,
        }  # fmt: skip
        state = State("kind", name, kubeconfig=str(cluster.kubeconfig), kind=kind, image=image.node, extra=extra)
        try:
            pull(run_process, engine, image)
            # One node, as in the workshop: the control plane runs the pods (they tolerate its taint).
            with network.creating_on_network(run_process, engine, net, name):
                kind_cluster.create(
                    run_process, cluster, image.node, 0, "ipv4",
                    kind_cluster.kubeadm_patches(entry.minor), containerd_patches(image), logs=logs,
                )  # fmt: skip
            forwarding.accept_between_nodes(run_process, engine, net, name)
            if image.registry is not None:
                configure_mirror(run_process, engine, cluster.nodes(run_process), image.registry)
            coredns.configure_zone(run_process, cluster.kubeconfig, opts.dns_zone)
            if opts.egress_mode == egress.CI:  # read once, now: a network without a gateway fails `up`, not later
                extra["egress_gateway"] = egress.network_gateway(run_process, engine, os.environ)
        except BaseException:
            self.destroy(state)
            raise
        return state

    def attach(self, state: State) -> KindBackend:
        if not Path(state.kubeconfig).is_file():
            raise NodeGone(f"the kubeconfig {state.kubeconfig} of kind cluster {state.id} is gone: run `cniqs down`")
        cluster = kind_cluster.Cluster(state.id, Path(state.kubeconfig), True, state.kind or "kind")
        extra = state.extra
        engine = extra.get("engine") or "docker"
        base = CLI_TARGETS
        if extra.get("target_ip"):
            base = Targets(ip=extra["target_ip"], name=extra["target_name"], url=extra.get("target_url") or None)
        targets = cli_targets(extra, base)
        chosen = mirror.parse(extra.get("mirror"))
        return KindBackend(
            run_process, cluster, targets, extra.get("pod_image") or CLI_POD_IMAGE, namespace=POD_NAMESPACE,
            access=commands.access(engine), registry=mirror.Registry(chosen) if chosen else None,
        )  # fmt: skip

    def destroy(self, state: State) -> list[str]:
        kind = state.kind or "kind"
        engine = state.extra.get("engine") or "docker"
        notes: list[str] = []
        try:
            if state.id in kind_cluster.existing_clusters(run_process, kind):
                kind_cluster.Cluster(state.id, Path(state.kubeconfig), True, kind).delete(run_process)
            notes.extend(forwarding.remove_for(run_process, state.id))
        finally:
            if state.extra.get("network"):
                note = network.leave_network(run_process, engine, state.extra["network"])
                if note:
                    notes.append(note)
        for path in (Path(state.kubeconfig), Path(state.kubeconfig).with_name(f"{state.id}.kind.yaml")):
            path.unlink(missing_ok=True)
        return notes

    @contextmanager
    def temporary(self, options: RunOptions, *, name: str, workdir: Path) -> Iterator[KindBackend]:
        state = self.up(options, name=name, workdir=workdir)
        try:
            backend = self.attach(state)
            try:
                yield backend
            finally:
                backend.close()
        finally:
            self.destroy(state)

    def describe(self, state: State) -> str:
        return f"kind cluster {state.id} (kubeconfig {state.kubeconfig})"

    def up_message(self, name: str) -> str:
        source = mirror.parse(os.environ.get(mirror.ENV))
        where = f"through the mirror {source.url}" if source else "from its registry"
        return f"Creating kind cluster {name} with its own kubeconfig (the first time pulls the node image {where})"

    def hints(self, state: State) -> list[str]:
        return [f"  kubectl:  export KUBECONFIG={state.kubeconfig}"]


@dataclass
class _SuiteRun:
    """One variant's cluster in KindProvider.open(): what it is, and what it made so far for teardown."""

    opts: KindOptions
    watcher: Watcher
    minor: str
    kind: str
    engine: str
    net: str
    workdir: Path
    cluster: kind_cluster.Cluster | None = None
    backend: KindBackend | None = None
    forwarded: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    phases: Phases = field(default_factory=Phases)


def _create_or_reuse(suite: _SuiteRun, image: Images) -> kind_cluster.Cluster:
    """The cluster --kind-reuse-cluster names, or a new one made on kind's network (the node image pulled first)."""
    opts, minor = suite.opts, suite.minor
    if opts.reuse_cluster:
        return kind_cluster.reuse(run_process, suite.kind, opts.reuse_cluster, suite.workdir)
    pull(run_process, suite.engine, image)
    suite.phases.mark("pull")
    cluster = kind_cluster.prepare(suite.kind, kind_cluster.cluster_name(minor), suite.workdir)
    suite.cluster = cluster
    suite.watcher.record(minor, cluster=cluster.name)
    with network.creating_on_network(run_process, suite.engine, suite.net, cluster.name):
        kind_cluster.create(
            run_process, cluster, image.node, opts.workers, opts.ip_family,
            kind_cluster.kubeadm_patches(minor), containerd_patches(image),
            logs=opts.artifacts / cluster.name,
        )  # fmt: skip
    return cluster


def _configure(suite: _SuiteRun, cluster: kind_cluster.Cluster, image: Images) -> KindBackend:
    """The bridge rule, mirror hosts, DNS zone and egress; the backend on it, once its nodes are Ready."""
    opts, watcher, minor, engine = suite.opts, suite.watcher, suite.minor, suite.engine
    watcher.record(minor, cluster=cluster.name + ("" if cluster.created else " (reused)"))
    suite.forwarded = forwarding.accept_between_nodes(run_process, engine, suite.net, cluster.name)
    for line in suite.forwarded:
        watcher.note(minor, line)
    configure_mirror(run_process, engine, cluster.nodes(run_process), image.registry)
    # CoreDNS restarts with the zone while the session goes on; the first look at the backend's targets waits.
    zone = coredns.configure_zone(run_process, cluster.kubeconfig, opts.dns_zone, wait=False)
    if zone is not None:
        watcher.note(minor, zone)
    targets = egress.run_targets(run_process, opts.egress_mode, opts.targets, engine)
    watcher.note(minor, f"connectivity ({opts.egress_mode}): {egress.describe(targets)}")
    suite.phases.mark("configure")  # the bridge rule, mirror hosts, DNS zone, egress
    backend = suite.backend = KindBackend(
        run_process, cluster, targets, image.pod, rebuild=opts.rebuild,
        access=commands.access(engine), registry=image.registry,
    )  # fmt: skip
    if zone is not None:
        backend.before_targets(lambda: coredns.wait_restarted(run_process, str(cluster.kubeconfig)))
    watcher.opened(minor, backend, opts.artifacts / cluster.name)
    suite.phases.mark("backend")  # its API client, the nodes as the API lists them
    backend.wait_nodes_ready()
    if not cluster.created:
        # A reused cluster may hold what an interrupted run left: start from the cluster's own chain.
        backend.uninstall()
        backend.use_base_chain(None)
    backend.create_namespace()
    suite.phases.mark("nodes ready")
    return backend


def _diagnose(options: RunOptions, suite: _SuiteRun, cluster: kind_cluster.Cluster) -> None:
    artifacts = suite.opts.artifacts / cluster.name
    if not cluster.deleted:  # else a failed create exported the nodes' logs there, then deleted them
        artifacts = _collect(suite.kind, cluster, suite.backend, artifacts)
    suite.watcher.record(suite.minor, artifacts=artifacts)
    options.say(f"\ncni-quickstart kind: diagnostics for Kubernetes {suite.minor} in {artifacts}")


def _leave(suite: _SuiteRun) -> None:
    """After teardown: the forwarding rule and kind's network unless kept, the phases line, the notes, the
    workdir (unless it holds a kept cluster's kubeconfig)."""
    opts, cluster, notes = suite.opts, suite.cluster, suite.notes
    try:
        if cluster is not None and (suite.forwarded or cluster.created):
            if opts.keep and cluster.created:
                notes.extend(f"kept with the cluster: {line}" for line in suite.forwarded)
            else:  # a deleted cluster, or a reused one given its rule by this run
                notes.extend(forwarding.remove_for(run_process, cluster.name))
        if not opts.reuse_cluster and cluster is not None and (not opts.keep or cluster.deleted):
            note = network.leave_network(run_process, suite.engine, suite.net)
            if note:
                notes.append(note)
        suite.phases.mark("teardown")  # diagnostics when failed, delete, network
        notes.append(suite.phases.line())
        for note in notes:
            suite.watcher.note(suite.minor, note)
    finally:
        if cluster is None or cluster.deleted or not (cluster.created and opts.keep):
            shutil.rmtree(suite.workdir, ignore_errors=True)


def create_logs(workdir: Path, name: str) -> Path:
    """Where `cniqs up` keeps the nodes' logs of a failed `kind create cluster` (next to the cluster's kubeconfig)."""
    return workdir / f"{name}.create-failed"


def _collect(kind: str, cluster: kind_cluster.Cluster, backend: KindBackend | None, dest: Path) -> Path:
    nodes = list(backend.nodes) if backend is not None else _nodes(cluster)
    return kind_diagnostics.collect(
        run_process,
        dest,
        kubeconfig=str(cluster.kubeconfig),
        namespace=backend.namespace if backend is not None else "default",
        nodes=nodes,
        log_file=backend.log_file if backend is not None else DEFAULT_LOG_FILE,
        kind=kind,
        cluster=cluster.name,
    )


def _nodes(cluster: kind_cluster.Cluster) -> list[str]:
    return sorted(
        kind_cluster.names(run_process(commands.kind_get_nodes(cluster.kind, cluster.name), timeout=60).stdout)
    )


def _teardown(
    cluster: kind_cluster.Cluster | None, backend: KindBackend | None, *, keep: bool, notes: list[str]
) -> None:
    if cluster is None:
        return
    gone = cluster.deleted  # a failed create deleted it already, kept or not
    deleting = cluster.created and not keep and not gone
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
        elif cluster.created and not gone:
            notes.append(
                f"kept: kubectl --kubeconfig {cluster.kubeconfig} ...; "
                f"delete with: {' '.join(commands.kind_delete(cluster.kind, cluster.name, str(cluster.kubeconfig)))}"
            )

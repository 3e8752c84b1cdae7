"""The kind provider: `pytest e2e --backend kind` (tox -e e2e) per Kubernetes version, and `cniqs --backend kind`.

A test run, per version from the versions table: create a kind cluster (or reuse one) with its own
kubeconfig, yield a KindBackend whose install builds the plugin for each node's platform and
installs it on every node; on any failure collect diagnostics before teardown; delete the cluster
unless asked to keep it. The cniqs tool: one one-node cluster named by the user, kept between commands.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any

from cniqs.common import pathenv
from cniqs.common.errors import NodeGone, Refused
from cniqs.common.run import Runner, run_process
from cniqs.provider import Option, RunOptions, State, Targets
from cniqs.providers.k8s import diagnostics
from cniqs.providers.k8s.backend import DEFAULT_LOG_FILE
from cniqs.providers.k8s.nodes import Nodes
from cniqs.providers.kind import cluster as kind_cluster
from cniqs.providers.kind import commands, coredns, egress, versions
from cniqs.providers.kind import podman as kind_podman
from cniqs.providers.kind.backend import KindBackend
from cniqs.providers.kind.options import (
    DEFAULT_POD_IMAGE,
    DEFAULT_TARGET_IP,
    DEFAULT_TARGET_NAME,
    EGRESS,
    OPTIONS,
    KindOptions,
    option_problems,
    read_options,
    tool_problems,
)
from cniqs.providers.local import images as local_images

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


class NullWatcher:
    """Watcher of a run nobody follows."""

    def record(self, variant: str, **facts: Any) -> None:
        pass

    def note(self, variant: str, text: str) -> None:
        pass

    def opened(self, variant: str, backend: Any, artifacts: Path) -> None:
        pass

    def closed(self, variant: str) -> None:
        pass

    def failed(self, variant: str) -> bool:
        return False


def _podman() -> bool:
    """kind runs its nodes in podman (KIND_EXPERIMENTAL_PROVIDER=podman, or podman and no docker here)."""
    return commands.engine() == "podman"


def _select(choice: str | None) -> list[versions.NodeImage]:
    """The node images of --k8s-version: the versions table's on docker, images built here on podman."""
    return kind_podman.node_images(choice) if _podman() else versions.select(choice)


def _default_targets(targets: Targets) -> bool:
    return (targets.ip, targets.name, targets.url) == (DEFAULT_TARGET_IP, DEFAULT_TARGET_NAME, None)


def _read(options: RunOptions) -> KindOptions:
    defaults = {option.flag: option.default for option in OPTIONS}
    return read_options(lambda flag: options.get(flag, defaults[flag]))


class KindProvider:
    name = "kind"
    debian_packages = False

    def options(self) -> Sequence[Option]:
        return OPTIONS

    def prerequisites(self, options: RunOptions) -> list[str]:
        """kind, docker (daemon answering, buildx) or podman, and kubectl; empty when the kind provider can run."""
        return versions.problems() + tool_problems()

    def variants(self, options: RunOptions) -> list[str]:
        """The Kubernetes minors this run covers (--k8s-version): the suite runs once per entry."""
        opts = _read(options)
        chosen = _select(opts.k8s_version)
        problems = option_problems(opts, len(chosen)) + versions.problems()
        if problems:
            raise ValueError("; ".join(problems))
        return [entry.minor for entry in chosen]

    @contextmanager
    def open(self, options: RunOptions, variant: str | None = None) -> Iterator[KindBackend]:
        opts = _read(options)
        podman = _podman()
        image = _select(variant or opts.k8s_version)[0]
        watcher = options.watcher or NullWatcher()
        minor = image.minor
        kind = commands.kind_binary()
        patches: list[str] = []
        release_bin: Path | None = None
        if podman:
            kind_podman.prepare_environment()
            kind = kind_podman.kind_binary()
            image = versions.NodeImage(minor, kind_podman.build_node_image(minor), image.source)
            patches = kind_podman.kubeadm_patches(minor)
            release_bin = kind_podman.kube_bin(minor)
        found = run_process(commands.kind_version(kind), timeout=30)
        watcher.record(minor, image=image.image, kind=found.stdout.strip() if found.rc == 0 else f"{kind} (no version)")
        workdir = Path(tempfile.mkdtemp(prefix="cniqs-kind-"))
        cluster: kind_cluster.Cluster | None = None
        backend: KindBackend | None = None
        target: kind_podman.Target | None = None
        failed = False
        notes: list[str] = []
        # kind makes its podman network on the first create and keeps it: the last cni-quickstart run out
        # removes it if one of them made it (kind_podman.creating_on_network, leave_network).
        network = kind_podman.kind_network() if podman else ""
        # On podman, the release's kubectl (built with its node image) first on PATH while the cluster is open.
        restore_path = pathenv.prepend(release_bin) if release_bin is not None else (lambda: None)
        try:
            if opts.reuse_cluster:
                cluster = kind_cluster.reuse(run_process, kind, opts.reuse_cluster, workdir)
            else:
                cluster = kind_cluster.prepare(kind, kind_cluster.cluster_name(minor), workdir)
                watcher.record(minor, cluster=cluster.name)
                with kind_podman.creating_on_network(run_process, network) if podman else nullcontext():
                    kind_cluster.create(run_process, cluster, image.image, opts.workers, opts.ip_family, patches)
            watcher.record(minor, cluster=cluster.name + ("" if cluster.created else " (reused)"))
            targets = opts.targets
            if podman and _default_targets(targets):
                # No internet here: the pods reach a web server container on kind's network instead.
                target = kind_podman.start_target(run_process, cluster.name)
                targets = target.targets
                # Its name is in podman's DNS zone, which only the kind network's DNS server knows.
                servers = coredns.forward_zone(
                    run_process, str(cluster.kubeconfig), kind_podman.PODMAN_DNS_DOMAIN, kind_podman.kind_network()
                )
                watcher.record(
                    minor,
                    targets=f"{target.name} {target.ip} ({kind_podman.PODMAN_DNS_DOMAIN} from {' '.join(servers)})",
                )
            targets = egress.select(
                opts.egress_mode, targets, lambda: egress.network_gateway(run_process, commands.engine(), os.environ)
            )
            watcher.note(minor, f"connectivity ({opts.egress_mode}): {egress.describe(targets)}")
            pod_image = opts.pod_image
            if podman and pod_image == DEFAULT_POD_IMAGE:
                pod_image = local_images.TEST_IMAGE  # preloaded in the node image: nothing can be pulled here
            backend = KindBackend(
                run_process, cluster, targets, pod_image, rebuild=opts.rebuild,
                access=commands.access(commands.engine()),
                build_plugin=kind_podman.build_plugin if podman else None,
            )  # fmt: skip
            watcher.opened(minor, backend, opts.artifacts / cluster.name)
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
            watcher.closed(minor)
            try:
                if cluster is not None and (failed or watcher.failed(minor)):
                    artifacts = _collect(kind, cluster, backend, opts.artifacts / cluster.name)
                    watcher.record(minor, artifacts=artifacts)
                    options.say(f"\ncni-quickstart kind: diagnostics for Kubernetes {minor} in {artifacts}")
                _teardown(cluster, backend, keep=opts.keep, notes=notes)
            except Exception as exc:
                # Never hide the failure that brought us here behind a teardown error.
                notes.append(f"teardown failed: {exc}")
                if not failed:
                    raise
            finally:
                try:
                    if target is not None:
                        kind_podman.stop_target(run_process, target.name)
                    if podman and not opts.reuse_cluster and not opts.keep:
                        note = kind_podman.leave_network(run_process, network)
                        if note:
                            notes.append(note)
                    for note in notes:
                        watcher.note(minor, note)
                finally:
                    if cluster is None or not (cluster.created and opts.keep):
                        shutil.rmtree(workdir, ignore_errors=True)
                    restore_path()

    # the cniqs tool: one one-node cluster, kept between commands

    def up(self, options: RunOptions, *, name: str, workdir: Path) -> State:
        podman = _podman()
        mode = options.get(EGRESS, egress.INTERNET)
        if mode not in egress.MODES:
            raise Refused(f"{EGRESS} {mode!r}: use one of {', '.join(egress.MODES)}")
        kind = commands.kind_binary()
        if podman:
            kind_podman.prepare_environment()
            kind = kind_podman.kind_binary()
        if not kind_cluster.valid_name(name):
            raise Refused(f"{name!r} is not a valid kind cluster name: use lower-case letters, digits and '-'")
        if name in kind_cluster.existing_clusters(run_process, kind):
            raise Refused(
                f"a kind cluster named {name} exists already: delete it (kind delete cluster --name {name}) "
                "or pick another name with --name"
            )
        workdir.mkdir(parents=True, exist_ok=True)
        cluster = kind_cluster.prepare(kind, name, workdir)
        extra: dict[str, str] = {}
        network = ""
        patches: list[str] = []
        if podman:
            # No registry here: the node image is built on this machine (cached), as for tox -e e2e.
            minor = kind_podman.node_images(None)[0].minor
            image = kind_podman.build_node_image(minor)
            patches = kind_podman.kubeadm_patches(minor)
            network = kind_podman.kind_network()
            extra = {"engine": "podman", "network": network, "kube_bin": str(kind_podman.kube_bin(minor))}
        else:
            image = versions.select("")[0].image
        state = State("kind", name, kubeconfig=str(cluster.kubeconfig), kind=kind, image=image, extra=extra)
        try:
            # One node, as in the workshop: the control plane runs the pods (they tolerate its taint).
            with kind_podman.creating_on_network(run_process, network) if podman else nullcontext():
                kind_cluster.create(run_process, cluster, image, 0, "ipv4", patches)
            if podman:
                # No internet here: the demo pod pings and fetches a web server container on kind's network.
                target = kind_podman.start_target(run_process, name)
                extra.update(target=target.name, target_ip=target.ip)
                coredns.forward_zone(
                    run_process, str(cluster.kubeconfig), kind_podman.PODMAN_DNS_DOMAIN, kind_podman.kind_network()
                )
            if mode == egress.CI:  # read once, now: a network without a gateway fails `up`, not a later reveal
                gateway = egress.network_gateway(run_process, commands.engine(), os.environ)
                extra.update(egress=mode, egress_gateway=gateway)
        except BaseException:
            self.destroy(state)
            raise
        return state

    def attach(self, state: State) -> KindBackend:
        if not Path(state.kubeconfig).is_file():
            raise NodeGone(f"the kubeconfig {state.kubeconfig} of kind cluster {state.id} is gone: run `cniqs down`")
        cluster = kind_cluster.Cluster(state.id, Path(state.kubeconfig), True, state.kind or "kind")
        if state.extra.get("engine") != "podman":
            targets = cli_targets(state.extra, CLI_TARGETS)
            return KindBackend(run_process, cluster, targets, CLI_POD_IMAGE, namespace=POD_NAMESPACE)
        kind_podman.prepare_environment()
        if Path(state.extra.get("kube_bin") or "/nonexistent").is_dir():
            pathenv.prepend(state.extra["kube_bin"])  # this process only: the release's kubectl
        targets = cli_targets(state.extra, kind_podman.Target(state.extra["target"], state.extra["target_ip"]).targets)
        return KindBackend(
            run_process, cluster, targets, local_images.TEST_IMAGE, namespace=POD_NAMESPACE,
            access=commands.PODMAN, build_plugin=kind_podman.build_plugin,
        )  # fmt: skip

    def destroy(self, state: State) -> list[str]:
        kind = state.kind or "kind"
        podman = state.extra.get("engine") == "podman"
        notes: list[str] = []
        if podman:
            kind_podman.prepare_environment()
        try:
            if state.id in kind_cluster.existing_clusters(run_process, kind):
                kind_cluster.Cluster(state.id, Path(state.kubeconfig), True, kind).delete(run_process)
        finally:
            if podman and state.extra.get("target"):
                kind_podman.stop_target(run_process, state.extra["target"])
            note = None
            if podman and state.extra.get("network"):
                note = kind_podman.leave_network(run_process, state.extra["network"])
            elif podman and state.extra.get("own_network"):  # a state written before the network marks
                note = kind_podman.remove_network(run_process, "kind")
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
        first = "builds the node image here" if _podman() else "pulls the node image"
        return f"Creating kind cluster {name} with its own kubeconfig (the first time {first})"

    def hints(self, state: State) -> list[str]:
        found = [f"  kubectl:  export KUBECONFIG={state.kubeconfig}"]
        if state.extra.get("kube_bin"):  # podman: the release's own kubectl, built with its node image
            found.append(f"            export PATH={state.extra['kube_bin']}:$PATH")
        return found


def _collect(kind: str, cluster: kind_cluster.Cluster, backend: KindBackend | None, dest: Path) -> Path:
    nodes = list(backend.nodes) if backend is not None else _nodes(cluster)
    return collect(
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
        result = run(commands.kind_export_logs(kind, cluster, str(dest / "kind-logs")), timeout=600)
        if result.rc != 0:
            (dest / "kind-export-logs.err").write_text(result.stderr)
    return dest


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
                f"delete with: {' '.join(commands.kind_delete(cluster.kind, cluster.name, str(cluster.kubeconfig)))}"
            )

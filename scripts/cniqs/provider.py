"""The interface every provider implements, and the one the cniqs tool and the e2e tests are written against.

A Provider (local, kube or kind: cniqs.providers) brings a Backend up (for a test session, for one demo,
or kept between cniqs commands), finds a kept one again and destroys it. A Backend is one node or cluster
(one local containerd node, a kube cluster of local containerd nodes, or a kind cluster) that can install
and uninstall the plugin, run pods and look at them from the runtime's side and from inside. Callers only
use what is declared here; each provider maps it onto its own tools. Providers never import the cniqs tool
or the tests.
"""

from __future__ import annotations

import ipaddress
import os
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from cniqs.common.beliefs import Belief


@dataclass(frozen=True)
class Pod:
    """A running pod. `node` names where it runs; `handle` is backend-private (sandbox id, ...)."""

    namespace: str
    name: str
    node: str
    handle: Any = None


@dataclass(frozen=True)
class ExecResult:
    rc: int
    stdout: str
    stderr: str


@dataclass(frozen=True)
class Targets:
    """What connectivity checks reach from a pod: an address that answers ping, a name, an HTTP(S) URL.

    ping_name False: ICMP to the name is dropped on the way (a GitHub-hosted runner's NAT), so the
    name is proven reachable by resolving it and fetching url over TCP instead; url is then required.
    """

    ip: str
    name: str
    url: str | None = None
    name_ip: str | None = None  # what `name` must resolve to, where the backend knows (its own DNS)
    ping_name: bool = True

    def __post_init__(self) -> None:
        if not self.ping_name and not self.url:
            raise ValueError(f"{self.name} is not pinged, so a URL must prove it is reachable")


@dataclass(frozen=True)
class Probe:
    """One connectivity check run in a pod: what it proves, which tool (ping, nslookup, wget), its argv."""

    what: str
    tool: str
    argv: list[str]


def probes(targets: Targets) -> list[Probe]:
    """The connectivity checks for targets, in order; every one must pass."""
    ping = ["ping", "-c", "1", "-W", "3"]
    found = [
        Probe(f"ping {targets.ip}", "ping", [*ping, targets.ip]),
        Probe(f"resolve {targets.name}", "nslookup", ["nslookup", targets.name]),
    ]
    if targets.ping_name:
        found.append(Probe(f"ping {targets.name}", "ping", [*ping, targets.name]))
    if targets.url:
        found.append(Probe(f"fetch {targets.url}", "wget", ["wget", "-q", "-O", "-", targets.url]))
    return found


@dataclass(frozen=True)
class ChainVariant:
    """A variant of kindnet's chain for the base conflist (the one the plugin is installed on top of).

    The default is what kindnetd writes: cniVersion 0.3.1, IPv4 only.
    """

    cni_version: str = "0.3.1"
    dual_stack: bool = False


@dataclass(frozen=True)
class PodView:
    """Everything a failing test should show about a pod."""

    pod: Pod
    reported: list[str] = field(default_factory=list)
    real: list[str] = field(default_factory=list)
    notes: str = ""


class Backend(Protocol):
    """One node or cluster that is up, as the tests and the cniqs tool use it (see the module's docstring).

    name: the provider's (local, kube, kind); targets: what its connectivity checks reach; nodes: its node
    names. Local has one node and no Kubernetes (install_daemonset is Refused); kube and kind share the
    Kubernetes layer (cniqs.providers.cluster.backend.ClusterBackend) and differ in how a node is reached.
    """

    name: str
    nodes: Sequence[str]

    @property
    def targets(self) -> Targets:
        """What the connectivity checks reach (ready to be reached once read)."""
        ...

    def close(self) -> None:
        """Let go of the backend's connections; whatever runs keeps running (teardown is the provider's)."""

    def pods(self) -> list[Pod]:
        """The pods this backend runs (in its namespace), by name."""

    def find_pod(self, name: str) -> Pod | None: ...

    def how_to_poke(self) -> str:
        """Lines that tell a user how to look at the node or cluster by hand."""

    def install_daemonset(self, entry: dict[str, Any] | None = None) -> str:
        """Install with the installer DaemonSet (cniqs.providers.cluster.daemonset) on every node; return the image
        it runs. Refused (cniqs.common.errors.Refused) where there is no Kubernetes."""

    def uninstall_daemonset(self) -> None:
        """Delete the DaemonSet and wait until its pods removed what they added."""

    def active_chain(self, node: str) -> dict[str, Any]:
        """The chain cni-quickstart is (or would be) derived from on node (InstallError when there is none)."""

    def install(self, entry: dict[str, Any]) -> None:
        """Install the plugin with this chain entry on every node; return once every runtime loaded it."""

    def uninstall(self) -> None:
        """Remove only what install added, on every node; return once every runtime loaded the old chain."""

    def run_pod(self, name: str, *, node: str | None = None, command: Sequence[str] = ("sleep", "infinity")) -> Pod:
        """Start a pod running command in the test image and wait until it runs."""

    def delete_pod(self, pod: Pod) -> None: ...

    def reported_views(self, pod: Pod) -> dict[str, list[str]]:
        """Every place the backend can read the pod's reported IPs from, each primary first.

        Local: {"PodSandboxStatus": [...]}. Kube and kind: {"status.podIPs": [...], "kubectl describe": [...],
        "crictl inspectp": [...]}. Tests assert that every view shows the same addresses.
        """

    def reported_ips(self, pod: Pod) -> list[str]:
        """The first of reported_views alone, in one read (no kubectl or crictl): what a test that checks many
        pods at once compares, where the views' agreement is another test's."""

    def exec(self, pod: Pod, argv: Sequence[str], timeout: float = 30) -> ExecResult: ...

    def beliefs(self, pod: Pod) -> list[Belief]:
        """Every place that keeps an address for the pod, read back (cniqs.common.beliefs); a line this
        backend cannot have is listed with available=False and the reason."""

    def pod_cidrs(self, node: str) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
        """The node's pod CIDRs: real pod addresses come from these."""

    def plugin_log(self, node: str) -> list[dict[str, Any]]:
        """The plugin's JSON-lines log records on a node (empty if none)."""

    def diagnostics(self) -> str:
        """Runtime and plugin log tails, for a failing test's report."""

    def use_base_chain(self, variant: ChainVariant | None) -> None:
        """Make kindnet's chain in this variant the active base chain on every node (None: the cluster's own).

        Called while the plugin is not installed; returns once every runtime loaded the chain, and
        pod_cidrs() reflects it. A backend that cannot run a variant raises NotImplementedError with
        the reason (the tests skip with it).
        """


def adds_for(records: Iterable[dict[str, Any]], pod: Pod) -> list[dict[str, Any]]:
    """The plugin's successful ADD records for a pod, from its log (Backend.plugin_log)."""
    return [
        r
        for r in records
        if r.get("command") == "ADD"
        and r.get("podName") == pod.name
        and r.get("podNamespace") == pod.namespace
        and "error" not in r
    ]


def primary(views: dict[str, list[str]]) -> list[str]:
    """The first view's addresses: the one a backend lists first is what kubelet would copy."""
    return next(iter(views.values()), [])


def _stderr(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


@dataclass(frozen=True)
class Option:
    """One command-line option of a provider (the e2e suite's pytest plugin adds them to pytest)."""

    flag: str
    help: str
    default: Any = None
    action: str | None = None
    type: Callable[[str], Any] | None = None
    choices: Sequence[str] | None = None
    metavar: str | None = None
    env: str | None = None  # an environment variable that, when set, replaces the default

    def initial(self, environ: Mapping[str, str] | None = None) -> Any:
        """The value before the command line: $env when set (converted as the option converts), else default."""
        value = (os.environ if environ is None else environ).get(self.env or "", "")
        if not self.env or not value:
            return self.default
        return self.type(value) if self.type is not None else value


class Watcher(Protocol):
    """What a test run follows of each backend a provider opens for it, per variant (kind: per version)."""

    def record(self, variant: str, **facts: Any) -> None:
        """Facts for the run's summary: image, cluster, artifacts."""

    def note(self, variant: str, text: str) -> None: ...

    def opened(self, variant: str, backend: Any, artifacts: Path) -> None:
        """The backend is up: a failing test may collect its diagnostics into artifacts."""

    def closed(self, variant: str) -> None: ...

    def failed(self, variant: str) -> bool:
        """Whether any test failed on this variant (diagnostics are collected before teardown)."""


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


@dataclass(frozen=True)
class RunOptions:
    """The values of a provider's options (by flag), where its notices go, who watches the run."""

    values: Mapping[str, Any] = field(default_factory=dict)
    say: Callable[[str], None] = _stderr
    watcher: Watcher | None = None

    def get(self, dest: str, default: Any = None) -> Any:
        value = self.values.get(dest)
        return default if value is None else value


@dataclass(frozen=True)
class State:
    """A node or cluster a provider's up() left running, as the cniqs tool saves it between commands
    (cniqs.cli.state: a JSON file of these fields).

    provider: the name of the provider that made it (local, kube, kind). id: the local run id, or the kube or
    kind cluster name. Local: root is the run root, image the pods' image. Kube: root is the cluster's state
    root, image the pods' image, kubeconfig the cluster's own, extra its bin dir ("bin") and minor. Kind:
    kubeconfig is the cluster's own, kind the kind binary used, image the node image, extra the engine,
    network, mirror, pod image, connectivity targets and egress mode (and the egress gateway in ci mode).
    """

    provider: str
    id: str
    root: str = ""
    image: str = ""
    kubeconfig: str = ""
    kind: str = ""
    extra: dict[str, str] = field(default_factory=dict)


class Provider(Protocol):
    """One kind of node or cluster: how to bring it up, use it and tear it down."""

    name: str
    # Missing prerequisites may be Debian packages of .ci/apt-packages.txt (the cniqs tool installs them).
    debian_packages: bool

    def options(self) -> Sequence[Option]:
        """Its command-line options (the e2e suite's)."""

    def prerequisites(self, options: RunOptions) -> list[str]:
        """What keeps it from running here, in words (empty: it can run)."""

    def variants(self, options: RunOptions) -> list[str]:
        """The variants a test run covers, each opened once (kind: Kubernetes versions); [] for none.

        ValueError with the reason when the options ask for something impossible.
        """

    def open(self, options: RunOptions, variant: str | None = None) -> AbstractContextManager[Backend]:
        """A backend for a test session: up, yielded, torn down on exit."""

    def temporary(self, options: RunOptions, *, name: str, workdir: Path) -> AbstractContextManager[Backend]:
        """A backend for one demo run, torn down on the way out (also on errors and Ctrl-C)."""

    def up(self, options: RunOptions, *, name: str, workdir: Path) -> State:
        """Bring a node or cluster up that outlives this process."""

    def attach(self, state: State) -> Backend:
        """The backend of a kept node or cluster (NodeGone when it is not running any more)."""

    def destroy(self, state: State) -> list[str]:
        """Tear a kept node or cluster down; return what could not be cleaned up."""

    def describe(self, state: State) -> str: ...

    def up_message(self, name: str) -> str:
        """What bringing one up does, in a few words."""

    def hints(self, state: State) -> list[str]:
        """Lines for the user once it is up (how to reach it by hand)."""

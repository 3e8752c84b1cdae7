"""`cniqs reveal POD`: what the runtime and Kubernetes report about a pod, next to what it really has.

Four sources, side by side: the reported IPs (every view the backend has), the real eth0 address
(`ip a s eth0` inside the pod), the plugin's own log record of that pod, and connectivity checks
run from the pod. Backend-neutral: only cniqs.provider.Backend is used.
"""

from __future__ import annotations

import ipaddress
from dataclasses import asdict, dataclass, field
from typing import Any

from cniqs.common.beliefs import Belief
from cniqs.common.ipaddr import parse_ip_addr
from cniqs.provider import Backend, Pod, adds_for, primary, probes

# Only fakes in these ranges are ever sent a packet: any other fake (the demo's 1.2.3.0) belongs to someone.
DOCUMENTATION = tuple(
    ipaddress.ip_network(n) for n in ("192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24", "2001:db8::/32")
)

# What each backend view is, in words a newcomer can follow.
VIEW_LABELS = {
    "PodSandboxStatus": "containerd reports (CRI PodSandboxStatus, what kubelet copies)",
    "status.podIPs": "Kubernetes reports (pod status.podIPs)",
    "kubectl describe": "kubectl describe pod (IP:)",
    "crictl inspectp": "containerd reports (crictl inspectp)",
}


@dataclass(frozen=True)
class Check:
    name: str
    argv: list[str]
    ok: bool
    detail: str


@dataclass
class Reveal:
    provider: str
    namespace: str
    pod: str
    node: str
    reported: dict[str, list[str]]
    real: list[str]
    pod_cidrs: list[str]
    real_in_pod_cidr: bool
    plugin_log: dict[str, Any] | None
    checks: list[Check] = field(default_factory=list)
    ip_a: str = ""
    beliefs: list[Belief] = field(default_factory=list)
    peer: list[Check] = field(default_factory=list)

    @property
    def reported_ips(self) -> list[str]:
        return next(iter(self.reported.values()), [])

    @property
    def real_ips(self) -> list[str]:
        return [a.split("/")[0] for a in self.real]

    @property
    def rewritten(self) -> bool:
        """Every view reports something, and none of it is one of the pod's real addresses."""
        views = list(self.reported.values())
        return bool(views) and all(views) and not any(ip in self.real_ips for v in views for ip in v)

    @property
    def connected(self) -> bool:
        return bool(self.checks) and all(c.ok for c in self.checks)

    @property
    def shows_the_trick(self) -> bool:
        """What the demo must show: a rewritten report, a real address from the pod CIDR, working network."""
        return self.rewritten and bool(self.real) and self.real_in_pod_cidr and self.connected

    def verdict(self) -> str:
        reported = ", ".join(self.reported_ips) or "nothing"
        real = ", ".join(self.real_ips) or "no address"
        ok = sum(c.ok for c in self.checks)
        conn = f"{ok}/{len(self.checks)} connectivity checks ok"
        if self.rewritten:
            return (
                f"the runtime reports {reported}, but eth0 really is {real}: "
                f"the CNI result was rewritten, the network was not; {conn}"
            )
        if set(self.reported_ips) & set(self.real_ips):
            return (
                f"the runtime reports the real address {reported}: cni-quickstart did not rewrite this pod "
                f"(not installed, or the pod started before install); {conn}"
            )
        return f"the runtime reports {reported}, eth0 has {real}; {conn}"

    def as_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["reported_primary"] = self.reported_ips
        data["rewritten"] = self.rewritten
        data["connected"] = self.connected
        data["shows_the_trick"] = self.shows_the_trick
        data["verdict"] = self.verdict()
        return data


def _first(text: str, starts: str) -> str:
    return next((ln.strip() for ln in text.splitlines() if ln.strip().startswith(starts)), "")


def _detail(kind: str, rc: int, stdout: str, stderr: str) -> str:
    lines = [ln.strip() for ln in (stdout + "\n" + stderr).splitlines() if ln.strip()]
    if kind == "ping":
        return _first(stdout, "64 bytes from") or (lines[-1] if lines else f"exit {rc}")
    if kind == "nslookup":
        # busybox prints the server first, then "Name: x" and "Address: y" (or "Address 1: y").
        after = stdout.split("Name:", 1)[1] if "Name:" in stdout else ""
        address = _first(after, "Address")
        return address.split(":", 1)[1].strip() if ":" in address else (lines[-1] if lines else f"exit {rc}")
    if kind == "wget":
        return f"fetched {len(stdout.encode())} bytes" if rc == 0 else (lines[-1] if lines else f"exit {rc}")
    return lines[-1] if lines else f"exit {rc}"


def connectivity(backend: Backend, pod: Pod) -> list[Check]:
    """The backend targets' checks (cniqs.provider.probes), the same ones the e2e suite runs."""
    checks = []
    for probe in probes(backend.targets):
        try:
            result = backend.exec(pod, probe.argv, timeout=20)
            ok, detail = result.rc == 0, _detail(probe.tool, result.rc, result.stdout, result.stderr)
        except Exception as exc:  # noqa: BLE001 - one failed check is a result, not a crash
            ok, detail = False, f"could not run: {exc}"
        checks.append(Check(probe.what, probe.argv, ok, detail))
    return checks


def plugin_record(backend: Backend, pod: Pod) -> dict[str, Any] | None:
    """The plugin's last successful ADD record for this pod."""
    adds = adds_for(backend.plugin_log(pod.node), pod)
    return adds[-1] if adds else None


def _is_documentation(address: str) -> bool:
    ip = ipaddress.ip_address(address)
    return any(ip in net for net in DOCUMENTATION if net.version == ip.version)


def _ping(backend: Backend, pod: Pod, address: str, argv: list[str]) -> tuple[bool, str]:
    result = backend.exec(pod, argv, timeout=20)
    return result.rc == 0, _detail("ping", result.rc, result.stdout, result.stderr)


def peer_reach(backend: Backend, pod: Pod, real: list[str], fakes: list[str]) -> list[Check]:
    """What a second pod actually reaches: the pod's real address, and a fake one only where the fake is a
    documentation address (no one's host), so the check never sends a packet to a stranger."""
    peer = backend.run_pod(f"{pod.name}-peer"[:63], node=pod.node)
    try:
        checks = []
        for address in real:
            argv = ["ping", "-c", "1", "-W", "3", address]
            ok, detail = _ping(backend, peer, address, argv)
            checks.append(Check(f"peer -> {address} (real)", argv, ok, detail))
        for address in fakes:
            name = f"peer -> {address} (reported)"
            if not _is_documentation(address):
                checks.append(Check(name, [], True, "not sent: a routable address that belongs to someone else"))
                continue
            argv = ["ping", "-c", "1", "-W", "2", "-t", "2", address]
            answered, _ = _ping(backend, peer, address, argv)
            detail = "answered: something else has this address" if answered else "no answer: nobody is there"
            checks.append(Check(name, argv, not answered, detail))
        return checks
    finally:
        backend.delete_pod(peer)


def gather(backend: Backend, pod: Pod, checks: bool = True) -> Reveal:
    reported = backend.reported_views(pod)
    shown = backend.exec(pod, ["ip", "a", "s", "eth0"], timeout=15)
    if shown.rc != 0:
        raise RuntimeError(f"`ip a s eth0` failed in pod {pod.name}: {(shown.stderr or shown.stdout).strip()}")
    real = parse_ip_addr(shown.stdout)
    cidrs = backend.pod_cidrs(pod.node)
    inside = bool(real) and all(any(ipaddress.ip_interface(a).ip in net for net in cidrs) for a in real)
    return Reveal(
        provider=backend.name,
        namespace=pod.namespace,
        pod=pod.name,
        node=pod.node,
        reported=reported,
        real=real,
        pod_cidrs=[str(c) for c in cidrs],
        real_in_pod_cidr=inside,
        plugin_log=plugin_record(backend, pod),
        checks=connectivity(backend, pod) if checks else [],
        ip_a=shown.stdout,
        beliefs=backend.beliefs(pod),
        peer=peer_reach(backend, pod, [a.split("/")[0] for a in real], primary(reported)) if checks else [],
    )


def _table(rows: list[tuple[str, str]], indent: str = "  ") -> list[str]:
    width = max((len(a) for a, _ in rows), default=0)
    return [f"{indent}{a.ljust(width)}  {b}".rstrip() for a, b in rows]


def _belief(b: Belief, real: list[str]) -> str:
    if not b.available:
        return f"-   ({b.how})"
    shows = ", ".join(b.shows) or "nothing"
    if not b.shows:
        kind = "holds no address"
    elif set(b.shows) & set(real):
        kind = "the real address"
    else:
        kind = "the fake"
    return f"{shows}   {kind}"


def render(r: Reveal) -> str:
    rows: list[tuple[str, str]] = []
    for view, ips in r.reported.items():
        rows.append((VIEW_LABELS.get(view, f"reported by {view}"), ", ".join(ips) or "-"))
    cidrs = ", ".join(r.pod_cidrs)
    where = f"in the node's pod CIDR {cidrs}" if r.real_in_pod_cidr else f"NOT in the node's pod CIDR {cidrs}"
    rows.append(("the pod really has (ip a s eth0)", f"{', '.join(r.real) or '-'}   {where}"))
    if r.plugin_log is None:
        rows.append(("cni-quickstart logged", "no ADD record for this pod"))
    else:
        rec = r.plugin_log
        took = f", {rec['durationMs']:g} ms" if isinstance(rec.get("durationMs"), (int, float)) else ""
        real_logged = ", ".join(rec.get("real") or []) or "-"
        fake_logged = ", ".join(rec.get("reported") or []) or "-"
        rows.append(("cni-quickstart logged", f"real {real_logged} -> reported {fake_logged} (ADD{took})"))
    lines = [f"Pod {r.namespace}/{r.pod} on node {r.node} (provider {r.provider})", ""]
    lines += _table(rows)
    if r.beliefs:
        lines += ["", "  Who believes it (each read back from where it is kept)"]
        lines += _table([(b.who, _belief(b, r.real_ips)) for b in r.beliefs], indent="    ")
        lines += _table([("and what the pod really has: ip a s eth0", ", ".join(r.real_ips) or "-")], indent="    ")
    if r.peer:
        lines += ["", "  What a peer pod actually reaches"]
        lines += _table([(("ok  " if c.ok else "FAIL") + "  " + c.name, c.detail) for c in r.peer], indent="    ")
    if r.checks:
        lines += ["", "  Connectivity from the pod"]
        lines += _table([(("ok  " if c.ok else "FAIL") + "  " + c.name, c.detail) for c in r.checks], indent="    ")
    lines += ["", f"Verdict: {r.verdict()}."]
    return "\n".join(lines)

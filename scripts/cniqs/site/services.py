"""The site's services: a network namespace that plays the site's own hosts, and a Docker engine.

The namespace (NETNS) is reached from the host through a veth pair (HOST_ADDR <-> SITE_ADDR), and from kind's
nodes through the host (they route to it like to any host beyond their network). In it run:
- a registry (Debian's docker-registry, distribution 2.8) on SITE_ADDR:5000, plain HTTP, its storage in the
  user's cache so pushed images survive a restart;
- a DNS server (dnsmasq) that answers the site's zone (ZONE: TARGET_NAME -> SITE_ADDR) and nothing else;
- a web server (busybox httpd) on SITE_ADDR:80: with SITE_ADDR, what the suite's connectivity checks reach.

dockerd (Debian's docker.io) runs on the host with the site's registry as an insecure registry and the runc
wrapper of cniqs.site.runtime as its default runtime. Every process started is recorded in STATE (pid and
command line); `down` stops exactly those, then removes the namespace and the veth. dockerd's own state
(/var/lib/docker, its iptables chains and FORWARD policy DROP) stays as dockerd leaves it, as on any host.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from cniqs.common import procs
from cniqs.common.cache import cache_root

NETNS = "cniqs-site"
HOST_IF = "cniqs-site0"
SITE_IF = "site0"
HOST_ADDR = "198.18.77.1"
SITE_ADDR = "198.18.77.2"
PREFIX = 30
REGISTRY_PORT = 5000
REGISTRY = f"{SITE_ADDR}:{REGISTRY_PORT}"
ZONE = "cniqs.test"
TARGET_NAME = f"target.{ZONE}"
TARGET_PAGE = "<html><body><h1>cni-quickstart site target</h1></body></html>\n"
DOCKER_SOCKET = "/var/run/docker.sock"


class SiteError(RuntimeError):
    pass


def site_dir() -> Path:
    return cache_root() / "site"


def state_file() -> Path:
    return site_dir() / "services.json"


def _say(msg: str) -> None:
    print(f"site: {msg}", file=sys.stderr, flush=True)


def _run(argv: list[str], what: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    if check and proc.returncode != 0:
        raise SiteError(f"{what} failed (exit {proc.returncode}): {' '.join(argv)}\n{proc.stderr.strip()}")
    return proc


@dataclass
class Service:
    name: str
    pid: int
    argv: list[str]
    log: str


def load() -> list[Service]:
    if not state_file().is_file():
        return []
    return [Service(**entry) for entry in json.loads(state_file().read_text())]


def _save(services: list[Service]) -> None:
    state_file().parent.mkdir(parents=True, exist_ok=True)
    state_file().write_text(json.dumps([s.__dict__ for s in services], indent=1) + "\n")


def _running(service: Service) -> bool:
    return procs.alive(service.pid) and procs.cmdline(service.pid).split()[:1] == service.argv[:1]


def registry_config(storage: Path) -> str:
    return (
        "version: 0.1\n"
        "log:\n  level: warn\n"
        f"storage:\n  filesystem:\n    rootdirectory: {storage}\n"
        f"http:\n  addr: {REGISTRY}\n"
    )


def dnsmasq_argv(pidfile: Path) -> list[str]:
    """Answers the site's zone from its own records (an IPv4 name: AAAA gets an empty answer, not an error);
    no upstream, no hosts file, nothing else."""
    return [
        "dnsmasq", "--keep-in-foreground", "--no-resolv", "--no-hosts", "--no-poll", "--bind-interfaces",
        f"--listen-address={SITE_ADDR}", f"--local=/{ZONE}/", f"--host-record={TARGET_NAME},{SITE_ADDR}",
        f"--pid-file={pidfile}", "--user=root",
        "--log-facility=-",
    ]  # fmt: skip


def runc_wrapper(folder: Path) -> Path:
    """An executable dockerd can run as its runtime: the system python3 on cniqs.site.runtime."""
    folder.mkdir(parents=True, exist_ok=True)
    wrapper = folder / "cniqs-runc"
    source = Path(__file__).with_name("runtime.py")
    wrapper.write_text(f'#!/bin/sh\nexec /usr/bin/python3 -I {source} "$@"\n')
    wrapper.chmod(0o755)
    return wrapper


def dockerd_argv(wrapper: Path, pidfile: Path) -> list[str]:
    return [
        "dockerd", f"--pidfile={pidfile}", f"--host=unix://{DOCKER_SOCKET}",
        f"--insecure-registry={REGISTRY}", f"--add-runtime=cniqs-runc={wrapper}", "--default-runtime=cniqs-runc",
    ]  # fmt: skip


def _start(name: str, argv: list[str], netns: bool) -> Service:
    log = site_dir() / f"{name}.log"
    full = ["ip", "netns", "exec", NETNS, *argv] if netns else argv
    with open(log, "ab") as out:
        proc = subprocess.Popen(full, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True)  # fmt: skip
    time.sleep(0.3)
    if proc.poll() is not None:
        raise SiteError(f"{name} exited at once ({proc.returncode}); its log: {log}\n{log.read_text()[-2000:]}")
    # `ip netns exec` execs the command: the pid is the service's own, its argv[0] the one given.
    return Service(name, proc.pid, argv, str(log))


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 (the site's own registry)
            return bool(response.status == 200)
    except OSError:
        return False


def _wait(what: str, probe: list[str] | str, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while True:
        if isinstance(probe, str):
            if _answers(probe):
                return
        elif subprocess.run(probe, capture_output=True, timeout=30).returncode == 0:
            return
        if time.monotonic() > deadline:
            raise SiteError(f"{what} did not come up within {seconds:.0f} s ({' '.join(probe)})")
        time.sleep(0.5)


def network_up() -> None:
    if _run(["ip", "netns", "list"], "list netns").stdout.split().count(NETNS) == 0:
        _run(["ip", "netns", "add", NETNS], "add netns")
    if _run(["ip", "link", "show", HOST_IF], "", check=False).returncode != 0:
        _run(["ip", "link", "add", HOST_IF, "type", "veth", "peer", "name", SITE_IF, "netns", NETNS], "add veth")
        _run(["ip", "addr", "add", f"{HOST_ADDR}/{PREFIX}", "dev", HOST_IF], "host address")
        _run(["ip", "link", "set", HOST_IF, "up"], "host link up")
        ns = ["ip", "-n", NETNS]
        _run([*ns, "addr", "add", f"{SITE_ADDR}/{PREFIX}", "dev", SITE_IF], "site address")
        _run([*ns, "link", "set", SITE_IF, "up"], "site link up")
        _run([*ns, "link", "set", "lo", "up"], "site lo up")
        _run([*ns, "route", "add", "default", "via", HOST_ADDR], "site default route")


def up(docker: bool = True) -> list[Service]:
    """Start what is not running yet; the services, as recorded."""
    if os.geteuid() != 0:
        raise SiteError("the site's services need root (network namespaces, dockerd)")
    for tool in ("docker-registry", "dnsmasq", "busybox", *(("dockerd",) if docker else ())):
        if shutil.which(tool) is None:
            raise SiteError(f"{tool} is not installed: apt-get install docker-registry dnsmasq-base busybox-static"
                            " docker.io")  # fmt: skip
    folder = site_dir()
    folder.mkdir(parents=True, exist_ok=True)
    Path("/lib/modules").mkdir(parents=True, exist_ok=True)  # kind bind-mounts it into every node
    services = [s for s in load() if _running(s)]
    running = {s.name for s in services}
    network_up()
    try:
        if "registry" not in running:
            storage = folder / "registry"
            storage.mkdir(exist_ok=True)
            config = folder / "registry.yml"
            config.write_text(registry_config(storage))
            services.append(_start("registry", ["docker-registry", "serve", str(config)], netns=True))
        if "dns" not in running:
            services.append(_start("dns", dnsmasq_argv(folder / "dnsmasq.pid"), netns=True))
        if "web" not in running:
            www = folder / "www"
            www.mkdir(exist_ok=True)
            (www / "index.html").write_text(TARGET_PAGE)
            argv = ["busybox", "httpd", "-f", "-p", f"{SITE_ADDR}:80", "-h", str(www)]
            services.append(_start("web", argv, netns=True))
        if docker and "dockerd" not in running:
            # dockerd turns IP forwarding on and, being the one that does, sets the FORWARD policy to DROP:
            # as on a user's host with Docker, podman's networks and the other tiers work beside that.
            wrapper = runc_wrapper(folder / "runtime")
            services.append(_start("dockerd", dockerd_argv(wrapper, folder / "dockerd.pid"), netns=False))
        else:
            # kind's nodes reach the site through this host (podman's netavark turns forwarding on too).
            Path("/proc/sys/net/ipv4/ip_forward").write_text("1\n")
    finally:
        _save(services)
    _wait("the registry", f"http://{REGISTRY}/v2/")
    if docker:
        _wait("dockerd", ["docker", "info"], 90)
    _say("up: " + ", ".join(f"{s.name} (pid {s.pid})" for s in services))
    return services


def down() -> list[str]:
    """Stop every recorded service, remove the namespace and the veth; what could not be stopped."""
    left: list[str] = []
    services = load()
    for service in reversed(services):
        if _running(service):
            os.kill(service.pid, signal.SIGTERM)
    for service in services:
        if procs.wait_gone([service.pid], 30 if service.name == "dockerd" else 10) and _running(service):
            procs.kill([service.pid])
            if procs.wait_gone([service.pid], 5):
                left.append(f"{service.name} (pid {service.pid})")
    _run(["ip", "link", "del", HOST_IF], "", check=False)
    _run(["ip", "netns", "del", NETNS], "", check=False)
    if not left:
        state_file().unlink(missing_ok=True)
    _say("down" + (f"; still running: {', '.join(left)}" if left else ""))
    return left

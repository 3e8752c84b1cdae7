"""Build real Kubernetes binaries (and the node tools the tiers need) with `go build` through the Go module proxy.

    python -m cniqs.toolchain.kubebin 1.35            # one pinned release
    python -m cniqs.toolchain.kubebin all             # every pinned release
    python -m cniqs.toolchain.kubebin tools           # crictl and containerd (shared by every release)
    python -m cniqs.toolchain.kubebin kind-tools      # etcd, CoreDNS and the kind CLI (kind node images)
    python -m cniqs.toolchain.kubebin node-1.34       # kubeadm and kube-proxy of one release (kind node images)

`k8s.io/kubernetes` cannot be built with `go install pkg@version`: its own go.mod replaces each
`k8s.io/*` staging module with a path inside its tree. So each release gets a small generated
wrapper module that requires `k8s.io/kubernetes` and pins every staging module to the matching
`v0.<minor>.<patch>` release instead. Outputs are cached per release and Go version in the user
cache dir (`$CNIQS_CACHE`, else `$XDG_CACHE_HOME/cniqs`, else `~/.cache/cniqs`); a second run
reuses them. Go's own module and build caches are the usual ones (`go env GOMODCACHE GOCACHE`).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from cniqs.common.cache import cache_root, entry_lock

# Kubernetes patch releases this project pins, newest first: the first is the default. Every kind-table
# minor that the module proxy serves is in this table too (tests/kube), so both tiers test the same Kubernetes.
KUBE_RELEASES: dict[str, str] = {
    "1.37": "v1.37.2",
    "1.36": "v1.36.3",
    "1.35": "v1.35.4",
    "1.34": "v1.34.4",
}
DEFAULT_MINOR = next(iter(KUBE_RELEASES))
# The Go module proxy serves k8s.io/kubernetes from 1.34 on: older kind-table minors cannot be built from it.
OLDEST_SERVED_MINOR = 34

KUBE_COMMANDS = ("kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubelet", "kubectl")


@dataclass(frozen=True)
class Tool:
    """A node tool built with `go build` from its own module at a pinned release."""

    name: str
    module: str
    version: str
    package: str
    tags: str = ""
    cgo: bool = False
    # Modules whose go.mod has replace directives (etcd) refuse `go install pkg@version`: build them from
    # a generated wrapper module that requires them, as for k8s.io/kubernetes.
    wrapped: bool = False
    # The Go source of a main package of our own, built in the wrapper module in place of package (CoreDNS: a
    # build with only the plugins a kind cluster uses).
    main: str = ""

    @property
    def stamp(self) -> str:
        """A cached build's version file: the version, and the digest of our own main when there is one."""
        digest = hashlib.sha256(self.main.encode()).hexdigest()[:12]
        return f"{self.version}+{digest}" if self.main else self.version


def coredns_main(plugins: Iterable[str]) -> str:
    """CoreDNS's main with only these plugins linked in (each registers itself in its package's init)."""
    imports = "".join(f'\t_ "github.com/coredns/coredns/plugin/{plugin}"\n' for plugin in sorted(plugins))
    runner = '"github.com/coredns/coredns/coremain"'
    return f"package main\n\nimport (\n\t{runner}\n\n{imports})\n\nfunc main() {{ coremain.Run() }}\n"


# crictl at the release kind's current node images ship; containerd 2.x as on kind's nodes (Debian's
# containerd 1.6 is older than any containerd that upstream pairs with Kubernetes >= 1.31).
CRICTL = Tool("crictl", "sigs.k8s.io/cri-tools", "v1.34.0", "sigs.k8s.io/cri-tools/cmd/crictl")
CONTAINERD = Tool(
    "containerd",
    "github.com/containerd/containerd/v2",
    "v2.2.9",
    "github.com/containerd/containerd/v2/cmd/containerd",
    tags="no_btrfs no_devmapper no_zfs",
    cgo=True,
)
CONTAINERD_SHIM = Tool(
    "containerd-shim-runc-v2",
    CONTAINERD.module,
    CONTAINERD.version,
    "github.com/containerd/containerd/v2/cmd/containerd-shim-runc-v2",
)
CTR = Tool("ctr", CONTAINERD.module, CONTAINERD.version, "github.com/containerd/containerd/v2/cmd/ctr")
TOOLS = (CRICTL, CONTAINERD, CONTAINERD_SHIM, CTR)

# What a kind node image needs on top of TOOLS and the kube commands: kubeadm and kube-proxy from the
# release, etcd and CoreDNS (one pinned build each, tagged with the image names `kubeadm config images list`
# asks for: kubeadm 1.37.2 asks for etcd 3.7.0-0 and CoreDNS v1.14.6 and gets these), and the kind CLI itself.
NODE_COMMANDS = ("kubeadm", "kube-proxy")
ETCD = Tool("etcd", "go.etcd.io/etcd/server/v3", "v3.6.5", "go.etcd.io/etcd/server/v3", wrapped=True)
# CoreDNS with the plugins of kubeadm's Corefile and of the zone block cniqs.providers.kind.coredns adds (plus
# log and hosts), in a main of our own as CoreDNS documents for a build with fewer plugins: the full command
# also compiles every cloud and tracing plugin (route53, azure, clouddns, tracing ...), half its build time.
COREDNS_PLUGINS = (
    "cache", "errors", "forward", "health", "hosts", "kubernetes", "loadbalance", "log", "loop", "metrics", "ready",
    "reload",
)  # fmt: skip
COREDNS = Tool(
    "coredns", "github.com/coredns/coredns", "v1.12.1", "github.com/coredns/coredns", main=coredns_main(COREDNS_PLUGINS)
)
# The versions table's kind release (cniqs.providers.kind.nodeimages.KIND_VERSION; tests/kind checks they agree),
# built the way the CI workflow installs it for Docker users: `go install` of its module.
KIND = Tool("kind", "sigs.k8s.io/kind", "v0.33.0", "sigs.k8s.io/kind")
KIND_NODE_TOOLS = (ETCD, COREDNS, KIND)


TIMINGS = "build-seconds.json"  # beside a release's bin dir: how long its cold build took, per step


def cold_build_seconds(minor: str) -> dict[str, float]:
    """The recorded timings of this release's last real build ({} when none was recorded)."""
    try:
        return dict(json.loads((kube_bin_dir(minor).parent / TIMINGS).read_text()))
    except (OSError, ValueError):
        return {}


class BuildError(RuntimeError):
    """A build step failed; the message names the step and the tail of its output."""


def go_version() -> str:
    go = shutil.which("go")
    if go is None:
        raise BuildError("no Go toolchain on PATH: install Go (https://go.dev/doc/install) to build Kubernetes")
    out = subprocess.run([go, "env", "GOVERSION"], check=True, capture_output=True, text=True).stdout.strip()
    return out or "unknown"


def release_for(minor: str) -> str:
    try:
        return KUBE_RELEASES[minor.removeprefix("v")]
    except KeyError:
        pinned = ", ".join(KUBE_RELEASES)
        raise BuildError(f"Kubernetes {minor} is not pinned here; pinned minors: {pinned}") from None


def staging_version(release: str) -> str:
    """v1.35.4 -> v0.35.4: the staging modules are tagged with the same minor and patch."""
    major, minor, patch = release.removeprefix("v").split(".")
    if major != "1":
        raise BuildError(f"unexpected Kubernetes release {release}")
    return f"v0.{minor}.{patch}"


def staging_modules(kubernetes_gomod: str) -> list[str]:
    """The module paths that k8s.io/kubernetes's go.mod replaces with a path in its own tree."""
    found = []
    for line in kubernetes_gomod.splitlines():
        left, arrow, right = line.partition("=>")
        if arrow and right.strip().startswith("./staging/"):
            path = left.strip().removeprefix("replace").strip().split()[0]
            found.append(path)
    return sorted(set(found))


def wrapper_gomod(release: str, go_directive: str, staging: Iterable[str]) -> str:
    """The wrapper module: requires k8s.io/kubernetes and pins each staging module to its tagged release."""
    pinned = staging_version(release)
    lines = [
        "module cniqs.local/kubebuild",
        "",
        f"go {go_directive}",
        "",
        f"require k8s.io/kubernetes {release}",
        "",
        "replace (",
    ]
    lines += [f"\t{path} => {path} {pinned}" for path in staging]
    lines += [")", ""]
    return "\n".join(lines)


def version_ldflags(release: str) -> str:
    """Stamp the release into the binaries, as Kubernetes' own build does, so nodes report it."""
    major, minor, _ = release.removeprefix("v").split(".")
    flags = ["-s", "-w"]
    for pkg in ("k8s.io/component-base/version", "k8s.io/client-go/pkg/version"):
        flags += [
            f"-X {pkg}.gitVersion={release}",
            f"-X {pkg}.gitMajor={major}",
            f"-X {pkg}.gitMinor={minor}",
            f"-X {pkg}.gitTreeState=clean",
        ]
    return " ".join(flags)


def _run(argv: Sequence[str], cwd: Path, log: Path, env: dict[str, str] | None = None) -> None:
    with log.open("ab") as out:
        out.write(("$ " + " ".join(argv) + "\n").encode())
        out.flush()
        proc = subprocess.run(argv, cwd=cwd, stdout=out, stderr=subprocess.STDOUT, env=env)
    if proc.returncode != 0:
        tail = log.read_text(errors="replace").splitlines()[-25:]
        raise BuildError(f"{' '.join(argv[:3])} ... failed (exit {proc.returncode}); log {log}:\n" + "\n".join(tail))


def _say(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def _go_env(cgo: bool) -> dict[str, str]:
    env = dict(os.environ)
    env["CGO_ENABLED"] = "1" if cgo else "0"
    env.setdefault("GOFLAGS", "-mod=mod")
    return env


def kube_bin_dir(minor: str) -> Path:
    """Where one release's binaries live (not built here; see build_kube)."""
    return cache_root() / "kube" / f"{release_for(minor)}-{go_version()}" / "bin"


def tools_bin_dir(goarch: str | None = None) -> Path:
    """The node tools' bin dir; goarch (a Go GOARCH such as arm64) for tools cross-built for another machine."""
    return cache_root() / "tools" / (go_version() if goarch is None else f"{go_version()}-linux-{goarch}") / "bin"


def _complete(bin_dir: Path, names: Iterable[str]) -> bool:
    return all((bin_dir / n).is_file() and os.access(bin_dir / n, os.X_OK) for n in names)


def build_kube(minor: str, commands: Sequence[str] = KUBE_COMMANDS) -> Path:
    """Build one pinned release's commands (cached); returns the bin dir."""
    release = release_for(minor)
    bin_dir = kube_bin_dir(minor)
    # One build of a release at a time: .ci/run's background builds and the kube tier may ask for it together.
    with entry_lock(bin_dir.parent):
        if _complete(bin_dir, commands):
            _say(f"kubebin: Kubernetes {release}: cached in {bin_dir}")
            return bin_dir
        return _build_kube(minor, release, bin_dir, commands)


def _build_kube(minor: str, release: str, bin_dir: Path, commands: Sequence[str]) -> Path:
    work = bin_dir.parent / "module"
    work.mkdir(parents=True, exist_ok=True)
    log = bin_dir.parent / "build.log"
    env = _go_env(cgo=False)
    started = time.monotonic()
    _say(f"kubebin: Kubernetes {release}: resolving modules (log {log})")
    _kube_module(release, commands, work, log, env)
    _say(f"kubebin: Kubernetes {release}: modules ready after {time.monotonic() - started:.0f} s; compiling")
    tmp = bin_dir.with_name("bin.partial")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    timings: dict[str, float] = {"modules": round(time.monotonic() - started, 1)}
    # One `go build` for all the commands: the scheduler keeps both cores busy across their shared packages,
    # and links one command while it compiles the next, where a build per command idled at each one's tail.
    t0 = time.monotonic()
    packages = [f"k8s.io/kubernetes/cmd/{command}" for command in commands]
    argv = ["go", "build", "-trimpath", "-ldflags", version_ldflags(release), "-o", f"{tmp}{os.sep}", *packages]
    _run(argv, work, log, env)
    timings["compile"] = round(time.monotonic() - t0, 1)
    _say(f"kubebin: Kubernetes {release}: {', '.join(commands)} built in {timings['compile']:.0f} s")
    _replace_bin_dir(tmp, bin_dir)
    timings["total"] = round(time.monotonic() - started, 1)
    _record_timings(minor, bin_dir, commands, timings)
    _say(f"kubebin: Kubernetes {release}: done in {time.monotonic() - started:.0f} s -> {bin_dir}")
    return bin_dir


def _kube_module(release: str, commands: Sequence[str], work: Path, log: Path, env: dict[str, str]) -> None:
    """A wrapper module in work that requires k8s.io/kubernetes at release (its staging modules replaced by
    their own versions), with every package the commands need downloaded."""
    info = subprocess.run(
        ["go", "mod", "download", "-json", f"k8s.io/kubernetes@{release}"],
        check=False,
        capture_output=True,
        text=True,
        env=env,
        cwd=work,
    )
    if info.returncode != 0:
        raise BuildError(f"the Go module proxy did not serve k8s.io/kubernetes@{release}: {info.stdout}{info.stderr}")
    meta = json.loads(info.stdout)
    upstream = Path(meta["GoMod"]).read_text()
    go_directive = next(
        (line.split()[1] for line in upstream.splitlines() if line.startswith("go ")),
        "1.24",
    )
    (work / "go.mod").write_text(wrapper_gomod(release, go_directive, staging_modules(upstream)))
    (work / "go.sum").touch()
    _run(["go", "mod", "download", "k8s.io/kubernetes"], work, log, env)
    # Each package at the release itself: a bare `go get` would move k8s.io/kubernetes to the newest release.
    _run(["go", "get", *(f"k8s.io/kubernetes/cmd/{c}@{release}" for c in commands)], work, log, env)


def _replace_bin_dir(tmp: Path, bin_dir: Path) -> None:
    """tmp becomes bin_dir, keeping the commands bin_dir had that this build did not make."""
    if bin_dir.exists():
        for old in bin_dir.iterdir():
            if not (tmp / old.name).exists():
                shutil.move(str(old), tmp / old.name)
        shutil.rmtree(bin_dir)
    tmp.rename(bin_dir)


def _record_timings(minor: str, bin_dir: Path, commands: Sequence[str], timings: dict[str, float]) -> None:
    recorded = cold_build_seconds(minor)
    if recorded and not set(commands) & set(KUBE_COMMANDS):
        # Only the node image's extra commands: keep the recorded cold build of the kube provider's commands.
        recorded[" + ".join(commands)] = timings["compile"]
        timings = recorded
    (bin_dir.parent / TIMINGS).write_text(json.dumps(timings, indent=2) + "\n")


def build_tools(tools: Sequence[Tool] = TOOLS, goarch: str | None = None) -> Path:
    """Build the node tools (cached); returns their bin dir. With goarch, cross-build them for linux/goarch
    (pure-Go tools only: a cgo tool would need a cross C toolchain)."""
    cross = [t.name for t in tools if t.cgo] if goarch else []
    if cross:
        raise BuildError(f"{', '.join(cross)} need cgo: they cannot be cross-built for {goarch} here")
    bin_dir = tools_bin_dir(goarch)
    bin_dir.mkdir(parents=True, exist_ok=True)
    log = bin_dir.parent / "build.log"
    for tool in tools:
        stamp = bin_dir / f".{tool.name}.version"
        if (bin_dir / tool.name).is_file() and stamp.is_file() and stamp.read_text() == tool.stamp:
            continue
        t0 = time.monotonic()
        _say(f"kubebin: building {tool.name} {tool.version} (log {log})")
        gobin = bin_dir.parent / "gobin"
        gobin.mkdir(exist_ok=True)
        env = _go_env(cgo=tool.cgo)
        env["GOBIN"] = str(gobin)
        if goarch:
            env.update(GOOS="linux", GOARCH=goarch)
        flags = ["-trimpath", "-ldflags", "-s -w"] + (["-tags", tool.tags] if tool.tags else [])
        if tool.wrapped or tool.main or goarch:  # `go install` refuses to put a cross-compiled binary in GOBIN
            work = bin_dir.parent / f"module-{tool.name}"
            shutil.rmtree(work, ignore_errors=True)
            work.mkdir(parents=True)
            (work / "go.mod").write_text(f"module cniqs.local/{tool.name}build\n\ngo 1.24\n")
            if tool.main:
                (work / "main.go").write_text(tool.main)
            _run(["go", "get", f"{tool.package}@{tool.version}"], work, log, env)
            package = "." if tool.main else tool.package
            _run(["go", "build", *flags, "-o", str(gobin / tool.name), package], work, log, env)
        else:
            _run(["go", "install", *flags, f"{tool.package}@{tool.version}"], bin_dir.parent, log, env)
        os.replace(gobin / tool.name, bin_dir / tool.name)
        stamp.write_text(tool.stamp)
        _say(f"kubebin: {tool.name} built in {time.monotonic() - t0:.0f} s")
    return bin_dir


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m cniqs.toolchain.kubebin", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "what",
        nargs="+",
        help=f"a pinned Kubernetes minor ({', '.join(KUBE_RELEASES)}), 'all', or 'tools'",
    )
    args = parser.parse_args(argv)
    try:
        for what in args.what:
            if what == "tools":
                print(build_tools())
            elif what == "kind-tools":
                print(build_tools(KIND_NODE_TOOLS))
            elif what.startswith("node-"):  # node-1.34: kubeadm and kube-proxy of that release
                print(build_kube(what.removeprefix("node-"), NODE_COMMANDS))
            elif what == "all":
                for minor in KUBE_RELEASES:
                    print(build_kube(minor))
            else:
                print(build_kube(what))
    except BuildError as err:
        print(f"kubebin: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

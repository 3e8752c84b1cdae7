"""The wrapper module that lets `go build` take k8s.io/kubernetes from the module proxy."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from cniqs.common import cache
from cniqs.providers.kind import coredns
from cniqs.toolchain import kubebin

UPSTREAM = """module k8s.io/kubernetes

go 1.25.0

require (
\tk8s.io/api v0.0.0
\tgithub.com/spf13/cobra v1.10.2
)

replace (
\tk8s.io/api => ./staging/src/k8s.io/api
\tk8s.io/client-go => ./staging/src/k8s.io/client-go
\tgithub.com/example/fork => github.com/example/fork v1.2.3
)
"""


def test_staging_modules_are_the_local_replaces_only() -> None:
    assert kubebin.staging_modules(UPSTREAM) == ["k8s.io/api", "k8s.io/client-go"]


def test_single_line_replace_is_read_too() -> None:
    assert kubebin.staging_modules("replace k8s.io/kms => ./staging/src/k8s.io/kms\n") == ["k8s.io/kms"]


def test_wrapper_pins_each_staging_module_to_the_matching_release() -> None:
    text = kubebin.wrapper_gomod("v1.35.4", "1.25.0", ["k8s.io/api", "k8s.io/client-go"])
    assert "require k8s.io/kubernetes v1.35.4" in text
    assert "\tk8s.io/api => k8s.io/api v0.35.4" in text
    assert "\tk8s.io/client-go => k8s.io/client-go v0.35.4" in text
    assert "go 1.25.0" in text


@pytest.mark.parametrize(("release", "staging"), [("v1.34.4", "v0.34.4"), ("v1.36.3", "v0.36.3")])
def test_staging_version(release: str, staging: str) -> None:
    assert kubebin.staging_version(release) == staging


def test_unpinned_minor_is_refused_with_the_pinned_list() -> None:
    with pytest.raises(kubebin.BuildError, match="pinned minors: 1.37, 1.36, 1.35, 1.34"):
        kubebin.release_for("1.20")


def test_version_ldflags_stamp_the_release() -> None:
    flags = kubebin.version_ldflags("v1.35.4")
    assert "-X k8s.io/component-base/version.gitVersion=v1.35.4" in flags
    assert "-X k8s.io/component-base/version.gitMinor=35" in flags


def test_cache_root_honours_cniqs_cache(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("CNIQS_CACHE", str(tmp_path))
    assert kubebin.cache_root() == tmp_path
    monkeypatch.delenv("CNIQS_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "x"))
    assert kubebin.cache_root() == tmp_path / "x" / "cniqs"


def test_every_kind_minor_the_proxy_serves_is_pinned_here_too() -> None:
    """Both Kubernetes tiers test the same Kubernetes where they can: the module proxy serves
    k8s.io/kubernetes from 1.34 on, so every kind-table minor from 1.34 up is pinned in cniqs.toolchain.kubebin as
    well."""
    from cniqs.providers.kind.versions import IMAGES

    buildable = {image.minor for image in IMAGES if int(image.minor.split(".")[1]) >= kubebin.OLDEST_SERVED_MINOR}
    assert buildable <= set(kubebin.KUBE_RELEASES), sorted(buildable - set(kubebin.KUBE_RELEASES))


def test_coredns_is_built_with_every_plugin_the_cluster_corefiles_name() -> None:
    """The directives of kubeadm's default Corefile (cmd/kubeadm/app/phases/addons/dns, 1.34 to 1.37) and of the
    zone block the kind provider adds; each plugin registers the directive of its name, metrics registers
    prometheus."""
    kubeadm = {"errors", "health", "ready", "kubernetes", "prometheus", "forward", "cache", "loop", "reload",
               "loadbalance"}  # fmt: skip
    block = coredns.zone_block("example.test", ["192.0.2.1"])
    ours = {line.split()[0] for line in block.splitlines()[1:-1] if not line.strip().startswith("#")}
    assert ours == {"errors", "cache", "forward"}
    registered = {"prometheus" if p == "metrics" else p for p in kubebin.COREDNS_PLUGINS}
    assert kubeadm | ours <= registered
    main = kubebin.COREDNS.main
    assert main.startswith("package main\n") and "coremain.Run()" in main
    assert all(f'_ "github.com/coredns/coredns/plugin/{p}"' in main for p in kubebin.COREDNS_PLUGINS)
    assert kubebin.COREDNS.stamp.startswith(kubebin.COREDNS.version + "+")  # a changed main is built again
    assert kubebin.ETCD.stamp == kubebin.ETCD.version


def test_a_cache_entry_is_built_by_one_process_at_a_time(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """entry_lock across processes (flock): a second holder waits until the first lets go."""
    entry = tmp_path / "kube" / "v1.37.2-go"
    script = (
        "import sys, time; from pathlib import Path; from cniqs.common.cache import entry_lock\n"
        "with entry_lock(Path(sys.argv[1])):\n"
        "    print(time.monotonic(), flush=True); time.sleep(0.5); print(time.monotonic(), flush=True)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(Path(cache.__file__).parents[2])}
    procs = [
        subprocess.Popen([sys.executable, "-c", script, str(entry)], stdout=subprocess.PIPE, text=True, env=env)
        for _ in range(2)
    ]
    spans = sorted(tuple(float(t) for t in proc.communicate()[0].split()) for proc in procs)
    assert spans[0][1] <= spans[1][0]  # the second got the lock only after the first had left it
    assert (tmp_path / "kube" / "v1.37.2-go.lock").exists() and not entry.exists()

"""The site's services (cniqs.site.services), their pure parts: the registry's configuration, dnsmasq's and
dockerd's command lines, the runc wrapper script. Nothing here starts a service or needs root."""

from __future__ import annotations

import ipaddress
import subprocess
from pathlib import Path

import yaml

from cniqs.site import services


def test_the_addresses_are_one_point_to_point_link_in_a_test_range() -> None:
    link = ipaddress.ip_network(f"{services.HOST_ADDR}/{services.PREFIX}", strict=False)
    assert ipaddress.ip_address(services.SITE_ADDR) in link
    assert link.subnet_of(ipaddress.ip_network("198.18.0.0/15"))  # RFC 2544's benchmark range: no one's hosts
    assert services.REGISTRY == f"{services.SITE_ADDR}:5000"


def test_registry_config(tmp_path: Path) -> None:
    config = yaml.safe_load(services.registry_config(tmp_path / "storage"))
    assert config["version"] == 0.1
    assert config["storage"] == {"filesystem": {"rootdirectory": str(tmp_path / "storage")}}
    assert config["http"] == {"addr": services.REGISTRY}


def test_dnsmasq_answers_the_sites_zone_and_nothing_else() -> None:
    argv = services.dnsmasq_argv(Path("/c/site/dnsmasq.pid"))
    assert argv[0] == "dnsmasq"
    for flag in ("--keep-in-foreground", "--no-resolv", "--no-hosts", "--bind-interfaces"):
        assert flag in argv
    assert f"--listen-address={services.SITE_ADDR}" in argv
    assert f"--local=/{services.ZONE}/" in argv  # the zone is answered here only, never forwarded
    assert f"--host-record={services.TARGET_NAME},{services.SITE_ADDR}" in argv
    assert "--pid-file=/c/site/dnsmasq.pid" in argv
    assert not any(a.startswith(("--server", "--resolv-file")) for a in argv)  # no upstream
    assert services.TARGET_NAME.endswith(f".{services.ZONE}")


def test_dockerd_trusts_the_sites_registry_and_runs_the_wrapper(tmp_path: Path) -> None:
    argv = services.dockerd_argv(tmp_path / "cniqs-runc", tmp_path / "dockerd.pid")
    assert argv[0] == "dockerd"
    assert f"--insecure-registry={services.REGISTRY}" in argv
    assert f"--add-runtime=cniqs-runc={tmp_path / 'cniqs-runc'}" in argv
    assert "--default-runtime=cniqs-runc" in argv
    assert f"--host=unix://{services.DOCKER_SOCKET}" in argv


def test_the_runc_wrapper_runs_the_runtime_module_with_the_system_python(tmp_path: Path) -> None:
    wrapper = services.runc_wrapper(tmp_path / "runtime")
    assert wrapper == tmp_path / "runtime" / "cniqs-runc"
    assert wrapper.stat().st_mode & 0o111
    text = wrapper.read_text()
    assert text.startswith("#!/bin/sh\n")
    runtime_py = Path(services.__file__).with_name("runtime.py")
    assert f'exec /usr/bin/python3 -I {runtime_py} "$@"' in text
    assert runtime_py.is_file()
    assert subprocess.run(["sh", "-n", str(wrapper)], capture_output=True).returncode == 0


def test_the_runtime_module_runs_as_a_script_on_the_standard_library_alone() -> None:
    """dockerd runs it with `python3 -I` (no site-packages, no PYTHONPATH): it may import nothing of cniqs."""
    runtime_py = Path(services.__file__).with_name("runtime.py")
    probe = f"import runpy; runpy.run_path({str(runtime_py)!r}, run_name='not_main')"
    result = subprocess.run(["python3", "-I", "-c", probe], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_state_is_recorded_in_the_users_cache(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(services, "site_dir", lambda: tmp_path / "site")
    assert services.load() == []
    recorded = [services.Service("registry", 123, ["docker-registry", "serve", "/c/r.yml"], "/c/registry.log")]
    services._save(recorded)
    assert services.load() == recorded

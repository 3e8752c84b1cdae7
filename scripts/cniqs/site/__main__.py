"""python -m cniqs.site up|push [MINOR ...]|env|down: this machine as an air-gapped site (see cniqs.site)."""

from __future__ import annotations

import argparse
import shlex
import sys
from collections.abc import Sequence
from pathlib import Path

from cniqs.site import images, nodefiles, nodeimage, services
from cniqs.toolchain import kubebin

CONTAINERS_CONF = nodefiles.CONTAINERS_CONF + '\n[network]\nnetwork_backend = "netavark"\n'


def tools_dir() -> Path:
    """kind (built from its Go module) and the newest release's kubectl, linked into one folder for PATH."""
    folder = services.site_dir() / "bin"
    folder.mkdir(parents=True, exist_ok=True)
    minor = nodeimage.default_minors()[0]
    for name, target in (
        ("kind", kubebin.build_tools(kubebin.KIND_NODE_TOOLS) / kubebin.KIND.name),
        ("kubectl", kubebin.build_kube(minor) / "kubectl"),
    ):
        link = folder / name
        link.unlink(missing_ok=True)
        link.symlink_to(target)
    return folder


def environment() -> dict[str, str]:
    conf = services.site_dir() / "containers.conf"
    conf.parent.mkdir(parents=True, exist_ok=True)
    conf.write_text(CONTAINERS_CONF)
    return {
        "CNIQS_REGISTRY_MIRROR": f"http://{services.REGISTRY}",
        "CNIQS_KIND_POD_IMAGE": images.POD_IMAGE,
        "CNIQS_KIND_TARGET_IP": services.SITE_ADDR,
        "CNIQS_KIND_TARGET_NAME": services.TARGET_NAME,
        "CNIQS_KIND_TARGET_URL": f"http://{services.TARGET_NAME}/",
        "CNIQS_KIND_DNS_ZONE": f"{services.ZONE}={services.SITE_ADDR}",
        "CONTAINERS_CONF": str(conf),
        "CNIQS_SITE_BIN": str(tools_dir()),
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m cniqs.site", description=__doc__)
    parser.add_argument("action", choices=("up", "push", "env", "down"))
    parser.add_argument("minors", nargs="*", help="push: Kubernetes minors of the node images (default: newest)")
    parser.add_argument("--no-docker", action="store_true", help="up: without dockerd (podman only)")
    args = parser.parse_args(argv)
    try:
        if args.action == "up":
            services.up(docker=not args.no_docker)
        elif args.action == "push":
            images.push_all(args.minors or None)
        elif args.action == "env":
            env = environment()
            for key, value in env.items():
                print(f"export {key}={shlex.quote(value)}")
            print(f'export PATH={shlex.quote(env["CNIQS_SITE_BIN"])}:"$PATH"')
        else:
            return 1 if services.down() else 0
    except (services.SiteError, images.PushError, nodeimage.ImageBuildError, kubebin.BuildError, RuntimeError) as err:
        print(f"site: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

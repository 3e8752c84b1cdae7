"""A user's own image archive runs instead of the built test image (--local-image-archive)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from cniqs.install.conflist import chain_entry
from cniqs.provider import Backend, RunOptions
from cniqs.providers.local import images
from cniqs.providers.local.provider import LocalProvider
from cniqs.ship.build import host_arch
from e2e.support import fixed_fakes, real_ips

pytestmark = [pytest.mark.e2e, pytest.mark.local_only]

USER_IMAGE = "registry.example.test/workshop/tools:1"


def test_a_user_image_archive_runs_and_the_demo_holds(backend: Backend, tmp_path: Path) -> None:
    """`backend` only for its prerequisite check (skip, or fail where CI=true); this test opens its own node."""
    busybox = Path(shutil.which("busybox") or "/bin/busybox").read_bytes()
    archive = images.write(images.test_image(busybox, host_arch(), name=USER_IMAGE), tmp_path)
    assert images.archive_image_names(archive) == [USER_IMAGE]
    entry = chain_entry(fakeIPv4="192.0.2.0/24")
    with LocalProvider().open(RunOptions({"--local-image-archive": str(archive)})) as node:
        assert getattr(node, "image", None) == USER_IMAGE
        node.install(entry)
        pod = node.run_pod("user-image")
        try:
            assert node.reported_views(pod) == {"PodSandboxStatus": fixed_fakes(entry)}
            assert real_ips(node, pod) and real_ips(node, pod) != fixed_fakes(entry)
        finally:
            node.delete_pod(pod)

"""Files the installer and the plugin write on a live node are not group/world-writable; a log path
that is a symlink is refused there too (the plugin's own tests cover the other non-regular files)."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from cniqs.install import conflist
from cniqs.install.conflist import chain_entry
from e2e.support import delete_pods, expect, fixed_fakes

if TYPE_CHECKING:
    from cniqs.providers.local.node import LocalBackend

pytestmark = [pytest.mark.e2e, pytest.mark.local_only]


def assert_safe(path: Path) -> None:
    st = path.lstat()
    assert stat.S_ISREG(st.st_mode), f"{path} is not a regular file ({stat.filemode(st.st_mode)})"
    assert st.st_mode & 0o022 == 0, f"{path} is group- or world-writable ({stat.filemode(st.st_mode)})"
    assert st.st_uid == os.geteuid(), f"{path} is owned by uid {st.st_uid}"


def test_installed_conflist_and_plugin_log_are_not_group_or_world_writable(node: LocalBackend) -> None:
    log = node.layout.plugin_log
    if log.exists():
        log.chmod(0o666)  # a log someone loosened: the plugin tightens it on its next write
    node.install(chain_entry())
    pod = node.run_pod("modes")
    try:
        expect(node.reported_ips(pod) == fixed_fakes(chain_entry()), "no fake IP", node, pod)
    finally:
        delete_pods(node, [pod])
    assert_safe(node.layout.cni_conf / conflist.INSTALLED_NAME)
    assert_safe(log)


def test_a_log_path_that_is_a_symlink_is_refused_on_the_node(node: LocalBackend) -> None:
    target = node.layout.logs / "symlink-target"
    target.write_text("")
    link = node.layout.logs / "symlinked.log"
    link.symlink_to(target)
    entry = {**chain_entry(), "logFile": str(link)}
    plan = conflist.install(node.files, str(node.layout.cni_conf), entry)
    assert plan is not None
    node.wait_loaded(plan.chain)
    pod = node.run_pod("symlinked-log")
    try:
        reported = node.reported_ips(pod)
        expect(reported == fixed_fakes(entry), f"reports {reported} with a symlinked log path", node, pod)
    finally:
        delete_pods(node, [pod])
    assert target.read_text() == "", "the plugin wrote through the symlink"
    assert link.is_symlink(), "the symlink was replaced"
    said = node.layout.containerd_log.read_text(errors="replace")
    assert f"cni-quickstart: cannot open log {link}" in said, "the refusal did not reach containerd's log"

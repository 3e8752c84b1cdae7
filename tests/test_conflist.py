"""The installer over a real conf dir: derivation, idempotency, refusals, atomicity, concurrency."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

from cniqs.install.conflist import (
    INSTALLED_NAME,
    InstallError,
    active_source,
    chain_entry,
    derive,
    install,
    prev_result_risks,
    uninstall,
)
from cniqs.install.kindnet import KINDNET, kindnet_chain
from cniqs.install.nodefs import LocalFiles, remove_stale_temps
from cniqs.provider import ChainVariant
from cniqs.resources import CONFLIST_DIR

FILES = LocalFiles()


def snapshot(d: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(d.iterdir())}


@pytest.fixture
def conf_dir(tmp_path: Path) -> Path:
    d = tmp_path / "net.d"
    d.mkdir()
    (d / "10-kindnet.conflist").write_text(json.dumps(kindnet_chain(KINDNET, ["10.244.1.0/24"], "/run/cni-ipam-state")))
    return d


def test_install_writes_the_derived_chain_first_and_keeps_the_name(conf_dir: Path) -> None:
    before = (conf_dir / "10-kindnet.conflist").read_bytes()
    plan = install(FILES, str(conf_dir), chain_entry())
    assert plan is not None and plan.source.endswith("10-kindnet.conflist")
    assert sorted(p.name for p in conf_dir.iterdir()) == [INSTALLED_NAME, "10-kindnet.conflist"]
    written = json.loads((conf_dir / INSTALLED_NAME).read_text())
    assert written["name"] == "kindnet" and written["cniVersion"] == "0.3.1"
    assert [p["type"] for p in written["plugins"]] == ["ptp", "portmap", "cni-quickstart"]
    assert written["plugins"][0]["ipam"]["ranges"] == [[{"subnet": "10.244.1.0/24"}]], "this node's own CIDR"
    assert (conf_dir / "10-kindnet.conflist").read_bytes() == before, "the active file is never edited"
    assert stat.S_IMODE((conf_dir / INSTALLED_NAME).stat().st_mode) == 0o644


@pytest.mark.parametrize("variant", [ChainVariant("0.4.0"), ChainVariant("1.0.0", dual_stack=True)])
def test_install_keeps_each_variant(conf_dir: Path, variant: ChainVariant) -> None:
    base = kindnet_chain(variant, ["10.244.2.0/24", "fd00:10:244:2::/64"], "/run/cni-ipam-state")
    (conf_dir / "10-kindnet.conflist").write_text(json.dumps(base))
    install(FILES, str(conf_dir), chain_entry(mode="translate"))
    written = json.loads((conf_dir / INSTALLED_NAME).read_text())
    assert written == derive(base, chain_entry(mode="translate"))


def test_install_and_uninstall_are_idempotent(conf_dir: Path) -> None:
    original = snapshot(conf_dir)
    assert install(FILES, str(conf_dir), chain_entry()) is not None
    once = snapshot(conf_dir)
    assert install(FILES, str(conf_dir), chain_entry()) is None
    assert snapshot(conf_dir) == once
    assert uninstall(FILES, str(conf_dir)) is True
    assert uninstall(FILES, str(conf_dir)) is False
    assert snapshot(conf_dir) == original, "uninstall leaves the dir byte-for-byte as before"


def test_reinstall_with_another_entry_replaces_only_its_own_file(conf_dir: Path) -> None:
    install(FILES, str(conf_dir), chain_entry())
    install(FILES, str(conf_dir), chain_entry(mode="translate"))
    assert json.loads((conf_dir / INSTALLED_NAME).read_text())["plugins"][-1]["mode"] == "translate"


@pytest.mark.parametrize(
    "content, message",
    [
        ("{not json", "not valid JSON"),
        (json.dumps({"cniVersion": "0.3.1", "name": "kindnet", "type": "ptp"}), "plugins"),
        (json.dumps({"cniVersion": "0.3.1", "name": "kindnet", "plugins": []}), "plugins"),
        (json.dumps({"cniVersion": "0.3.1", "name": "kindnet", "plugins": [{"ipam": {}}]}), "type"),
        (json.dumps({"name": "kindnet", "plugins": [{"type": "ptp"}]}), "cniVersion"),
    ],
)
def test_install_refuses_chains_it_does_not_understand_and_changes_nothing(
    conf_dir: Path, content: str, message: str
) -> None:
    (conf_dir / "10-kindnet.conflist").write_text(content)
    before = snapshot(conf_dir)
    with pytest.raises(InstallError, match=message):
        install(FILES, str(conf_dir), chain_entry())
    assert snapshot(conf_dir) == before


def test_install_refuses_a_chain_that_already_has_the_plugin(conf_dir: Path) -> None:
    hand_path = (CONFLIST_DIR / "10-kindnet.conflist").read_text()
    (conf_dir / "10-kindnet.conflist").write_text(hand_path)
    with pytest.raises(InstallError, match="already contains"):
        install(FILES, str(conf_dir), chain_entry())


def test_refuses_to_touch_a_foreign_file_with_its_name(conf_dir: Path) -> None:
    (conf_dir / INSTALLED_NAME).write_text(json.dumps(kindnet_chain(KINDNET, ["10.9.0.0/24"], "/x")))
    before = snapshot(conf_dir)
    with pytest.raises(InstallError, match="not written by cni-quickstart"):
        install(FILES, str(conf_dir), chain_entry())
    with pytest.raises(InstallError, match="not written by cni-quickstart"):
        uninstall(FILES, str(conf_dir))
    assert snapshot(conf_dir) == before


def test_refuses_when_another_config_would_still_win(conf_dir: Path) -> None:
    (conf_dir / "00-aaa.conflist").write_text(json.dumps(kindnet_chain(KINDNET, ["10.9.0.0/24"], "/x")))
    with pytest.raises(InstallError, match="sorts before"):
        install(FILES, str(conf_dir), chain_entry())


def test_refuses_an_empty_conf_dir(tmp_path: Path) -> None:
    with pytest.raises(InstallError, match="no CNI config"):
        install(FILES, str(tmp_path), chain_entry())


def test_hand_path_conflist_is_kindnets_chain_plus_the_entry() -> None:
    """No "mtu": kindnetd writes the node's own MTU, so a fixed one could be wrong on a user's node; without
    the key ptp leaves the kernel's default, and the pod's real interface is what the README shows."""
    hand = json.loads((CONFLIST_DIR / "10-kindnet.conflist").read_text())
    kindnet = kindnet_chain(KINDNET, ["10.244.0.0/24"], "/run/cni-ipam-state", mtu=None)
    assert hand == derive(kindnet, chain_entry())


class CrashAfterTemp(LocalFiles):
    """Dies between writing the temp file and renaming it, as a killed installer would."""

    def write_atomic(self, path: str, text: str) -> None:
        tmp = Path(path).with_name(f".{Path(path).name}.999999999.tmp")
        tmp.write_text(text[: len(text) // 2])
        raise KeyboardInterrupt


def test_a_crash_mid_install_leaves_the_old_config_in_effect(conf_dir: Path) -> None:
    before = snapshot(conf_dir)
    with pytest.raises(KeyboardInterrupt):
        install(CrashAfterTemp(), str(conf_dir), chain_entry())
    names = sorted(p.name for p in conf_dir.iterdir())
    assert names == [f".{INSTALLED_NAME}.999999999.tmp", "10-kindnet.conflist"], "only a hidden, ignored temp"
    assert {k: v for k, v in snapshot(conf_dir).items() if not k.startswith(".")} == before
    install(FILES, str(conf_dir), chain_entry())
    assert sorted(p.name for p in conf_dir.iterdir()) == [INSTALLED_NAME, "10-kindnet.conflist"], "stale temp gone"


def test_a_live_writers_temp_file_is_left_alone(conf_dir: Path) -> None:
    live = conf_dir / f".{INSTALLED_NAME}.{os.getpid()}.tmp"
    live.write_text("in flight")
    assert remove_stale_temps(conf_dir / INSTALLED_NAME) == []
    assert live.exists()


def test_install_and_uninstall_at_once_never_leave_a_broken_config(conf_dir: Path) -> None:
    errors: list[BaseException] = []
    seen: list[str] = []
    stop = threading.Event()

    def churn(action: Any) -> None:
        try:
            for _ in range(200):
                action()
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    def reader() -> None:
        while not stop.is_set():
            path = conf_dir / INSTALLED_NAME
            try:
                text = path.read_text()
            except FileNotFoundError:
                continue
            seen.append(text)

    workers = [
        threading.Thread(target=churn, args=(lambda: install(FILES, str(conf_dir), chain_entry()),)),
        threading.Thread(target=churn, args=(lambda: uninstall(FILES, str(conf_dir)),)),
    ]
    watcher = threading.Thread(target=reader)
    watcher.start()
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    stop.set()
    watcher.join()
    assert errors == []
    expected = derive(kindnet_chain(KINDNET, ["10.244.1.0/24"], "/run/cni-ipam-state"), chain_entry())
    assert seen, "the reader saw the installed file at least once"
    assert all(json.loads(text) == expected for text in seen), "never a partial or foreign file"
    assert not [p for p in conf_dir.iterdir() if p.name.endswith(".tmp")]


def test_two_installer_processes_at_once(conf_dir: Path) -> None:
    code = (
        "import sys; from cniqs.install.conflist import install, chain_entry\n"
        "from cniqs.install.nodefs import LocalFiles\n"
        "for _ in range(30): install(LocalFiles(), sys.argv[1], chain_entry())"
    )
    procs = [subprocess.Popen([sys.executable, "-c", code, str(conf_dir)]) for _ in range(2)]
    assert [p.wait(60) for p in procs] == [0, 0]
    assert json.loads((conf_dir / INSTALLED_NAME).read_text())["plugins"][-1]["type"] == "cni-quickstart"


def test_a_hidden_conflist_counts_as_libcni_sees_it(conf_dir: Path) -> None:
    (conf_dir / ".00-hidden.conflist").write_text(json.dumps(kindnet_chain(KINDNET, ["10.9.0.0/24"], "/x")))
    with pytest.raises(InstallError, match="sorts before"):
        install(FILES, str(conf_dir), chain_entry())


def test_no_risk_below_0_4_0_where_del_gets_no_cached_result() -> None:
    chain = kindnet_chain(KINDNET, ["10.244.0.0/24"], "/x")
    chain["plugins"].append({"type": "firewall"})
    assert prev_result_risks(chain) == []  # kindnet's own 0.3.1


def test_a_firewall_in_a_0_4_0_chain_is_named_with_its_consequence() -> None:
    chain = kindnet_chain(ChainVariant(cni_version="0.4.0"), ["10.244.0.0/24"], "/x")
    chain["plugins"].append({"type": "firewall"})
    risks = prev_result_risks(chain)
    assert risks[0].startswith("ptp: CHECK of the chain fails")
    assert any(r.startswith("firewall: at DEL it removes the rules of the fake address") for r in risks), risks


def test_the_active_source_is_what_install_derives_from(conf_dir: Path) -> None:
    name, chain = active_source(FILES, str(conf_dir))
    assert name == "10-kindnet.conflist" and chain["name"] == "kindnet"
    install(FILES, str(conf_dir), chain_entry())
    assert active_source(FILES, str(conf_dir))[0] == "10-kindnet.conflist", "never the plugin's own file"


def test_a_config_removed_between_listing_and_reading_counts_as_not_there(
    conf_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """LocalFiles.read_dir while an uninstall removes the plugin's file: never a name without its text."""
    listed = sorted(conf_dir.iterdir())
    gone = conf_dir / INSTALLED_NAME  # listed, then removed before it is read
    monkeypatch.setattr(Path, "iterdir", lambda self: iter([*listed, gone]))
    assert INSTALLED_NAME not in FILES.read_dir(str(conf_dir), (".conflist",))

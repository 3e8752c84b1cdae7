"""The optional JSON-lines log: one record per call; its failures never change the CNI answer."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

from tests.plugin.conftest import Runner, chained, fixture_results

PREV = fixture_results()["ptp-dual-0.3.1"]
POD_ARGS = "IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=test;K8S_POD_INFRA_CONTAINER_ID=c0ffee"


def test_records_real_and_reported_addresses(plugin: Runner, tmp_path: Path) -> None:
    log = tmp_path / "cni-quickstart.log"
    assert plugin("ADD", chained(PREV, logFile=str(log)), CNI_ARGS=POD_ARGS).rc == 0
    assert plugin("DEL", chained(None, logFile=str(log)), CNI_ARGS=POD_ARGS).rc == 0
    add, delete = (json.loads(line) for line in log.read_text().splitlines())
    assert add["command"] == "ADD" and delete["command"] == "DEL"
    assert (add["podNamespace"], add["podName"], add["containerId"]) == ("default", "test", "c0ffee")
    assert add["real"] == ["10.244.0.2/24", "fd00:10:244::2/64"]
    assert add["reported"] == ["1.2.3.0/24", "2001:db8::/64"]
    assert add["network"] == "kindnet" and "error" not in add
    assert add["durationMs"] >= 0 and add["time"].endswith("Z")
    assert stat.S_IMODE(log.stat().st_mode) & 0o022 == 0, "log is not group/world-writable"


def test_records_errors(plugin: Runner, tmp_path: Path) -> None:
    log = tmp_path / "cni.log"
    assert plugin("ADD", chained(None, logFile=str(log))).rc != 0
    record = json.loads(log.read_text())
    assert record["error"]["code"] == 100


def test_unwritable_log_does_not_change_the_answer(plugin: Runner, tmp_path: Path) -> None:
    missing = tmp_path / "no-such-dir" / "cni.log"
    answer = plugin("ADD", chained(PREV, logFile=str(missing)))
    assert answer.rc == 0 and answer.json["ips"][0]["address"] == "1.2.3.0/24"
    assert "cannot open log" in answer.stderr


def test_symlinked_log_is_refused(plugin: Runner, tmp_path: Path) -> None:
    target = tmp_path / "elsewhere"
    target.write_text("")
    link = tmp_path / "cni.log"
    link.symlink_to(target)
    answer = plugin("ADD", chained(PREV, logFile=str(link)))
    assert answer.rc == 0 and "cannot open log" in answer.stderr
    assert target.read_text() == ""


def test_log_that_is_a_directory_is_refused(plugin: Runner, tmp_path: Path) -> None:
    answer = plugin("ADD", chained(PREV, logFile=str(tmp_path)))
    assert answer.rc == 0 and "cannot open log" in answer.stderr


def test_log_that_is_a_fifo_is_refused_without_hanging(plugin: Runner, tmp_path: Path) -> None:
    fifo = tmp_path / "cni.log"
    os.mkfifo(fifo)  # opening it for writing with no reader would block a naive plugin forever
    answer = plugin("ADD", chained(PREV, logFile=str(fifo)))
    assert answer.rc == 0 and answer.json["ips"][0]["address"] == "1.2.3.0/24"
    assert "log" in answer.stderr


def test_read_only_log_does_not_change_the_answer(plugin: Runner, tmp_path: Path) -> None:
    log = tmp_path / "cni.log"
    log.write_text("")
    log.chmod(0o400)
    answer = plugin("ADD", chained(PREV, logFile=str(log)), CNI_ARGS=POD_ARGS)
    assert answer.rc == 0 and answer.json["ips"][0]["address"] == "1.2.3.0/24"
    if os.geteuid() != 0:  # root writes through file modes
        assert "cannot open log" in answer.stderr

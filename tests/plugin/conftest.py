"""Drive the plugin through its real entry point: a subprocess with stdin and CNI_* variables."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from cni_quickstart import SUPPORTED_VERSIONS

DATA = Path(__file__).parent / "data"
MODULE = [sys.executable, "-m", "cni_quickstart"]
BASE_ENV = {
    "CNI_CONTAINERID": "c0ffee",
    "CNI_NETNS": "/run/netns/test",
    "CNI_IFNAME": "eth0",
    "CNI_PATH": "/opt/cni/bin",
}


@dataclass
class Answer:
    rc: int
    stdout: str
    stderr: str

    @property
    def json(self) -> dict[str, Any]:
        return json.loads(self.stdout)


Runner = Callable[..., Answer]


def invoke(argv: list[str], command: str, stdin: bytes | str | dict[str, Any], **env: str | None) -> Answer:
    data = json.dumps(stdin) if isinstance(stdin, dict) else stdin
    full = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "CNI_COMMAND": command, **BASE_ENV}
    for key, value in env.items():
        if value is None:
            full.pop(key, None)
        else:
            full[key] = value
    for key in ("PYTHONPATH", "QEMU_LD_PREFIX"):  # QEMU_LD_PREFIX: an executable of another architecture
        if key in os.environ:
            full[key] = os.environ[key]
    proc = subprocess.run(
        argv, input=data.encode() if isinstance(data, str) else data, env=full, capture_output=True, timeout=30
    )
    return Answer(proc.returncode, proc.stdout.decode(), proc.stderr.decode())


@pytest.fixture
def plugin() -> Runner:
    def run(command: str, stdin: bytes | str | dict[str, Any], **env: str | None) -> Answer:
        return invoke(MODULE, command, stdin, **env)

    return run


def fixture_results() -> dict[str, dict[str, Any]]:
    """Captured reference-plugin results (see capture.py), plus 1.1.0 shapes, which equal 1.0.0's."""
    results = {p.stem: json.loads(p.read_text()) for p in sorted(DATA.glob("*.json"))}
    for stem in [s for s in results if s.endswith("-1.0.0")]:
        results[stem.replace("-1.0.0", "-1.1.0")] = {**results[stem], "cniVersion": "1.1.0"}
    assert {r["cniVersion"] for r in results.values()} == set(SUPPORTED_VERSIONS)
    return results


def chained(prev: dict[str, Any] | None, **entry: Any) -> dict[str, Any]:
    conf: dict[str, Any] = {"cniVersion": prev["cniVersion"] if prev else "0.3.1", "name": "kindnet"}
    conf.update(type="cni-quickstart", **entry)
    if prev is not None:
        conf["prevResult"] = prev
    return conf


def assert_cni_error(answer: Answer, code: int, msg_part: str = "") -> dict[str, Any]:
    assert answer.rc != 0, answer
    assert "Traceback" not in answer.stderr, answer.stderr
    err = answer.json
    assert set(err) == {"cniVersion", "code", "msg", "details"}, err
    assert err["code"] == code, err
    assert msg_part in err["msg"], err
    return err

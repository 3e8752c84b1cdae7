"""The runc wrapper dockerd runs on hosts with a short capability bounding set (cniqs.site.runtime): the set
read from /proc/<pid>/status, the OCI spec trimmed to it, which file of a runc command line holds the spec."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cniqs.site import runtime

ALL_CAPS = {f"CAP_{name}" for name in runtime.CAPABILITIES}


def status(mask: str) -> str:
    return f"Name:\tpython3\nCapInh:\t0000000000000000\nCapPrm:\t{mask}\nCapBnd:\t{mask}\nCapAmb:\t0000000000000000\n"


def test_capability_numbers_are_the_kernels() -> None:
    """linux/capability.h: a few fixed points and the count up to CAP_CHECKPOINT_RESTORE (40)."""
    numbers = {name: bit for bit, name in enumerate(runtime.CAPABILITIES)}
    assert numbers["CHOWN"] == 0 and numbers["SETPCAP"] == 8 and numbers["NET_ADMIN"] == 12
    assert numbers["SYS_ADMIN"] == 21 and numbers["SYS_RESOURCE"] == 24 and numbers["MKNOD"] == 27
    assert numbers["SETFCAP"] == 31 and numbers["BPF"] == 39 and numbers["CHECKPOINT_RESTORE"] == 40
    assert len(runtime.CAPABILITIES) == len(set(runtime.CAPABILITIES)) == 41


def test_a_mask_without_bit_24_lacks_cap_sys_resource() -> None:
    mask = "000001fffeffffff"
    missing = [bit for bit in range(41) if not int(mask, 16) >> bit & 1]
    assert missing == [24]
    found = runtime.bounding_set(status(mask))
    assert "CAP_SYS_RESOURCE" not in found
    assert found == ALL_CAPS - {"CAP_SYS_RESOURCE"}


@pytest.mark.parametrize(
    ("mask", "expected"),
    [
        ("000001ffffffffff", ALL_CAPS),
        ("0000000000000000", set()),
        ("0000000000001000", {"CAP_NET_ADMIN"}),
        ("0000000000200001", {"CAP_CHOWN", "CAP_SYS_ADMIN"}),
        ("000000a000000000", {"CAP_BPF", "CAP_AUDIT_READ"}),
    ],
)
def test_bounding_set(mask: str, expected: set[str]) -> None:
    assert runtime.bounding_set(status(mask)) == expected


def test_no_capbnd_line() -> None:
    with pytest.raises(ValueError, match="no CapBnd"):
        runtime.bounding_set("Name:\tpython3\nCapEff:\t0000000000000000\n")


def test_limit_trims_every_capability_set_and_nothing_else() -> None:
    caps = {
        "bounding": ["CAP_CHOWN", "CAP_SYS_RESOURCE", "CAP_BPF"],
        "effective": ["CAP_SYS_RESOURCE"],
        "inheritable": [],
        "permitted": ["CAP_CHOWN", "CAP_SYS_RESOURCE"],
        "ambient": ["CAP_BPF"],
        "x-other": ["CAP_SYS_RESOURCE"],
    }
    allowed = ALL_CAPS - {"CAP_SYS_RESOURCE"}
    assert runtime.limit(caps, allowed) == {
        "bounding": ["CAP_CHOWN", "CAP_BPF"],
        "effective": [],
        "inheritable": [],
        "permitted": ["CAP_CHOWN"],
        "ambient": ["CAP_BPF"],
        "x-other": ["CAP_SYS_RESOURCE"],
    }


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["--root", "/run/docker/runtime-runc/moby", "create", "--bundle", "/b/1", "--pid-file", "/p", "c1"],
         (Path("/b/1/config.json"), False)),
        (["run", "--bundle", "/b/2", "c2"], (Path("/b/2/config.json"), False)),
        (["--root", "/r", "exec", "--process", "/tmp/runc-process123", "--detach", "c1"],
         (Path("/tmp/runc-process123"), True)),
        (["--root", "/r", "start", "c1"], None),
        (["--root", "/r", "delete", "--force", "c1"], None),
        (["--root", "/r", "kill", "c1", "9"], None),
        (["--root", "/r", "state", "c1"], None),
        (["--version"], None),
    ],
)  # fmt: skip
def test_spec_file(argv: list[str], expected: tuple[Path, bool] | None) -> None:
    assert runtime.spec_file(argv) == expected


def test_create_without_bundle_reads_the_working_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert runtime.spec_file(["create", "c1"]) == (tmp_path / "config.json", False)


def test_adjust_a_bundle_and_a_process_file(tmp_path: Path) -> None:
    allowed = ALL_CAPS - {"CAP_SYS_RESOURCE"}
    bundle = tmp_path / "config.json"
    caps = {"bounding": ["CAP_SYS_RESOURCE", "CAP_NET_ADMIN"], "effective": ["CAP_SYS_RESOURCE"]}
    bundle.write_text(json.dumps({"ociVersion": "1.0.2", "process": {"args": ["sh"], "capabilities": caps}}))
    runtime.adjust(bundle, False, allowed)
    spec = json.loads(bundle.read_text())
    assert spec["process"]["capabilities"] == {"bounding": ["CAP_NET_ADMIN"], "effective": []}
    assert spec["process"]["args"] == ["sh"] and spec["ociVersion"] == "1.0.2"
    process = tmp_path / "process.json"
    process.write_text(json.dumps({"args": ["kubeadm"], "capabilities": caps}))
    runtime.adjust(process, True, allowed)
    assert json.loads(process.read_text())["capabilities"]["bounding"] == ["CAP_NET_ADMIN"]
    untouched = json.dumps({"process": {"args": ["sh"]}})
    plain = tmp_path / "plain.json"
    plain.write_text(untouched)
    runtime.adjust(plain, False, allowed)
    assert plain.read_text() == untouched


def test_main_trims_the_spec_then_runs_the_real_runc(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "config.json").write_text(json.dumps({"process": {"capabilities": {"bounding": ["CAP_BPF"]}}}))
    executed: list[tuple[str, list[str]]] = []
    monkeypatch.setattr(runtime.os, "execv", lambda path, argv: executed.append((path, argv)))
    monkeypatch.setattr(runtime.sys, "argv", ["runtime.py", "create", "--bundle", str(tmp_path), "c1"])
    real_read = Path.read_text

    def read_text(self: Path, *args: object, **kwargs: object) -> str:
        if str(self) == "/proc/self/status":
            return status("0000000000000001")  # CAP_CHOWN only
        return real_read(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(Path, "read_text", read_text)
    runtime.main()
    assert json.loads(real_read(tmp_path / "config.json"))["process"]["capabilities"]["bounding"] == []
    assert executed == [(runtime.REAL_RUNC, [runtime.REAL_RUNC, "create", "--bundle", str(tmp_path), "c1"])]

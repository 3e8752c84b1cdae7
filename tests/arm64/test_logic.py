"""Pure logic of the arm64 build (cniqs.ship.arm64, cniqs.toolchain.debian): binfmt entries, cache keys, the pins
it reads."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from cniqs.ship import arm64
from cniqs.toolchain import debian, kubebin

# /proc/sys/fs/binfmt_misc/qemu-aarch64 as Debian's qemu-user-static 1:7.2 registers it
DEBIAN_ENTRY = """enabled
interpreter /usr/libexec/qemu-binfmt/aarch64-binfmt-P
flags: PF
offset 0
magic 7f454c460201010000000000000000000200b700
mask ffffffffffffff00fffffffffffffffffeffffff
"""


def test_the_debian_entry_is_enabled_fixed_and_matches_aarch64() -> None:
    entry = arm64.parse_binfmt(DEBIAN_ENTRY)
    assert entry.enabled and entry.interpreter == "/usr/libexec/qemu-binfmt/aarch64-binfmt-P"
    assert "F" in entry.flags and arm64.matches_aarch64(entry)


def test_a_disabled_entry_and_another_architecture_are_told_apart() -> None:
    assert not arm64.parse_binfmt(DEBIAN_ENTRY.replace("enabled", "disabled")).enabled
    x86_64 = DEBIAN_ENTRY.replace("0200b700", "02003e00")
    assert not arm64.matches_aarch64(arm64.parse_binfmt(x86_64))
    assert not arm64.matches_aarch64(arm64.parse_binfmt("enabled\ninterpreter /x\nflags: F\n"))


def test_the_register_line_is_what_the_kernel_parses_back() -> None:
    line = arm64.register_line("/usr/bin/qemu-aarch64-static")
    name, kind, offset, magic, mask, interpreter, flags = line.split(":")[1:]
    assert (name, kind, offset, interpreter, flags) == ("qemu-aarch64", "M", "0", "/usr/bin/qemu-aarch64-static", "F")
    # what /proc/sys/fs/binfmt_misc/qemu-aarch64 then shows: the same bytes, as hex
    as_hex = {"magic": magic.replace("\\x", ""), "mask": mask.replace("\\x", "")}
    shown = arm64.parse_binfmt(f"enabled\ninterpreter /q\nflags: F\noffset 0\nmagic {as_hex['magic']}\n"
                               f"mask {as_hex['mask']}\n")  # fmt: skip
    assert arm64.matches_aarch64(shown)
    assert len(arm64.MAGIC) == len(arm64.MASK) == 20 and arm64.MAGIC[18] == arm64.EM_AARCH64


def test_rootfs_keys_change_with_each_input_and_the_host_key_is_the_old_one() -> None:
    base = debian.rootfs_key("bookworm", ("python3", "binutils"), "arm64")
    assert debian.rootfs_key("trixie", ("python3", "binutils"), "arm64") != base
    assert debian.rootfs_key("bookworm", ("python3",), "arm64") != base
    assert debian.rootfs_key("bookworm", ("python3", "binutils"), "amd64") != base
    assert debian.rootfs_key("bookworm", ("python3", "binutils")) != base
    # the kind node image's cached rootfs keeps its name: no arch, the key nodeimage has always used
    assert debian.rootfs_key("bookworm", ("a", "b")) == hashlib.sha256(b"bookworm a b").hexdigest()[:12]


def test_a_cached_rootfs_is_returned_without_debootstrap(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    key = debian.rootfs_key("bookworm", ("python3",), "arm64")
    (tmp_path / f"bookworm-arm64-{key}.complete").write_text("60\n")
    monkeypatch.setattr(debian.shutil, "which", lambda _: pytest.fail("debootstrap ran for a cached rootfs"))
    assert debian.rootfs(tmp_path, "bookworm", ("python3",), arch="arm64") == tmp_path / f"bookworm-arm64-{key}"


def test_cross_built_tools_get_their_own_bin_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("CNIQS_CACHE", str(tmp_path))
    monkeypatch.setattr(kubebin, "go_version", lambda: "go1.99")
    assert kubebin.tools_bin_dir() == tmp_path / "tools/go1.99/bin"
    assert kubebin.tools_bin_dir("arm64") == tmp_path / "tools/go1.99-linux-arm64/bin"
    with pytest.raises(kubebin.BuildError, match="containerd need cgo"):
        kubebin.build_tools([kubebin.CONTAINERD], goarch="arm64")


def test_elf_machine_reads_the_header(tmp_path: Path) -> None:
    aarch64 = tmp_path / "a"
    aarch64.write_bytes(arm64.MAGIC + b"\0" * 44)
    assert arm64.elf_machine(aarch64) == arm64.EM_AARCH64
    x86 = tmp_path / "x"
    x86.write_bytes(arm64.MAGIC[:18] + (62).to_bytes(2, "little") + b"\0" * 44)
    assert arm64.elf_machine(x86) == 62
    script = tmp_path / "s"
    script.write_bytes(b"#!/bin/sh\n" + b"\0" * 20)
    with pytest.raises(arm64.EmulationError, match="not an ELF"):
        arm64.elf_machine(script)
    assert arm64.version_tuple("2.36") > arm64.version_tuple("2.4")


def test_the_mounts_are_made_in_order_and_read_only_unless_asked(tmp_path: Path) -> None:
    script = arm64.mount_script(
        tmp_path, [arm64.Bind(Path("/src dir"), "/src"), arm64.Bind(Path("/o"), "/out", writable=True)]
    )
    lines = script.splitlines()
    assert lines[:3] == ["set -e", f"mount -t proc proc {tmp_path}/proc", f"mount --rbind /dev {tmp_path}/dev"]
    assert f"mount --bind '/src dir' {tmp_path}/src" in lines
    assert f"mount -o remount,bind,ro {tmp_path}/src" in lines
    assert f"mount -o remount,bind,ro {tmp_path}/out" not in lines


def test_a_file_is_bound_onto_a_file(tmp_path: Path) -> None:
    ca = tmp_path / "ca.crt"
    ca.write_text("PEM")
    root = tmp_path / "root"
    lines = arm64.mount_script(root, [arm64.Bind(ca, "/run/ca.crt")]).splitlines()
    assert lines[-4:] == [f"mkdir -p {root}/run", f"touch {root}/run/ca.crt", f"mount --bind {ca} {root}/run/ca.crt",
                          f"mount -o remount,bind,ro {root}/run/ca.crt"]  # fmt: skip

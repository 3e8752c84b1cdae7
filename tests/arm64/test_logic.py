"""Pure logic of the arm64 build (cniqs.ship.arm64, cniqs.toolchain.debian): binfmt entries, cache keys, the pins
it reads."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from cniqs.ship import arm64, build, embed
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


def test_rootfs_keys_change_with_each_input_and_keep_the_node_images_key() -> None:
    base = debian.rootfs_key("bookworm", ("python3", "binutils"))
    assert debian.rootfs_key("trixie", ("python3", "binutils")) != base
    assert debian.rootfs_key("bookworm", ("python3",)) != base
    # the kind node image's cached rootfs keeps its name: the key nodeimage has always used
    assert debian.rootfs_key("bookworm", ("a", "b")) == hashlib.sha256(b"bookworm a b").hexdigest()[:12]


def test_a_cached_rootfs_is_returned_without_debootstrap(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    key = debian.rootfs_key("bookworm", ("python3",))
    (tmp_path / f"bookworm-{key}.complete").write_text("60\n")
    monkeypatch.setattr(debian.shutil, "which", lambda _: pytest.fail("debootstrap ran for a cached rootfs"))
    assert debian.rootfs(tmp_path, "bookworm", ("python3",)) == tmp_path / f"bookworm-{key}"


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


def under_sysconfig(monkeypatch: pytest.MonkeyPatch, **values: str) -> None:
    """The build as it runs under another sysconfig data module (a cross build): these variables its."""
    real = embed.sysconfig.get_config_var
    monkeypatch.setattr(embed.sysconfig, "get_config_var", lambda name: values.get(name, real(name)))


ARM64 = {
    "MULTIARCH": "aarch64-linux-gnu",
    "EXT_SUFFIX": ".cpython-311-aarch64-linux-gnu.so",
    "CC": "aarch64-linux-gnu-gcc -pthread",
}


def test_a_build_under_the_arm64_sysconfig_is_a_cross_build_for_arm64(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(embed.sys.implementation, "_multiarch", "x86_64-linux-gnu", raising=False)
    monkeypatch.delenv("CC", raising=False)
    under_sysconfig(monkeypatch, MULTIARCH="x86_64-linux-gnu")
    assert not embed.cross() and embed.compiler_name() == "gcc" and build.build_arch() == build.host_arch()
    under_sysconfig(monkeypatch, **ARM64)
    assert embed.cross()
    assert embed.compiler_name() == "aarch64-linux-gnu-gcc"  # the sysconfig's compiler, without its flags
    assert embed.compiler_name("clang") == "clang"
    assert build.build_arch() == "arm64"


def test_a_cross_build_takes_the_targets_extension_module_and_says_when_it_is_missing(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(embed.sys.implementation, "_multiarch", "x86_64-linux-gnu", raising=False)
    monkeypatch.setattr(embed.importlib.machinery, "EXTENSION_SUFFIXES", [".cpython-311-x86_64-linux-gnu.so", ".so"])
    own = tmp_path / "_json.cpython-311-x86_64-linux-gnu.so"
    own.write_bytes(b"")
    assert embed.target_extension(own) == own  # not a cross build: this interpreter's own
    under_sysconfig(monkeypatch, **ARM64)
    with pytest.raises(SystemExit, match="libpython3.X-stdlib:ARCH"):
        embed.target_extension(own)
    target = tmp_path / "_json.cpython-311-aarch64-linux-gnu.so"
    target.write_bytes(b"")
    assert embed.target_extension(own) == target


def test_a_cross_build_lists_libraries_with_the_targets_loader(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(embed.sys.implementation, "_multiarch", "x86_64-linux-gnu", raising=False)
    ran: list[list[str]] = []

    def fake_run(argv: list[str], **_: object) -> object:
        ran.append(argv)
        return type("Done", (), {"stdout": "libc.so.6 => /lib/x/libc.so.6 (0x1)\n"})()

    monkeypatch.setattr(embed.subprocess, "run", fake_run)
    under_sysconfig(monkeypatch, MULTIARCH="x86_64-linux-gnu")
    embed.list_libraries(Path("/x/plugin"))
    under_sysconfig(monkeypatch, **ARM64)
    monkeypatch.setattr(embed, "LOADERS", {"aarch64-linux-gnu": "/"})  # a path that exists
    assert embed.ldd_paths(Path("/x/plugin")) == [Path("/lib/x/libc.so.6")]
    assert ran == [["ldd", "/x/plugin"], ["/", "--list", "/x/plugin"]]
    monkeypatch.setattr(embed, "LOADERS", {})
    with pytest.raises(SystemExit, match="no dynamic loader for aarch64-linux-gnu"):
        embed.list_libraries(Path("/x/plugin"))

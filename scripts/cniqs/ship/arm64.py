"""Build and check the arm64 node executable and installer image on an amd64 machine: a cross build, run under
user-mode emulation.

    python -m cniqs.ship.arm64            # set up emulation, build (cached), verify; prints what it made
    python -m cniqs.ship.arm64 --force    # rebuild the plugin and the installer even if their sources did not change

Apple-silicon Macs run arm64 kind nodes. This proves the arm64 path with the project's own build (the one
`docker buildx --platform linux/arm64 -f plugin/Dockerfile` runs on a user's machine), without Docker:

1. emulation: binfmt_misc mounted and qemu-aarch64 registered with the F flag (Debian's qemu-user-static),
   so the kernel runs aarch64 ELF files with qemu;
2. Debian's multiarch arm64 packages on this bookworm host (`dpkg --add-architecture arm64`;
   gcc-aarch64-linux-gnu and libpython3.11-dev:arm64, which bring libc6:arm64): a cross compiler, an arm64
   libpython, extension modules and C library, glibc 2.36 as on the oldest node
   (cniqs.providers.kind.versions.NODE_GLIBC);
3. Debian's python3 runs `python3 -m cniqs.ship.build` under the arm64 sysconfig data
   (`_PYTHON_SYSCONFIGDATA_NAME`, cniqs.ship.embed's cross build): build/plugin/linux-arm64/ with the plugin
   (cni-quickstart/), the DaemonSet's installer (cniqs-installer/) and their C library (libc/), as an arm64
   host's build lays it out; the build's own checks run the executables under qemu. The installer image is
   then put together from that folder (`python -m cniqs.providers.cluster.daemonset build --from
   build/plugin/linux-arm64`: only files into a tar);
4. checks: an aarch64 ELF, a glibc floor no newer than the nodes' (2.36), and under emulation the same VERSION
   answer as the plugin module and a CNI error (code 4, no traceback) for a call without CNI variables.

The image itself is then run with podman by the arm64 tests (tests/arm64).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from cniqs.resources import PACKAGE, build_root, plugin_sources
from cniqs.ship import build
from cniqs.toolchain import kubebin

ARCH = "arm64"
MACHINE = "aarch64"
EM_AARCH64 = 183  # e_machine of an aarch64 ELF file
NODE_GLIBC = "2.36"  # bookworm: kind.versions.NODE_GLIBC, the oldest node userland (tests/kind checks)
# The cross build's inputs (Debian bookworm multiarch): Debian's python3, the arm64 sysconfig data it builds
# under, the cross compiler and the arm64 loader the build's checks run through.
DEBIAN_PYTHON = Path("/usr/bin/python3")
SYSCONFIG_DATA = "_sysconfigdata__linux_aarch64-linux-gnu"
CROSS_CC = "aarch64-linux-gnu-gcc"
LOADER = Path("/lib/ld-linux-aarch64.so.1")
CROSS_HINT = (
    "dpkg --add-architecture arm64 && apt-get update && "
    "apt-get install gcc-aarch64-linux-gnu libpython3.11-dev:arm64 python3-dev"
)
PACKAGES_HINT = "apt-get install qemu-user-static binfmt-support"

BINFMT_DIR = Path("/proc/sys/fs/binfmt_misc")
BINFMT_NAME = "qemu-aarch64"
QEMU = Path("/usr/bin/qemu-aarch64-static")
# The ELF header of a 64-bit little-endian aarch64 executable or shared object, and which bits count.
MAGIC = bytes.fromhex("7f454c460201010000000000000000000200b700")
MASK = bytes.fromhex("ffffffffffffff00fffffffffffffffffeffffff")


class EmulationError(RuntimeError):
    """A step failed or a prerequisite is missing; the message says which and what to install."""


def _say(msg: str) -> None:
    print(f"arm64: {msg}", file=sys.stderr, flush=True)


# --- emulation -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Binfmt:
    enabled: bool
    interpreter: str
    flags: str
    magic: bytes = b""
    mask: bytes = b""


def parse_binfmt(text: str) -> Binfmt:
    """One /proc/sys/fs/binfmt_misc/<name> entry (enabled, interpreter, flags: P, O, C, F; magic, mask)."""
    fields: dict[str, str] = {}
    enabled = False
    for line in text.splitlines():
        word, _, rest = line.strip().partition(" ")
        if word in ("enabled", "disabled") and not rest:
            enabled = word == "enabled"
        elif word == "flags:":
            fields["flags"] = rest.strip()
        elif word:
            fields[word] = rest.strip()
    return Binfmt(
        enabled=enabled,
        interpreter=fields.get("interpreter", ""),
        flags=fields.get("flags", ""),
        magic=bytes.fromhex(fields.get("magic", "")),
        mask=bytes.fromhex(fields.get("mask", "")),
    )


def register_line(interpreter: str, name: str = BINFMT_NAME) -> str:
    """The line that registers aarch64 ELF files with qemu; F: the kernel opens the interpreter now, so it
    is found from inside a chroot or a container too."""

    def esc(data: bytes) -> str:
        return "".join(f"\\x{b:02x}" for b in data)

    return f":{name}:M:0:{esc(MAGIC)}:{esc(MASK)}:{interpreter}:F"


def matches_aarch64(entry: Binfmt) -> bool:
    return bool(entry.magic) and entry.magic == MAGIC and entry.mask == MASK


def ensure_emulation() -> Binfmt:
    """binfmt_misc mounted and qemu-aarch64 registered (enabled, F flag); set up here when root can."""
    if not (BINFMT_DIR / "register").exists():
        _say(f"mounting binfmt_misc on {BINFMT_DIR}")
        proc = subprocess.run(["mount", "-t", "binfmt_misc", "binfmt_misc", str(BINFMT_DIR)], capture_output=True)
        if proc.returncode != 0:
            raise EmulationError(f"binfmt_misc is not mounted and mounting it failed: {proc.stderr.decode().strip()}")
    entry_path = BINFMT_DIR / BINFMT_NAME
    if entry_path.exists() and not parse_binfmt(entry_path.read_text()).enabled:
        _say(f"enabling {entry_path}")
        entry_path.write_text("1")
    if not entry_path.exists():
        if not QEMU.exists():
            raise EmulationError(f"qemu-aarch64 is not registered and {QEMU} is missing ({PACKAGES_HINT})")
        if shutil.which("update-binfmts") and Path("/usr/share/binfmts", BINFMT_NAME).exists():
            _say(f"update-binfmts --enable {BINFMT_NAME}")
            subprocess.run(["update-binfmts", "--enable", BINFMT_NAME], capture_output=True)
        if not entry_path.exists():
            _say(f"registering {QEMU} for aarch64 ELF files")
            (BINFMT_DIR / "register").write_text(register_line(str(QEMU)))
    if not entry_path.exists():
        raise EmulationError(f"qemu-aarch64 could not be registered in {BINFMT_DIR} ({PACKAGES_HINT})")
    entry = parse_binfmt(entry_path.read_text())
    if not entry.enabled:
        raise EmulationError(f"{entry_path} is disabled (echo 1 > {entry_path})")
    if "F" not in entry.flags:
        raise EmulationError(
            f"{BINFMT_NAME} is registered without the F flag (flags {entry.flags!r}): its interpreter "
            f"{entry.interpreter} would have to exist inside the root filesystem; re-register it with F "
            f"(Debian's qemu-user-static does: {PACKAGES_HINT})"
        )
    if not matches_aarch64(entry):
        raise EmulationError(f"{entry_path} does not match aarch64 ELF files: {entry}")
    return entry


# --- the cross toolchain -------------------------------------------------------------------------------------


def cache_dir() -> Path:
    return kubebin.cache_root() / "arm64"


def cross_problems() -> list[str]:
    """What this machine lacks for the cross build (with the packages that bring it)."""
    problems = []
    if not DEBIAN_PYTHON.is_file():
        problems.append(f"{DEBIAN_PYTHON} (Debian's python3) is missing")
    elif not list(Path("/usr/lib").glob(f"python3*/{SYSCONFIG_DATA}.py")):
        problems.append(f"no arm64 sysconfig data ({SYSCONFIG_DATA}.py): libpython3.X-dev:arm64 is not installed")
    if shutil.which(CROSS_CC) is None:
        problems.append(f"no cross compiler ({CROSS_CC})")
    if not LOADER.exists():
        problems.append(f"no arm64 C library ({LOADER}: libc6:arm64)")
    return problems


# --- the build ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Built:
    executable: Path  # build/plugin/linux-arm64/cni-quickstart/cni-quickstart
    archive: Path  # the installer image's OCI archive
    image: str
    seconds: dict[str, float]


def build_all(force: bool = False) -> Built:
    """Every step, cached where its inputs did not change; returns what was made."""
    seconds: dict[str, float] = {}

    def step(name: str, t0: float) -> None:
        seconds[name] = round(time.monotonic() - t0, 1)

    t0 = time.monotonic()
    ensure_emulation()
    problems = cross_problems()
    if problems:
        raise EmulationError("the arm64 cross build needs Debian's multiarch packages: " + "; ".join(problems)
                             + f" ({CROSS_HINT})")  # fmt: skip
    step("emulation", t0)
    log = cache_dir() / "build.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    out = build_root()
    out.mkdir(parents=True, exist_ok=True)
    env = {
        "PATH": "/usr/sbin:/usr/bin:/sbin:/bin",
        "HOME": os.environ.get("HOME", "/root"),
        "LANG": "C.UTF-8",
        "PYTHONPATH": f"{PACKAGE.parent}:{plugin_sources().parent}",
        "PYTHONDONTWRITEBYTECODE": "1",
        "_PYTHON_SYSCONFIGDATA_NAME": SYSCONFIG_DATA,
    }
    if os.environ.get("CNIQS_VERBOSE") == "1":
        env["CNIQS_VERBOSE"] = "1"
    force_flag = ["--force"] if force else []
    t0 = time.monotonic()
    _say(f"cross-building the plugin and the installer for arm64 (log {log})")
    argv = [str(DEBIAN_PYTHON), "-m", "cniqs.ship.build", "--out", str(out / f"linux-{ARCH}"), *force_flag]
    with log.open("ab") as log_out:
        log_out.write(f"$ {' '.join(argv)}\n".encode())
        log_out.flush()
        proc = subprocess.run(argv, env=env, stdout=subprocess.PIPE, stderr=log_out, timeout=1800)
    if proc.returncode != 0:
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-20:])
        raise EmulationError(f"python3 -m cniqs.ship.build (arm64) failed (exit {proc.returncode}); log {log}:\n{tail}")
    lines = proc.stdout.decode(errors="replace").strip().splitlines()
    executable = Path(lines[-1]) if lines else out / f"linux-{ARCH}" / "cni-quickstart" / "cni-quickstart"
    step("plugin", t0)
    t0 = time.monotonic()
    # The image from that folder, here (no emulation needed: files into a tar), by its own command (the
    # DaemonSet is a layer above this module).
    argv = [sys.executable, "-m", "cniqs.providers.cluster.daemonset", "build", "--from", str(executable.parents[1])]
    built = subprocess.run([*argv, "--out", str(out)], capture_output=True, text=True, timeout=600)
    if built.returncode != 0:
        raise EmulationError(f"the arm64 installer image: {built.stderr.strip()[-1500:]}")
    archive_text, _, image = built.stdout.strip().splitlines()[-1].partition("\t")
    archive = Path(archive_text)
    step("image", t0)
    return Built(executable, archive, image, seconds)


# --- checks ------------------------------------------------------------------------------------------------


def elf_machine(path: Path) -> int:
    """e_machine of a 64-bit little-endian ELF file (EmulationError for anything else)."""
    with path.open("rb") as fh:
        head = fh.read(20)
    if head[:4] != b"\x7fELF" or len(head) < 20:
        raise EmulationError(f"{path} is not an ELF file")
    if head[4] != 2 or head[5] != 1:
        raise EmulationError(f"{path} is not a 64-bit little-endian ELF file")
    return int.from_bytes(head[18:20], "little")


def version_tuple(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split("."))


def run_emulated(executable: Path, env: Mapping[str, str], stdin: bytes) -> subprocess.CompletedProcess[bytes]:
    """Run an arm64 executable under qemu, its loader and C library this host's arm64 multiarch ones (Debian
    bookworm's, as on a bookworm arm64 node)."""
    full = {"PATH": "/usr/bin:/bin", **env}
    return subprocess.run([str(executable)], input=stdin, env=full, capture_output=True, timeout=120)


def verify(executable: Path) -> list[str]:
    """The checks of step 5; returns what was checked (EmulationError on the first that fails)."""
    done = []
    machine = elf_machine(executable)
    if machine != EM_AARCH64:
        raise EmulationError(f"{executable} is for ELF machine {machine}, not aarch64 ({EM_AARCH64})")
    done.append(f"{executable.name}: ELF aarch64")
    floor = build.required_glibc(executable.parent)
    if floor is None or version_tuple(floor) > version_tuple(NODE_GLIBC):
        raise EmulationError(f"the arm64 build needs glibc {floor}, newer than the nodes' {NODE_GLIBC}")
    done.append(f"glibc floor {floor} <= {NODE_GLIBC}")
    request = json.dumps({"cniVersion": "1.0.0"}).encode()
    got = run_emulated(executable, {"CNI_COMMAND": "VERSION"}, request)
    module_env = {"PATH": "/usr/bin:/bin", "CNI_COMMAND": "VERSION", "PYTHONPATH": str(plugin_sources().parent)}
    want = subprocess.run([sys.executable, "-m", "cni_quickstart"], input=request, env=module_env,
                          capture_output=True, timeout=60)  # fmt: skip
    if got.returncode != 0 or json.loads(got.stdout or b"null") != json.loads(want.stdout):
        raise EmulationError(
            f"VERSION under emulation: exit {got.returncode}, {got.stdout!r} {got.stderr[-500:]!r}; "
            f"the module says {want.stdout!r}"
        )
    done.append(f"VERSION: {got.stdout.decode().strip()}")
    bad = run_emulated(executable, {}, b"")
    answer = json.loads(bad.stdout or b"null")
    traceback = b"Traceback" in bad.stderr
    if bad.returncode == 0 or not isinstance(answer, dict) or answer.get("code") != 4 or traceback:
        raise EmulationError(f"no CNI variables: exit {bad.returncode}, {bad.stdout!r} {bad.stderr[-500:]!r}")
    done.append(f"no CNI variables: exit {bad.returncode}, CNI error code 4 ({answer.get('msg')})")
    return done


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m cniqs.ship.arm64", description=__doc__.split("\n\n")[0])
    parser.add_argument("--force", action="store_true", help="rebuild the plugin and installer")
    args = parser.parse_args(argv)
    if sys.platform != "linux" or os.geteuid() != 0:
        print("arm64: needs Linux and root (binfmt_misc)", file=sys.stderr)
        return 1
    started = time.monotonic()
    try:
        made = build_all(force=args.force)
        checks = verify(made.executable)
    except EmulationError as err:
        print(f"arm64: {err}", file=sys.stderr)
        return 1
    for check in checks:
        _say(f"ok  {check}")
    timings = ", ".join(f"{k} {v:.0f} s" for k, v in made.seconds.items())
    _say(f"done in {time.monotonic() - started:.0f} s ({timings})")
    print(f"executable\t{made.executable}")
    print(f"image\t{made.archive}\t{made.image}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

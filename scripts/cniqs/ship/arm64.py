"""Build and check the arm64 node executable and installer image on an amd64 machine, under user-mode emulation.

    python -m cniqs.ship.arm64            # set up emulation, build (cached), verify; prints what it made
    python -m cniqs.ship.arm64 --force    # rebuild the plugin and the installer even if their sources did not change

Apple-silicon Macs run arm64 kind nodes. This proves the arm64 path with the project's own build, the way
`docker buildx --platform linux/arm64 -f plugin/Dockerfile` does on a user's machine, without Docker:

1. emulation: binfmt_misc mounted and qemu-aarch64 registered with the F flag (Debian's qemu-user-static),
   so the kernel runs aarch64 ELF files with qemu, also inside a chroot;
2. an arm64 Debian bookworm root filesystem (debootstrap --arch=arm64; glibc 2.36, no newer than any node
   the executable is meant for: cniqs.providers.kind.versions.NODE_GLIBC), cached in the user cache dir
   under arm64/rootfs, keyed by release, architecture and packages;
3. inside it, `python3 -m cniqs.ship.build`, exactly as on an arm64 host: build/plugin/linux-arm64/ with the
   plugin (cni-quickstart/), the DaemonSet's installer (cniqs-installer/) and their C library (libc/); the
   installer image is then put together from that folder here (`python -m cniqs.providers.cluster.daemonset
   build --from build/plugin/linux-arm64`: only files into a tar, it needs no emulation);
4. checks: an aarch64 ELF, a glibc floor no newer than the nodes' (2.36), and under emulation the same VERSION answer
   as the plugin module and a CNI error (code 4, no traceback) for a call without CNI variables.

Why a chroot and not `podman run --platform linux/arm64`: the cached root filesystem is used in place (no
image import of some 400 MB per change), and the build reads and writes
this checkout's files directly. Its mounts (/proc, /dev, the sources, the output) are made in a private
mount namespace (`unshare --mount`): they disappear with its last process, also when the build is killed.
The image itself is then run with podman by the arm64 tests (tests/arm64).
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from cniqs.resources import PACKAGE, build_root, plugin_sources
from cniqs.ship import build
from cniqs.toolchain import debian, kubebin

ARCH = "arm64"
MACHINE = "aarch64"
EM_AARCH64 = 183  # e_machine of an aarch64 ELF file
NODE_GLIBC = "2.36"  # bookworm: kind.versions.NODE_GLIBC, the oldest node userland (tests/kind checks)
RELEASE = "bookworm"
# The node build (cniqs.ship.embed, the plugin and the installer): a C compiler, libc headers and Python's headers
# and static library (python3-dev). The others served the PyInstaller installer this build replaced; they
# stay so that the cached root filesystems (keyed by these packages) stay valid.
PACKAGES = (
    "python3", "python3-dev", "libpython3.11", "python3-venv", "gcc", "libc6-dev", "binutils", "ca-certificates",
)  # fmt: skip
PACKAGES_HINT = "apt-get install qemu-user-static binfmt-support"

BINFMT_DIR = Path("/proc/sys/fs/binfmt_misc")
BINFMT_NAME = "qemu-aarch64"
QEMU = Path("/usr/bin/qemu-aarch64-static")
# The ELF header of a 64-bit little-endian aarch64 executable or shared object, and which bits count.
MAGIC = bytes.fromhex("7f454c460201010000000000000000000200b700")
MASK = bytes.fromhex("ffffffffffffff00fffffffffffffffffeffffff")

# Inside the root filesystem
SRC = "/src"  # scripts/ and plugin/ of this checkout, read-only
OUT = "/out"  # this checkout's build/plugin: the outputs land where an arm64 host's build puts them
PATH_ENV = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


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


# --- the root filesystem -------------------------------------------------------------------------------


def cache_dir() -> Path:
    return kubebin.cache_root() / "arm64"


@dataclass(frozen=True)
class Bind:
    host: Path
    inside: str
    writable: bool = False


def mount_script(root: Path, binds: Sequence[Bind]) -> str:
    """The shell lines that mount /proc, /dev and the binds under root (run in a private mount namespace)."""
    r = shlex.quote(str(root))
    lines = ["set -e", f"mount -t proc proc {r}/proc", f"mount --rbind /dev {r}/dev"]
    for bind in binds:
        target = shlex.quote(f"{root}{bind.inside}")
        if bind.host.is_file():
            lines.append(f"mkdir -p {shlex.quote(str(Path(f'{root}{bind.inside}').parent))}")
            lines.append(f"touch {target}")
        else:
            lines.append(f"mkdir -p {target}")
        lines.append(f"mount --bind {shlex.quote(str(bind.host))} {target}")
        if not bind.writable:
            lines.append(f"mount -o remount,bind,ro {target}")
    return "\n".join(lines)


def in_rootfs(
    root: Path,
    argv: Sequence[str],
    *,
    binds: Sequence[Bind] = (),
    env: Mapping[str, str] | None = None,
    log: Path,
    what: str,
    timeout: float = 3600,
) -> str:
    """Run argv chrooted in root (emulated), output appended to log; return its stdout lines' last one."""
    full_env = {"PATH": PATH_ENV, "HOME": "/root", "LANG": "C.UTF-8", **(env or {})}
    for key in ("http_proxy", "https_proxy", "no_proxy", "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "PIP_INDEX_URL"):
        if key in os.environ:
            full_env[key] = os.environ[key]
    chroot = ["chroot", str(root), "/usr/bin/env", "-i", *(f"{k}={v}" for k, v in full_env.items()), *argv]
    script = mount_script(root, binds) + "\nexec " + shlex.join(chroot)
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as out:
        out.write(f"$ {shlex.join(argv)}\n".encode())
        out.flush()
        proc = subprocess.Popen(
            ["unshare", "--mount", "--propagation", "private", "sh", "-c", script],
            stdout=subprocess.PIPE,
            stderr=out,
            start_new_session=True,  # its own process group: killed as a whole below
        )
        try:
            stdout, _ = proc.communicate(timeout=timeout)
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        out.write(stdout)
    if proc.returncode != 0:
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-20:])
        raise EmulationError(f"{what} failed (exit {proc.returncode}); log {log}:\n{tail}")
    lines = stdout.decode(errors="replace").strip().splitlines()
    return lines[-1] if lines else ""


# --- the build ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Built:
    rootfs: Path
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
    step("emulation", t0)
    t0 = time.monotonic()
    root = debian.rootfs(cache_dir() / "rootfs", RELEASE, PACKAGES, arch=ARCH)
    machine = subprocess.run(["chroot", str(root), "uname", "-m"], capture_output=True, text=True)
    if machine.stdout.strip() != MACHINE:
        raise EmulationError(f"chroot {root} uname -m says {machine.stdout.strip() or machine.stderr.strip()!r}")
    step("rootfs", t0)
    log = cache_dir() / "build.log"
    out = build_root()
    out.mkdir(parents=True, exist_ok=True)
    binds = [
        Bind(PACKAGE.parent, f"{SRC}/scripts"),
        Bind(plugin_sources().parent, f"{SRC}/plugin"),
        Bind(out, OUT, writable=True),
    ]
    env = {"PYTHONPATH": f"{SRC}/scripts:{SRC}/plugin", "CNIQS_BUILD_DIR": OUT, "PYTHONDONTWRITEBYTECODE": "1"}
    if os.environ.get("CNIQS_VERBOSE") == "1":
        env["CNIQS_VERBOSE"] = "1"
    force_flag = ["--force"] if force else []
    t0 = time.monotonic()
    _say(f"building the plugin and the installer inside the arm64 root filesystem (emulated; log {log})")
    inside = in_rootfs(
        root,
        ["python3", "-m", "cniqs.ship.build", "--out", f"{OUT}/linux-{ARCH}", *force_flag],
        binds=binds,
        env=env,
        log=log,
        what="python3 -m cniqs.ship.build (arm64)",
    )
    executable = out / Path(inside).relative_to(OUT)
    step("plugin", t0)
    t0 = time.monotonic()
    # The image from that folder, here (no emulation needed: files into a tar), by its own command (the
    # DaemonSet is a layer above this module).
    argv = [sys.executable, "-m", "cniqs.providers.cluster.daemonset", "build", "--from", str(executable.parents[1])]
    proc = subprocess.run([*argv, "--out", str(out)], capture_output=True, text=True, timeout=600)
    if proc.returncode != 0:
        raise EmulationError(f"the arm64 installer image: {proc.stderr.strip()[-1500:]}")
    archive_text, _, image = proc.stdout.strip().splitlines()[-1].partition("\t")
    archive = Path(archive_text)
    step("image", t0)
    return Built(root, executable, archive, image, seconds)


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


def run_emulated(
    root: Path, executable: Path, env: Mapping[str, str], stdin: bytes
) -> subprocess.CompletedProcess[bytes]:
    """Run an arm64 executable of this machine's filesystem under qemu, its loader and libraries from root
    (QEMU_LD_PREFIX): what a bookworm arm64 node would give it."""
    full = {"PATH": "/usr/bin:/bin", "QEMU_LD_PREFIX": str(root), **env}
    return subprocess.run([str(executable)], input=stdin, env=full, capture_output=True, timeout=120)


def verify(root: Path, executable: Path) -> list[str]:
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
    got = run_emulated(root, executable, {"CNI_COMMAND": "VERSION"}, request)
    module_env = {"PATH": "/usr/bin:/bin", "CNI_COMMAND": "VERSION", "PYTHONPATH": str(plugin_sources().parent)}
    want = subprocess.run([sys.executable, "-m", "cni_quickstart"], input=request, env=module_env,
                          capture_output=True, timeout=60)  # fmt: skip
    if got.returncode != 0 or json.loads(got.stdout or b"null") != json.loads(want.stdout):
        raise EmulationError(
            f"VERSION under emulation: exit {got.returncode}, {got.stdout!r} {got.stderr[-500:]!r}; "
            f"the module says {want.stdout!r}"
        )
    done.append(f"VERSION: {got.stdout.decode().strip()}")
    bad = run_emulated(root, executable, {}, b"")
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
        print("arm64: needs Linux and root (binfmt_misc, debootstrap, chroot)", file=sys.stderr)
        return 1
    started = time.monotonic()
    try:
        made = build_all(force=args.force)
        checks = verify(made.rootfs, made.executable)
    except (EmulationError, debian.RootfsError) as err:
        print(f"arm64: {err}", file=sys.stderr)
        return 1
    for check in checks:
        _say(f"ok  {check}")
    timings = ", ".join(f"{k} {v:.0f} s" for k, v in made.seconds.items())
    _say(f"done in {time.monotonic() - started:.0f} s ({timings})")
    print(f"executable\t{made.executable}")
    print(f"image\t{made.archive}\t{made.image}")
    print(f"rootfs\t{made.rootfs}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

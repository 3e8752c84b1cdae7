"""Median wall time of one CNI ADD through every way of shipping the plugin, side by side.

Builds (cached under the build dir's bench/) and times, on the same prevResult ADD and in the same run,
each candidate node executable: PyInstaller one-folder builds with several option sets, a Nuitka
standalone build, and CPython embedded with the plugin frozen in (cniqs.embed, static and shared
libpython). Reference points: a bare `python3 -I -S -c pass` (the interpreter the builds embed), the
plugin itself run from compiled bytecode by `python3 -I -S` (the floor of a CPython that loads its
modules from files), and the Go reference plugin `ptp` answering VERSION.

Calls are interleaved (one call of each candidate per round) so machine load hits them all alike.
Columns: median ms; ratio to `python3 -I -S -c pass`; the newest glibc symbol version the build asks
for; size on disk; `ok` when the ADD rewrites the IP and malformed input gets a CNI error (code 6, no
traceback). `node` marks the candidate build.py ships.
"""

from __future__ import annotations

import argparse
import compileall
import hashlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from cniqs import build, embed
from cniqs.build import NAME
from cniqs.resources import build_root, plugin_sources

REFERENCE_DIRS = ("/usr/lib/cni", "/opt/cni/bin")

ADD_CONFIG = {
    "cniVersion": "0.3.1",
    "name": "kindnet",
    "type": NAME,
    "prevResult": {
        "cniVersion": "0.3.1",
        "interfaces": [
            {"name": "veth0a1b2c3d", "mac": "6e:5d:3b:11:22:33"},
            {"name": "eth0", "mac": "ae:89:21:5f:e3:5f", "sandbox": "/var/run/netns/cni-bench"},
        ],
        "ips": [{"version": "4", "address": "10.244.0.148/24", "gateway": "10.244.0.1", "interface": 1}],
        "routes": [{"dst": "0.0.0.0/0"}],
        "dns": {},
    },
}
ADD_ENV = {"CNI_COMMAND": "ADD", "CNI_CONTAINERID": "bench", "CNI_NETNS": "/var/run/netns/cni-bench",
           "CNI_IFNAME": "eth0", "CNI_PATH": "/usr/lib/cni"}  # fmt: skip


@dataclass
class Row:
    label: str
    argv: list[str]
    env: dict[str, str]
    stdin: bytes
    folder: Path | None = None  # a candidate build: glibc, size and the checks apply
    node: bool = False
    times: list[float] | None = None
    ok: str = ""

    @property
    def median(self) -> float:
        return statistics.median(self.times or [float("nan")])


def interpreter() -> str:
    """The interpreter the builds embed (resolved: a pyenv shim would time bash, not python)."""
    return os.path.realpath(sys.executable)


def cached(key: str, make: Callable[[Path], Path]) -> Path:
    """make(root) -> folder, rebuilt when the plugin's sources, the interpreter or key change."""
    stamp_text = hashlib.sha256(f"{key}\0{build.build_digest()}\0{sys.version}".encode()).hexdigest()
    root = build_root() / "bench" / key
    stamp = root / "stamp"
    if stamp.is_file() and stamp.read_text() == stamp_text and (root / NAME / NAME).is_file():
        return root / NAME
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    folder = make(root)
    stamp.write_text(stamp_text)
    return folder


def pyinstaller(options: tuple[str, ...], excludes: tuple[str, ...]) -> Callable[[Path], Path]:
    def make(root: Path) -> Path:
        folder = build.freeze(plugin_sources() / "__main__.py", NAME, plugin_sources().parent, root, excludes, options)
        for leftover in ("build.log", f"{NAME}.spec"):
            (root / leftover).unlink(missing_ok=True)
        return folder

    return make


def nuitka(root: Path) -> Path:
    cmd = [
        sys.executable, "-m", "nuitka", "--standalone", "--assume-yes-for-downloads", "--remove-output",
        f"--output-dir={root}", f"--output-filename={NAME}",
        "--python-flag=no_site,isolated,no_docstrings,no_asserts,-m", "--nofollow-import-to=typing",
        str(plugin_sources()),
    ]  # fmt: skip
    print("cniqs: building the Nuitka candidate (about a minute)", file=sys.stderr, flush=True)
    env = {**os.environ, "PYTHONPATH": str(plugin_sources().parent)}
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        raise SystemExit(f"the Nuitka build failed:\n{proc.stdout[-2000:]}{proc.stderr[-2000:]}")
    (root / f"{plugin_sources().name}.dist").rename(root / NAME)
    return root / NAME


def embedded(link: str) -> Callable[[Path], Path]:
    return lambda root: embed.build(plugin_sources(), root, NAME, link=link)


def floor_sources(root: Path) -> Path:
    """A copy of the plugin's sources with their bytecode compiled (for python3 -I -S, which reads .pyc)."""
    shutil.copytree(plugin_sources(), root / NAME / plugin_sources().name)
    compileall.compile_dir(root / NAME, quiet=1)
    (root / NAME / NAME).write_text("")  # the cache's marker file
    return root / NAME


def have_module(name: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(name) is not None


def candidates() -> list[tuple[str, str, Callable[[Path], Path] | None, str]]:
    """(label, cache key, builder, why not available)."""
    full = (*build.FREEZE_OPTIONS,)
    no_archive = tuple(o for o in full if o not in ("--debug", "noarchive"))
    pyi = "" if have_module("PyInstaller") else "pip install pyinstaller"
    nui = "" if have_module("nuitka") and shutil.which("patchelf") else "pip install nuitka; apt install patchelf"
    gcc = "" if shutil.which(os.environ.get("CC") or "gcc") else "apt install gcc libc6-dev"
    static = "" if embed.static_libpython() else "this Python has no libpython.a"
    return [
        ("PyInstaller onedir: --strip -OO noarchive, excludes", "pyinstaller-node",
         pyinstaller(full, build.EXCLUDES), pyi),
        ("PyInstaller onedir: --strip -OO, PYZ archive, excludes", "pyinstaller-pyz",
         pyinstaller(no_archive, build.EXCLUDES), pyi),
        ("PyInstaller onedir: defaults", "pyinstaller-defaults", pyinstaller((), ()), pyi),
        ("Nuitka --standalone", "nuitka", nuitka, nui),
        ("embedded CPython, frozen plugin, static libpython", "embed-static", embedded("static"), gcc or static),
        ("embedded CPython, frozen plugin, shared libpython", "embed-shared", embedded("shared"), gcc),
    ]  # fmt: skip


def find_reference(name: str) -> str | None:
    for d in REFERENCE_DIRS:
        if os.access(f"{d}/{name}", os.X_OK):
            return f"{d}/{name}"
    return None


def check(row: Row) -> str:
    """ok when the ADD answers with the rewritten IP and malformed input gets CNI error 6, no traceback."""
    out = subprocess.run(row.argv, input=row.stdin, env=row.env, capture_output=True)
    bad = subprocess.run(row.argv, input=b"{", env=row.env, capture_output=True)
    try:
        good = out.returncode == 0 and json.loads(out.stdout)["ips"][0]["address"] == "1.2.3.0/24"
        err = bad.returncode != 0 and json.loads(bad.stdout)["code"] == 6 and b"Traceback" not in bad.stderr
    except (ValueError, KeyError, IndexError, TypeError):
        return "FAIL"
    return "ok" if good and err else "FAIL"


def size_mb(folder: Path) -> float:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file() and not p.is_symlink()) / 1e6


def time_rows(rows: list[Row], runs: int, warmup: int = 3) -> None:
    for row in rows:
        row.times = []
    for i in range(warmup + runs):
        for row in rows:
            start = time.perf_counter()
            subprocess.run(row.argv, input=row.stdin, env=row.env, stdout=subprocess.DEVNULL, check=True)
            if i >= warmup:
                assert row.times is not None
                row.times.append((time.perf_counter() - start) * 1000)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=40)
    parser.add_argument("--only", help="comma-separated cache keys of the candidates to build and time")
    args = parser.parse_args(argv)
    stdin = json.dumps(ADD_CONFIG).encode()
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), **ADD_ENV}
    python3 = interpreter()
    rows = [Row("python3 -I -S -c pass", [python3, "-I", "-S", "-c", "pass"], env, b"")]
    floor = cached("floor-sources", floor_sources)
    run = f"import sys; sys.path.insert(0, {str(floor)!r}); from cni_quickstart.main import main; sys.exit(main())"
    rows.append(Row("plugin from .pyc files: python3 -I -S -c 'main()'", [python3, "-I", "-S", "-c", run], env, stdin))
    skipped = []
    wanted = set(args.only.split(",")) if args.only else None
    for label, key, make, missing in candidates():
        if wanted is not None and key not in wanted:
            continue
        if missing or make is None:
            skipped.append(f"{label}: not built ({missing})")
            continue
        folder = cached(key, make)
        node = key == "pyinstaller-node"
        rows.append(Row(label, [str(folder / NAME)], env, stdin, folder=folder, node=node))
    debian = "/usr/bin/python3"
    if os.path.exists(debian) and os.path.realpath(debian) != python3:
        rows.append(Row(f"{debian} -I -S -c pass (the distribution's)", [debian, "-I", "-S", "-c", "pass"], env, b""))
    ptp = find_reference("ptp")
    if ptp:
        rows.append(Row("Go ptp VERSION", [ptp], {**env, "CNI_COMMAND": "VERSION"}, b'{"cniVersion":"0.3.1"}'))
    for row in rows:
        if row.folder is not None:
            row.ok = check(row)
    time_rows(rows, args.runs)

    base = rows[0].median
    print(f"median wall time of one call, {args.runs} interleaved runs each, {os.cpu_count()} CPUs, "
          f"python3 = {python3} ({sys.version.split()[0]})")  # fmt: skip
    print(f"  {'candidate':<62} {'median':>9} {'ratio':>6} {'glibc':>6} {'size':>8}  check")
    for row in rows:
        glibc = (build.required_glibc(row.folder) or "-") if row.folder else ""
        size = f"{size_mb(row.folder):5.1f} MB" if row.folder else ""
        mark = f"{row.ok}{' (node)' if row.node else ''}"
        print(f"  {row.label:<62} {row.median:6.1f} ms {row.median / base:5.2f}x {glibc:>6} {size:>8}  {mark}")
    for line in skipped:
        print(f"  {line}")
    return 0 if all(row.ok in ("", "ok") for row in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())

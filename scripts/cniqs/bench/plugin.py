"""Median time of one CNI ADD through every way of shipping the plugin, side by side.

Builds (cached under the build dir's bench/) and times, on the same prevResult ADD and in the same run,
each candidate node executable: PyInstaller one-folder builds with several option sets, a Nuitka
standalone build, a relocatable CPython folder (the interpreter, its libpython and only the modules the
plugin imports, as .pyc, behind a /bin/sh launcher), and CPython embedded with the plugin frozen in
(cniqs.ship.embed, static and shared libpython; the node build). Reference points: a bare
`python3 -I -S -c pass` (the interpreter the builds embed), the plugin itself run from compiled bytecode
by `python3 -I -S` (the floor of a CPython that loads its modules from files), the distribution's
python3 (statically linked) and the Go reference plugin `ptp` answering VERSION.

Calls are interleaved (one call of each candidate per round) so machine load hits them all alike.
Columns: median wall ms and its ratio to `python3 -I -S -c pass`; median CPU ms (user + system of the
child, which a busy machine inflates far less than wall time) and its ratio; the newest glibc symbol
version the build asks for; size on disk; `ok` when the ADD rewrites the IP and malformed input gets a
CNI error (code 6, no traceback). `node` marks the candidate build.py ships.
"""

from __future__ import annotations

import argparse
import compileall
import hashlib
import json
import os
import py_compile
import resource
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from cniqs.install.executable import NAME
from cniqs.resources import build_root, plugin_sources
from cniqs.ship import build, embed

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
    cpu: list[float] | None = None
    ok: str = ""

    @property
    def median(self) -> float:
        return statistics.median(self.times or [float("nan")])

    @property
    def cpu_median(self) -> float:
        return statistics.median(self.cpu or [float("nan")])


def interpreter() -> str:
    """The interpreter the builds embed (resolved: a pyenv shim would time bash, not python)."""
    return os.path.realpath(sys.executable)


def cached(key: str, make: Callable[[Path], Path]) -> Path:
    """make(root) -> folder, rebuilt when the plugin's sources, the interpreter, this module or key change."""
    own = hashlib.sha256(Path(__file__).read_bytes()).hexdigest()  # the candidates' recipes live here
    stamp_text = hashlib.sha256(f"{key}\0{build.build_digest()}\0{own}".encode()).hexdigest()
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


RELOCATABLE_LAUNCHER = """#!/bin/sh
# Run as <folder>/{name}, or as <bin>/{name}, the install's symlink to {name}.d/{name}: find the folder
# without a readlink process (the install layout is fixed).
d=${{0%/*}}
[ -x "$d/bin/python3" ] || d="$0.d"
exec "$d/bin/python3" -I -S -c 'import sys; from cni_quickstart.main import main; sys.exit(main())'
"""


def relocatable(root: Path) -> Path:
    """The interpreter binary (rpath $ORIGIN/../lib), its libpython, and only the modules the plugin
    imports as sourceless .pyc files in lib/python3.X/ (extension modules in lib-dynload/), started by a
    /bin/sh launcher with python3 -I -S. The interpreter's own prefix search finds lib/ beside bin/."""
    folder = root / NAME
    stdlib = folder / "lib" / f"python{sys.version_info[0]}.{sys.version_info[1]}"
    (stdlib / "lib-dynload").mkdir(parents=True)
    (folder / "bin").mkdir()
    shutil.copy2(interpreter(), folder / "bin" / "python3")
    shared = embed.shared_libpython()
    if shared is not None:
        shutil.copy2(shared, folder / "lib" / shared.name)
        subprocess.run(["strip", "--strip-unneeded", str(folder / "lib" / shared.name)], check=True)
        subprocess.run(["patchelf", "--set-rpath", "$ORIGIN/../lib", str(folder / "bin" / "python3")], check=True)
    found = embed.plan(plugin_sources())
    modules = [*found.frozen, ("os", Path(os.__file__), False)]  # os: the landmark of the prefix search
    for name, source, is_package in modules:
        parts = name.split(".")
        dest = (
            stdlib.joinpath(*parts, "__init__.pyc") if is_package else stdlib.joinpath(*parts[:-1], f"{parts[-1]}.pyc")
        )
        dest.parent.mkdir(parents=True, exist_ok=True)
        py_compile.compile(str(source), cfile=str(dest), optimize=2, doraise=True,
                           invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH)  # fmt: skip
    for ext in found.extensions:
        shutil.copy2(ext, stdlib / "lib-dynload" / ext.name)
    launcher = folder / NAME
    launcher.write_text(RELOCATABLE_LAUNCHER.format(name=NAME))
    launcher.chmod(0o755)
    return folder


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
    gcc = embed.missing() or ""
    static = "" if embed.static_libpython() else "this Python has no libpython.a"
    return [
        ("PyInstaller onedir: --strip -OO noarchive, excludes", "pyinstaller-node",
         pyinstaller(full, embed.NEVER_IMPORTED), pyi),
        ("PyInstaller onedir: --strip -OO, PYZ archive, excludes", "pyinstaller-pyz",
         pyinstaller(no_archive, embed.NEVER_IMPORTED), pyi),
        ("PyInstaller onedir: defaults", "pyinstaller-defaults", pyinstaller((), ()), pyi),
        ("Nuitka --standalone", "nuitka", nuitka, nui),
        ("relocatable CPython dir: python3 -I -S, .pyc subset, sh launcher", "relocatable", relocatable,
         "" if shutil.which("patchelf") and shutil.which("strip") else "apt install patchelf binutils"),
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


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def time_rows(rows: list[Row], runs: int, warmup: int = 3) -> None:
    """Wall time and CPU time (user + system, which waiting for a busy machine's CPUs does not inflate)."""
    for row in rows:
        row.times, row.cpu = [], []
    for i in range(warmup + runs):
        for row in rows:
            cpu, start = children_cpu(), time.perf_counter()
            subprocess.run(row.argv, input=row.stdin, env=row.env, stdout=subprocess.DEVNULL, check=True)
            wall, cpu = (time.perf_counter() - start) * 1000, (children_cpu() - cpu) * 1000
            if i >= warmup and row.times is not None and row.cpu is not None:
                row.times.append(wall)
                row.cpu.append(cpu)


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
        node = key == f"embed-{'static' if embed.static_libpython() else 'shared'}"
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
    time_rows([row for row in rows if row.ok != "FAIL"], args.runs)

    base, cpu_base = rows[0].median, rows[0].cpu_median
    print(f"median of one call, {args.runs} interleaved runs each, {os.cpu_count()} CPUs, load average "
          f"{os.getloadavg()[0]:.1f}, python3 = {python3} ({sys.version.split()[0]})")  # fmt: skip
    print(f"  {'candidate':<66} {'wall':>8} {'ratio':>6} {'cpu':>8} {'ratio':>6} {'glibc':>6} {'size':>8}  check")
    for row in rows:
        glibc = (build.required_glibc(row.folder) or "-") if row.folder else ""
        size = f"{size_mb(row.folder):5.1f} MB" if row.folder else ""
        mark = f"{row.ok}{' (node)' if row.node else ''}"
        print(f"  {row.label:<66} {row.median:5.1f} ms {row.median / base:5.2f}x {row.cpu_median:5.1f} ms "
              f"{row.cpu_median / cpu_base:5.2f}x {glibc:>6} {size:>8}  {mark}")  # fmt: skip
    for line in skipped:
        print(f"  {line}")
    return 0 if all(row.ok in ("", "ok") for row in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())

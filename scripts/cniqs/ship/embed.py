"""Build the plugin as embedded CPython: a small C launcher linked with libpython, the plugin frozen in.

The folder it makes holds `cni-quickstart` (launcher.c compiled with gcc) and `lib/` with the few
extension modules the plugin imports (select, _json, _socket, fcntl). Every pure-Python module the plugin
can import, its own and the stdlib's, is compiled to bytecode (optimize=2) and frozen into the executable:
the interpreter finds them in memory, with no file system search and no archive to open. It starts
isolated, like `python3 -I -S`, in UTF-8 mode.

libpython is linked statically when the building Python ships libpython3.X.a (pyenv, Debian's
libpython3.X-dev), else the shared libpython is copied into lib/ and found through an $ORIGIN rpath.
Needs a C compiler and the building Python's headers; the executable runs on the same architecture and
the same or a newer glibc than the build machine (build on bookworm for kind's nodes).

A cross build (cross()) is the same build under another architecture's sysconfig data: Debian's python3 with
`_PYTHON_SYSCONFIGDATA_NAME=_sysconfigdata__linux_aarch64-linux-gnu` (libpython3.11-dev:arm64, multiarch) builds
for arm64 with that sysconfig's compiler (aarch64-linux-gnu-gcc), libpython and extension modules, and lists an
ELF file's libraries with the target's loader (`ld-linux-aarch64.so.1 --list`, run under user-mode emulation)
where ldd knows only the host's.

The DaemonSet's node installer (cniqs.install.nodeinstall) is built the same way (INSTALLER): the same launcher
running another module's main(), that module's imports frozen in. So every executable of the installer image
comes from this one build, on a Linux host or in plugin/Dockerfile's container, and needs neither
PyInstaller nor anything else of the host that runs the image build.
"""

from __future__ import annotations

import _imp
import importlib.machinery
import marshal
import modulefinder
import os
import shutil
import subprocess
import sys
import sysconfig
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from cniqs.resources import PACKAGE, PLUGIN_PACKAGE

LAUNCHER_C = Path(__file__).resolve().with_name("launcher.c")  # package data beside this module
# Codecs the interpreter may load at start-up: UTF-8 mode makes stdio and file names UTF-8.
START_MODULES = ("encodings", "encodings.aliases", "encodings.utf_8", "encodings.ascii", "encodings.latin_1")
LINKS = ("auto", "static", "shared")
# Stdlib packages the plugin never imports at run time that the import graph would otherwise pull in
# (typing: only under TYPE_CHECKING; the rest: through lazy imports deep in json's and re's dependencies).
NEVER_IMPORTED = (
    "tkinter", "unittest", "pydoc", "doctest", "email", "http", "xml", "sqlite3", "asyncio",
    "multiprocessing", "inspect", "zipfile", "bz2", "lzma", "urllib", "pathlib", "shutil",
)  # fmt: skip
EXCLUDES = ("typing", *NEVER_IMPORTED)


# The dynamic loader of each Debian multiarch target: what a cross build lists an ELF file's libraries with.
LOADERS = {"x86_64-linux-gnu": "/lib64/ld-linux-x86-64.so.2", "aarch64-linux-gnu": "/lib/ld-linux-aarch64.so.1"}


def target_multiarch() -> str:
    """The Debian multiarch triplet the build makes executables for (its sysconfig's), '' where unknown."""
    return str(sysconfig.get_config_var("MULTIARCH") or "")


def cross() -> bool:
    """Whether the sysconfig data in use is another architecture's than this interpreter's own."""
    own = getattr(sys.implementation, "_multiarch", "")
    return bool(own and target_multiarch() and own != target_multiarch())


def target_extension(path: Path) -> Path:
    """An extension module modulefinder found for this interpreter, as the target's build of it (the same
    module under the target's EXT_SUFFIX, beside it in multiarch's shared lib-dynload)."""
    if not cross():
        return path
    own, wanted = importlib.machinery.EXTENSION_SUFFIXES[0], str(sysconfig.get_config_var("EXT_SUFFIX"))
    if not path.name.endswith(own):
        raise SystemExit(f"cannot cross-build with {path}: not named for this interpreter ({own})")
    found = path.with_name(path.name[: -len(own)] + wanted)
    if not found.is_file():
        raise SystemExit(f"{found} is missing: the target's Python stdlib (libpython3.X-stdlib:ARCH) is not installed")
    return found


def list_libraries(elf: Path) -> str:
    """ldd's listing of an ELF file's libraries; in a cross build the target's loader's (the same format)."""
    if not cross():
        return subprocess.run(["ldd", str(elf)], capture_output=True, text=True).stdout
    loader = LOADERS.get(target_multiarch())
    if loader is None or not Path(loader).exists():
        raise SystemExit(
            f"no dynamic loader for {target_multiarch()} here (libc6:ARCH, and qemu-user-static to run it)"
        )
    return subprocess.run([loader, "--list", str(elf)], capture_output=True, text=True).stdout


def compiler_name(cc: str | None = None) -> str:
    """The C compiler: cc, $CC, the cross compiler a cross build's sysconfig names, else gcc."""
    if cc or os.environ.get("CC"):
        return str(cc or os.environ.get("CC"))
    if cross():
        return str(sysconfig.get_config_var("CC") or "").split()[0] or "gcc"
    return "gcc"


@dataclass(frozen=True)
class Program:
    """What one executable runs: main is the module whose main() the launcher calls, search the folder its
    package is imported from, entries where the import graph starts, excludes what it never imports."""

    main: str
    search: Path
    entries: tuple[str, ...]
    excludes: tuple[str, ...]


def plugin_program(sources: Path) -> Program:
    """The plugin (sources: the cni_quickstart package's folder)."""
    entries = (f"{PLUGIN_PACKAGE}.__main__", f"{PLUGIN_PACKAGE}.main")
    return Program(f"{PLUGIN_PACKAGE}.main", sources.parent, entries, EXCLUDES)


# The installer's modules use typing, dataclasses (so inspect), pathlib (so urllib.parse) and shutil at run
# time. Nothing of cniqs.ship runs on a node (the installer imports cniqs.install only); the builder stays out.
INSTALLER_EXCLUDES = (
    "tkinter", "unittest", "pydoc", "doctest", "email", "http", "xml", "sqlite3", "asyncio",
    "multiprocessing", "zipfile", "bz2", "lzma", "cniqs.ship.embed",
    "_hashlib",  # OpenSSL's hashes (libcrypto, 4.5 MiB): hashlib falls back to CPython's own sha256
)  # fmt: skip
INSTALLER = Program("cniqs.install.nodeinstall", PACKAGE.parent, ("cniqs.install.nodeinstall",), INSTALLER_EXCLUDES)


@dataclass(frozen=True)
class Plan:
    frozen: tuple[tuple[str, Path, bool], ...]  # (module, source file, is package)
    extensions: tuple[Path, ...]  # extension modules to place in lib/


def plan(program: Program | Path, extra: Iterable[str] = START_MODULES) -> Plan:
    """Every module the program can import (imports inside functions included), but its excludes. A Path is
    the plugin's sources (plugin_program)."""
    if isinstance(program, Path):
        program = plugin_program(program)
    stdlib = sysconfig.get_path("stdlib")
    # Where this Python's extension modules are installed; in a venv, platstdlib would name the venv's own lib/.
    dynload = sysconfig.get_config_var("DESTSHARED") or os.path.join(stdlib, "lib-dynload")
    finder = modulefinder.ModuleFinder(path=[str(program.search), stdlib, dynload], excludes=list(program.excludes))
    for name in (*program.entries, *extra):
        finder.import_hook(name)
    frozen, extensions = [], []
    for name, module in sorted(finder.modules.items()):
        file: str | None = getattr(module, "__file__", None)
        if file is None or name == "__main__":
            continue  # built into the interpreter
        if file.endswith(".py"):
            if not _imp.is_frozen(name):  # CPython's own frozen modules (os, io, codecs...) stay its own
                frozen.append((name, Path(file), getattr(module, "__path__", None) is not None))
        else:
            extensions.append(target_extension(Path(file)))
    return Plan(tuple(frozen), tuple(extensions))


def own_sources(program: Program) -> list[Path]:
    """The program's own modules (under its search folder), as a build's cache key needs them: quick, as only
    they are read (the standard library is the building Python's, which the key names by version)."""
    finder = modulefinder.ModuleFinder(path=[str(program.search)], excludes=list(program.excludes))
    for name in program.entries:
        finder.import_hook(name)
    files = {getattr(m, "__file__", None) for m in finder.modules.values()}
    return sorted(Path(f) for f in files if f and f.endswith(".py"))


def frozen_table_c(modules: Iterable[tuple[str, Path, bool]]) -> str:
    """C source of `cniqs_frozen`, the PyImport_FrozenModules table of the modules' marshalled bytecode."""
    arrays, entries = [], []
    for i, (name, path, is_package) in enumerate(modules):
        code = compile(path.read_bytes(), f"<frozen {name}>", "exec", optimize=2, dont_inherit=True)
        data = marshal.dumps(code)
        arrays.append(f"static const unsigned char m{i}[] = {{{','.join(map(str, data))}}};")
        if sys.version_info >= (3, 11):
            entries.append(f'    {{"{name}", m{i}, (int)sizeof(m{i}), {int(is_package)}, NULL}},')
        else:  # 3.10's struct _frozen: {name, code, size}, a package's size negated
            entries.append(f'    {{"{name}", m{i}, {"-" if is_package else ""}(int)sizeof(m{i})}},')
    return "\n".join(
        [
            "#include <Python.h>",
            *arrays,
            "const struct _frozen cniqs_frozen[] = {",
            *entries,
            "    {0},",
            "};",
            "",
        ]
    )


def static_libpython() -> Path | None:
    """libpython3.X.a; Debian's position-independent copy (libpython3.X-pic.a) first: its plain one is not."""
    library = sysconfig.get_config_var("LIBRARY") or ""  # libpython3.X.a
    for d in (sysconfig.get_config_var("LIBPL"), sysconfig.get_config_var("LIBDIR")):
        for name in (library.replace(".a", "-pic.a"), library):
            if library and d and (Path(d) / name).is_file():
                return Path(d) / name
    return None


def shared_libpython() -> Path | None:
    name, d = sysconfig.get_config_var("INSTSONAME"), sysconfig.get_config_var("LIBDIR")
    return Path(d) / name if name and d and (Path(d) / name).is_file() else None


# Libraries every glibc system has: never copied into lib/ (the glibc check covers their versions).
GLIBC_LIBRARIES = ("linux-vdso", "ld-linux", "libc.so", "libm.so", "libpthread.so", "libdl.so", "librt.so",
                   "libutil.so", "libresolv.so", "libcrypt.so")  # fmt: skip
# DT_RPATH, not DT_RUNPATH: it also serves the dependencies of libpython and of the extension modules.
RPATH = "-Wl,--disable-new-dtags,-rpath,$ORIGIN/lib"


def link_args(link: str, lib_dir: Path) -> list[str]:
    """gcc arguments that link libpython (and copy it into lib_dir when shared)."""
    libs: list[str] = []
    for var in ("MODLIBS", "LIBS", "SYSLIBS"):  # MODLIBS: what modules built into libpython link (Debian: z, expat)
        libs += [a for a in (sysconfig.get_config_var(var) or "").split() if a.startswith("-l") and a not in libs]
    static = static_libpython() if link in ("auto", "static") else None
    if static is not None:
        # -E: the extension modules in lib/ find the interpreter's symbols in the executable.
        return [str(static), *libs, "-Wl,-E", RPATH]
    if link == "static":
        raise SystemExit("this Python ships no static libpython (libpython3.X.a); use link='shared'")
    shared = shared_libpython()
    if shared is None:
        raise SystemExit("this Python ships no shared libpython either; cannot embed it")
    shutil.copy2(shared, lib_dir / shared.name)
    if shutil.which("strip"):  # debug symbols: most of the library's size, none of its use on a node
        subprocess.run(["strip", "--strip-unneeded", str(lib_dir / shared.name)], check=True)
    return [f"-L{shared.parent}", f"-l:{shared.name}", *libs, RPATH]


def vendor_libraries(folder: Path, lib_dir: Path) -> list[str]:
    """Copy into lib_dir the shared libraries the build needs beyond glibc's (ldd of each ELF file), so the
    folder runs on a node that has only glibc; return their names."""
    copied: list[str] = []
    pending = [folder / folder.name, *sorted(lib_dir.iterdir())]
    while pending:
        elf = pending.pop()
        out = list_libraries(elf)
        for line in out.splitlines():
            name, _, rest = line.strip().partition(" => ")
            path = rest.split(" (")[0].strip()
            if not path.startswith("/") or name.startswith(GLIBC_LIBRARIES) or (lib_dir / name).exists():
                continue
            shutil.copy2(path, lib_dir / name)
            copied.append(name)
            pending.append(lib_dir / name)
    return copied


def ldd_paths(elf: Path) -> list[Path]:
    """The absolute paths ldd resolves for an ELF file: its libraries and its program interpreter."""
    out = list_libraries(elf)
    found = []
    for line in out.splitlines():
        parts = line.split()
        candidate = parts[2] if "=>" in parts and len(parts) > 2 else parts[0] if parts else ""
        if candidate.startswith("/"):
            found.append(Path(candidate))
    return found


def copy_c_library(folders: Iterable[Path], dest: Path) -> list[Path]:
    """Copy into dest, each at its path on this machine (dest/lib/x86_64-linux-gnu/libc.so.6, dest/lib64/...),
    the glibc libraries and loader the folders' ELF files need: what vendor_libraries leaves out (it copied
    the rest into their lib/). A root filesystem for them, as the installer image's. Returns the copies."""
    needed: set[Path] = set()
    for folder in folders:
        for elf in sorted(p for p in folder.rglob("*") if p.is_file() and not p.is_symlink()):
            with elf.open("rb") as head:
                if head.read(4) != b"\x7fELF":
                    continue
            needed.update(p for p in ldd_paths(elf) if p.name.startswith(GLIBC_LIBRARIES))
    copied = []
    for path in sorted(needed):
        target = dest / path.relative_to("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)  # the file a symlink (ld-linux's /lib64 link) names, under the link's path
        target.chmod(0o755)
        copied.append(target)
    return copied


def missing(cc: str | None = None) -> str | None:
    """Why this machine cannot build the embedded executable, or None when it can."""
    compiler = compiler_name(cc)
    if shutil.which(compiler) is None:
        package = f"gcc-{target_multiarch()}" if cross() else "gcc"
        return f"no C compiler ({compiler} not found; apt install {package} libc6-dev)"
    include = sysconfig.get_path("include")
    if not (Path(include) / "Python.h").is_file():
        return f"no Python headers ({include}/Python.h is missing; for Debian's python3: apt install python3-dev)"
    if static_libpython() is None and shared_libpython() is None:
        return "this Python ships neither a static nor a shared libpython to embed"
    return None


def build(sources: Path | Program, out: Path, name: str, link: str = "auto", cc: str | None = None) -> Path:
    """Build the folder out/name holding the executable out/name/name; return the folder. sources: the
    plugin's (a Path) or another Program."""
    if link not in LINKS:
        raise ValueError(f"link must be one of {LINKS}")
    problem = missing(cc)
    if problem is not None:
        raise SystemExit(f"cannot build the embedded {name}: {problem}")
    compiler = compiler_name(cc)
    include = sysconfig.get_path("include")
    folder = out / name
    shutil.rmtree(folder, ignore_errors=True)
    lib_dir = folder / "lib"
    lib_dir.mkdir(parents=True)
    program = plugin_program(sources) if isinstance(sources, Path) else sources
    found = plan(program)
    for ext in found.extensions:
        shutil.copy2(ext, lib_dir / ext.name)
    table = out / "frozen.c"
    table.write_text(frozen_table_c(found.frozen))
    cmd = [compiler, "-O2", "-s", f"-I{include}", f'-DCNIQS_MAIN="{program.main}"', "-o", str(folder / name)]
    cmd += [str(LAUNCHER_C), str(table)]
    proc = subprocess.run([*cmd, *link_args(link, lib_dir)], capture_output=True, text=True)
    if proc.returncode != 0 and link == "auto" and static_libpython() is not None and shared_libpython() is not None:
        # A static libpython that cannot be linked here (not position-independent): the shared one.
        proc = subprocess.run([*cmd, *link_args("shared", lib_dir)], capture_output=True, text=True)
    table.unlink()
    with (out / "build.log").open("a") as log:  # one log for the builds of a folder (plugin, installer)
        log.write(f"$ {' '.join(proc.args)}\n{proc.stdout}{proc.stderr}")
    if proc.returncode != 0:
        raise SystemExit(f"compiling the launcher failed (exit {proc.returncode}):\n{proc.stderr[-3000:]}")
    vendor_libraries(folder, lib_dir)
    return folder


if __name__ == "__main__":  # python -m cniqs.ship.embed OUT: a quick manual build
    from cniqs.resources import plugin_sources

    print(build(plugin_sources(), Path(sys.argv[1]), "cni-quickstart", *sys.argv[2:3]))

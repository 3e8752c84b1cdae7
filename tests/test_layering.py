"""The library's layering: cniqs never imports the tests or pytest, and its packages import each other one way.

Every import in scripts/cniqs is read from the source (also those inside functions), so a lazy import
counts as much as one at the top of a module. Only the local and kube providers import their extras' modules
(gRPC, the CRI API, cryptography), and what a plain install runs (cniqs, kind, the site) loads none of them:
those tests follow only the imports that run when a module is imported.
"""

from __future__ import annotations

import ast
import re
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

LIBRARY = Path(__file__).resolve().parents[1] / "scripts" / "cniqs"
FORBIDDEN = ("e2e", "tests", "pytest", "_pytest")


def module_name(path: Path) -> str:
    parts = path.relative_to(LIBRARY.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def package_of(module: str, packages: set[str]) -> str:
    """The innermost package a module belongs to (a package's __init__ belongs to the package itself)."""
    while module not in packages:
        module = module.rpartition(".")[0]
    return module


def imports(path: Path) -> Iterator[tuple[int, str]]:
    """(line, imported module) of every import statement; `from a import b` yields a.b when a.b is a module."""
    tree = ast.parse(path.read_text(), str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom) and node.module:
            if node.level:
                raise AssertionError(f"{path}:{node.lineno}: relative import (this test reads absolute ones)")
            yield node.lineno, node.module
            for alias in node.names:
                yield node.lineno, f"{node.module}.{alias.name}"


def library_modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(LIBRARY.rglob("*.py"))}


def package_graph() -> dict[str, set[str]]:
    modules = library_modules()
    packages = {module_name(p.parent / "__init__.py") for p in LIBRARY.rglob("__init__.py")}
    graph: dict[str, set[str]] = {package: set() for package in packages}
    for name, path in modules.items():
        source = package_of(name, packages)
        for _, imported in imports(path):
            if imported in modules:
                target = package_of(imported, packages)
                if target != source:
                    graph[source].add(target)
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle as a path that ends where it starts, or None."""
    state: dict[str, str] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = "open"
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == "open":
                return [*stack[stack.index(nxt) :], nxt]
            if nxt not in state and (found := visit(nxt)) is not None:
                return found
        stack.pop()
        state[node] = "done"
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)) is not None:
            return found
    return None


def test_the_library_never_imports_the_tests_or_pytest() -> None:
    found = [
        f"{path.relative_to(LIBRARY.parent)}:{line}: imports {imported}"
        for path in library_modules().values()
        for line, imported in imports(path)
        if imported.split(".")[0] in FORBIDDEN
    ]
    assert found == []


def test_packages_import_each_other_one_way() -> None:
    graph = package_graph()
    assert {"cniqs", "cniqs.common", "cniqs.cli", "cniqs.providers.local", "cniqs.providers.kind"} <= set(graph)
    assert find_cycle(graph) is None, f"import cycle between packages: {' -> '.join(find_cycle(graph) or [])}"


def layer_map() -> dict[str, int]:
    """{package: its line in the layer map of cniqs/__init__.py}, the top line first (0)."""
    text = (LIBRARY / "__init__.py").read_text().split("Layers,", 1)[1]
    rows = [line[4:] for line in text.splitlines() if line.startswith("    ") and line[4:5] != " "]
    found: dict[str, int] = {}
    for rank, row in enumerate(rows):
        for token in re.findall(r"(?:[a-z0-9_]+/)+|provider\.py", row.split("   ")[0]):
            found["cniqs" if token == "provider.py" else "cniqs." + token.rstrip("/").replace("/", ".")] = rank
    return found


def test_the_layer_map_names_every_package_and_no_package_imports_one_above_it() -> None:
    ranks, graph = layer_map(), package_graph()
    assert set(graph) - set(ranks) == set(), "packages missing from the layer map in cniqs/__init__.py"
    upward = [f"{a} -> {b}" for a, targets in graph.items() for b in targets if ranks[b] < ranks[a]]
    assert upward == [], "imports of a package the layer map puts above"


def test_providers_never_import_the_cli_and_the_plumbing_imports_nothing_above_it() -> None:
    graph = package_graph()
    for package, targets in graph.items():
        if package.startswith("cniqs.providers"):
            assert "cniqs.cli" not in targets, package
    assert graph["cniqs.common"] == set(), "cniqs.common is the bottom layer"


def test_the_cycle_finder_finds_cycles() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set(), "c": {"a", "b"}}) is None


# -- the local and kube providers' extras ----------------------------------------------------------

EXTRA_MODULES = {"grpc": "cniqs.providers.local", "cri_api": "cniqs.providers.local",
                 "google": "cniqs.providers.local", "cryptography": "cniqs.providers.kube"}  # fmt: skip


def eager_imports(path: Path) -> Iterator[tuple[int, str]]:
    """The imports that run when the module is imported: not those inside functions or `if TYPE_CHECKING:`."""
    tree = ast.parse(path.read_text(), str(path))
    pending: list[ast.AST] = list(tree.body)
    while pending:
        node = pending.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            continue
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            pending += node.orelse
            continue
        if isinstance(node, ast.Import):
            yield from ((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            yield node.lineno, node.module
            yield from ((node.lineno, f"{node.module}.{alias.name}") for alias in node.names)
        else:
            pending += ast.iter_child_nodes(node)


def outside_imports(start: str) -> dict[str, set[str]]:
    """{library module that importing start runs: the modules outside the library it imports at import time}."""
    modules = library_modules()
    found: dict[str, set[str]] = {}
    todo = [start]
    while todo:
        name = todo.pop()
        if name in found:
            continue
        found[name] = set()
        parts = name.split(".")
        todo += [".".join(parts[:i]) for i in range(1, len(parts)) if ".".join(parts[:i]) in modules]
        for _, imported in eager_imports(modules[name]):
            if imported in modules:
                todo.append(imported)
            elif not imported.startswith("cniqs."):
                found[name].add(imported)
    return found


def loaded_with(start: str) -> dict[str, set[str]]:
    """{library module that importing start runs: the extras' modules it imports}."""
    extras = {
        name: {imported.split(".")[0] for imported in outside if imported.split(".")[0] in EXTRA_MODULES}
        for name, outside in outside_imports(start).items()
    }
    return {name: extra for name, extra in extras.items() if extra}


def test_only_the_local_and_kube_providers_import_their_extras_modules() -> None:
    found = [
        f"{path.relative_to(LIBRARY.parent)}:{line}: imports {imported}"
        for name, path in library_modules().items()
        for line, imported in imports(path)
        if (owner := EXTRA_MODULES.get(imported.split(".")[0])) and not name.startswith(owner + ".")
        if not (owner == "cniqs.providers.local" and name.startswith("cniqs.providers.kube."))
    ]
    assert found == []


@pytest.mark.parametrize(
    "start", ["cniqs.cli.main", "cniqs.providers.kind.provider", "cniqs.site.__main__", "cniqs.providers.local.cleanup"]
)
def test_the_tool_kind_and_the_site_load_without_the_extras(start: str) -> None:
    """A plain `pip install .` has none of them: `cniqs` and the kind provider import them only when the local
    or kube provider is asked for (cniqs.providers.get), and a kept local node is torn down without them."""
    assert loaded_with(start) == {}


def test_the_site_loads_with_the_standard_library_alone() -> None:
    """`.ci/run` and the README run `python3 -m cniqs.site` on the system's python3, before any install (imports
    inside functions are not followed: they run only when called)."""
    found = {
        f"{name}: {imported}"
        for name, outside in outside_imports("cniqs.site.__main__").items()
        for imported in outside
        if imported.split(".")[0] not in sys.stdlib_module_names
    }
    assert found == set()


def test_the_local_and_kube_providers_do_load_them() -> None:
    assert set().union(*loaded_with("cniqs.providers.local.provider").values()) == {"grpc", "cri_api"}
    assert "cryptography" in set().union(*loaded_with("cniqs.providers.kube.provider").values())


# -- the size of a room: modules and functions small enough to read whole (issue 23) ---------------------------

ROOT = LIBRARY.parents[1]
SIZED = ("scripts", "plugin", "e2e")
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 60


def functions(tree: ast.AST, prefix: str = "") -> Iterator[tuple[str, int]]:
    """(qualified name, lines from `def` to its last line) of every function and method, nested ones too."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            yield f"{prefix}{node.name}", (node.end_lineno or node.lineno) - node.lineno + 1
            yield from functions(node, f"{prefix}{node.name}.")
        elif isinstance(node, ast.ClassDef):
            yield from functions(node, f"{prefix}{node.name}.")
        else:
            yield from functions(node, prefix)


def sized_modules() -> list[Path]:
    return sorted(p for top in SIZED for p in (ROOT / top).rglob("*.py"))


def test_no_module_is_over_400_lines() -> None:
    found = [
        f"{path.relative_to(ROOT)}: {lines} lines"
        for path in sized_modules()
        if (lines := len(path.read_text().splitlines())) > MAX_MODULE_LINES
    ]
    assert found == []


def test_no_function_is_over_60_lines() -> None:
    found = [
        f"{path.relative_to(ROOT)}: {name} is {lines} lines"
        for path in sized_modules()
        for name, lines in functions(ast.parse(path.read_text(), str(path)))
        if lines > MAX_FUNCTION_LINES
    ]
    assert found == []


def test_the_size_rule_finds_long_functions_and_methods() -> None:
    source = "class A:\n    def m(self):\n" + "        x = 1\n" * 60 + "def f():\n    def g():\n        pass\n"
    assert dict(functions(ast.parse(source))) == {"A.m": 61, "f": 3, "f.g": 2}

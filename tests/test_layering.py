"""The library's layering: cniqs never imports the tests or pytest, and its packages import each other one way.

Every import in scripts/cniqs is read from the source (also those inside functions), so a lazy import
counts as much as one at the top of a module.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

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


def test_providers_never_import_the_cli_and_the_plumbing_imports_nothing_above_it() -> None:
    graph = package_graph()
    for package, targets in graph.items():
        if package.startswith("cniqs.providers"):
            assert "cniqs.cli" not in targets, package
    assert graph["cniqs.common"] == set(), "cniqs.common is the bottom layer"


def test_the_cycle_finder_finds_cycles() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set(), "c": {"a", "b"}}) is None

"""The plugin runs as root on every node: it never starts a process or evaluates its input."""

from __future__ import annotations

import ast
from pathlib import Path

import cni_quickstart

FORBIDDEN_MODULES = {"subprocess", "pickle", "marshal", "shelve", "ctypes", "importlib", "pty", "multiprocessing"}
FORBIDDEN_BUILTINS = {"eval", "exec", "compile", "__import__", "breakpoint"}
FORBIDDEN_OS_CALLS = {"system", "popen", "execv", "execve", "execvp", "execvpe", "execl", "spawnv", "spawnve",
                      "fork", "forkpty", "posix_spawn", "posix_spawnp", "startfile"}  # fmt: skip
SOURCES = sorted(Path(cni_quickstart.__file__).parent.rglob("*.py"))


def test_sources_found() -> None:
    assert {p.name for p in SOURCES} >= {"main.py", "config.py", "rewrite.py", "log.py"}


def test_no_process_or_eval_anywhere_in_the_plugin() -> None:
    found = []
    for path in SOURCES:
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                found += [
                    f"{path.name}: import {a.name}" for a in node.names if a.name.split(".")[0] in FORBIDDEN_MODULES
                ]
            elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] in FORBIDDEN_MODULES:
                found.append(f"{path.name}: from {node.module} import")
            elif isinstance(node, ast.Call):
                func = node.func
                if (isinstance(func, ast.Name) and func.id in FORBIDDEN_BUILTINS) or (
                    isinstance(func, ast.Attribute) and func.attr in FORBIDDEN_OS_CALLS
                ):
                    found.append(f"{path.name}:{node.lineno}: call {ast.unparse(func)}()")
    assert found == []

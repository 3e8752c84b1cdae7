"""Backends of the e2e suite. Each subpackage exposes:

- ``add_options(group)``: its pytest command-line options (an ``OptionGroup``);
- ``open_backend(config)``: a context manager yielding a ``base.Backend``, torn down on exit;
- ``prerequisites(config)``: a list of human-readable problems (empty when it can run here).
"""

from __future__ import annotations

import importlib
from types import ModuleType

NAMES = ("local", "kind")


def load(name: str) -> ModuleType:
    if name not in NAMES:
        raise ValueError(f"unknown backend {name!r}; choose one of {', '.join(NAMES)}")
    return importlib.import_module(f"e2e.backends.{name}")

"""A directory first on this process's PATH, for as long as a cluster is open: the Kubernetes layer runs
`kubectl` by name, and the cluster's own kubectl (built for its release) keeps it within the skew policy."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path


def prepend(directory: Path | str) -> Callable[[], None]:
    """Put directory first on PATH; returns what puts PATH back as it was."""
    saved = os.environ.get("PATH")
    os.environ["PATH"] = f"{directory}{os.pathsep}{saved}" if saved else str(directory)

    def restore() -> None:
        if saved is None:
            os.environ.pop("PATH", None)
        else:
            os.environ["PATH"] = saved

    return restore


@contextmanager
def first_on_path(directory: Path | str) -> Iterator[None]:
    restore = prepend(directory)
    try:
        yield
    finally:
        restore()

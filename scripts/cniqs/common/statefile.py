"""A run's state file: a dataclass saved as JSON, written whole or not at all, and read back."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

T = TypeVar("T")


def save(state: DataclassInstance, path: Path) -> None:
    """Write state to path through a temporary file beside it, so a crash never leaves half a file."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(asdict(state), indent=2) + "\n")
    tmp.replace(path)


def load(cls: type[T], path: Path) -> T:
    """The state save() wrote to path (raises OSError, ValueError or TypeError if it is missing or not one)."""
    return cls(**json.loads(path.read_text()))

"""Which node or cluster `cniqs up` left running: a small JSON file that later commands read.

Where: $CNIQS_STATE_DIR, else /run/cniqs as root, else $XDG_RUNTIME_DIR/cniqs, else a per-user temp dir.
One node or cluster at a time.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Mapping
from dataclasses import asdict
from pathlib import Path

from cniqs.provider import State
from cniqs.providers import NAMES

FILE_NAME = "state.json"


class StateError(Exception):
    """The state file exists but cannot be used."""


def state_dir(environ: Mapping[str, str] | None = None, euid: int | None = None) -> Path:
    env = os.environ if environ is None else environ
    uid = os.geteuid() if euid is None else euid
    if env.get("CNIQS_STATE_DIR"):
        return Path(env["CNIQS_STATE_DIR"])
    if uid == 0:
        return Path("/run/cniqs")
    if env.get("XDG_RUNTIME_DIR"):
        return Path(env["XDG_RUNTIME_DIR"]) / "cniqs"
    return Path(tempfile.gettempdir()) / f"cniqs-{uid}"


def path(directory: Path | None = None) -> Path:
    return (directory or state_dir()) / FILE_NAME


def load(directory: Path | None = None) -> State | None:
    """The saved state, or None when nothing is up."""
    file = path(directory)
    try:
        data = json.loads(file.read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise StateError(f"cannot read {file}: {exc}; remove it if nothing is running") from None
    if isinstance(data, dict) and "provider" not in data and "backend" in data:
        data["provider"] = data.pop("backend")  # written by a cniqs before the field was renamed
    if not isinstance(data, dict) or data.get("provider") not in NAMES or not isinstance(data.get("id"), str):
        raise StateError(f"{file} is not a cniqs state file; remove it if nothing is running")
    known = set(State.__dataclass_fields__)
    try:
        return State(**{k: v for k, v in data.items() if k in known})
    except TypeError as exc:
        raise StateError(f"{file}: {exc}") from None


def save(state: State, directory: Path | None = None) -> Path:
    file = path(directory)
    file.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = file.with_name(f".{file.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(asdict(state), indent=2) + "\n")
    tmp.replace(file)
    return file


def clear(directory: Path | None = None) -> None:
    path(directory).unlink(missing_ok=True)

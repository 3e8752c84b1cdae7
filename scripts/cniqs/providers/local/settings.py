"""The local provider's options: pytest command line first, then CNIQS_* environment variables."""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

TRUE = ("1", "true", "yes", "on")


def _print(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


@dataclass(frozen=True)
class Settings:
    keep: bool = False
    image_archive: Path | None = None
    image: str | None = None
    root_parent: Path = field(default_factory=lambda: Path(tempfile.gettempdir()))
    log_level: str = "info"
    say: Callable[[str], None] = _print

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None, **overrides: Any) -> Settings:
        env = dict(os.environ if env is None else env)
        values: dict[str, Any] = {
            "keep": env.get("CNIQS_KEEP", "").lower() in TRUE,
            "image_archive": Path(env["CNIQS_IMAGE_ARCHIVE"]) if env.get("CNIQS_IMAGE_ARCHIVE") else None,
            "image": env.get("CNIQS_IMAGE") or None,
            "log_level": env.get("CNIQS_CONTAINERD_LOG_LEVEL") or "info",
        }
        if env.get("CNIQS_LOCAL_ROOT"):
            values["root_parent"] = Path(env["CNIQS_LOCAL_ROOT"])
        values.update({k: v for k, v in overrides.items() if v is not None and v is not False})
        return cls(**values)

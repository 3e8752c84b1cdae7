"""The Debian packages the local node needs (.ci/apt-packages.txt): which are missing, and installing them."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable, Sequence
from pathlib import Path

from cniqs.resources import APT_PACKAGES as PACKAGES_FILE


def wanted(text: str | None = None) -> list[str]:
    """Package names, one a line; `#` starts a comment."""
    if text is None:
        text = PACKAGES_FILE.read_text()
    names = []
    for line in text.splitlines():
        name = line.split("#", 1)[0].strip()
        if name:
            names.append(name)
    return names


def dpkg_installed(package: str) -> bool:
    try:
        proc = subprocess.run(
            ["dpkg-query", "-W", "-f=${db:Status-Status}", package], capture_output=True, text=True, timeout=30
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return proc.returncode == 0 and proc.stdout.strip() == "installed"


def missing(packages: Sequence[str], installed: Callable[[str], bool] = dpkg_installed) -> list[str]:
    return [p for p in packages if not installed(p)]


def is_debian(
    which: Callable[[str], str | None] = shutil.which, debian_marker: Path = Path("/etc/debian_version")
) -> bool:
    """Debian or a derivative (Ubuntu) with apt-get and dpkg-query."""
    return debian_marker.exists() and which("apt-get") is not None and which("dpkg-query") is not None


def install_argv(packages: Sequence[str]) -> list[list[str]]:
    return [
        ["apt-get", "update", "-qq"],
        ["apt-get", "install", "-y", "-qq", "--no-install-recommends", *packages],
    ]


def install(packages: Sequence[str]) -> None:
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for argv in install_argv(packages):
        proc = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=1800)
        if proc.returncode != 0:
            tail = " | ".join((proc.stderr or proc.stdout).strip().splitlines()[-3:])
            raise RuntimeError(f"`{' '.join(argv)}` exited {proc.returncode}: {tail}")

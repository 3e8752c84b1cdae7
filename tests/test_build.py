"""The build and install helpers never replace what is not theirs."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from cniqs.install.executable import LINK_TARGET, NAME, install_into
from cniqs.ship import embed
from cniqs.ship.build import build_local, host_arch
from tests.prereq import require


def test_build_refuses_a_foreign_non_empty_out_dir(tmp_path: Path) -> None:
    (tmp_path / "precious.txt").write_text("keep me")
    with pytest.raises(SystemExit, match="not replacing"):
        build_local(out=tmp_path)
    assert (tmp_path / "precious.txt").read_text() == "keep me"


def test_install_refuses_a_foreign_binary_and_replaces_its_own(tmp_path: Path) -> None:
    folder = tmp_path / "built"
    folder.mkdir()
    (folder / NAME).write_text("#!/bin/sh\n")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / NAME).write_text("someone else's plugin")
    with pytest.raises(SystemExit, match="not an install of ours"):
        install_into(folder, bin_dir)
    assert (bin_dir / NAME).read_text() == "someone else's plugin"
    (bin_dir / NAME).unlink()
    link = install_into(folder, bin_dir)
    assert os.readlink(link) == LINK_TARGET and (bin_dir / f"{NAME}.d" / NAME).is_file()
    assert os.readlink(install_into(folder, bin_dir)) == LINK_TARGET, "a second install replaces its own"
    assert sorted(p.name for p in bin_dir.iterdir()) == [NAME, f"{NAME}.d"]


REPO = Path(__file__).resolve().parents[1]


def readme_container_dest(arch: str) -> str:
    """The output folder of README step 2's container build (its `--output type=local,dest=...`), for arch."""
    step2 = REPO.joinpath("README.md").read_text().split("2. **Build the plugin", 1)[1].split("\n3. **", 1)[0]
    builds = re.findall(r"^\s*docker buildx build .*--output type=local,dest=(\S+) \.$", step2, re.M)
    assert len(builds) == 1, f"README step 2 should have one container build, found {builds}"
    return builds[0].replace("$ARCH", arch)


def dockerfile_build_argv() -> list[str]:
    """The build command plugin/Dockerfile runs (`python -m cniqs.ship.build --out /out`), as argv."""
    text = REPO.joinpath("plugin", "Dockerfile").read_text()
    found = re.search(r"^RUN PYTHONPATH=\S+ (python -m cniqs\.ship\.build --out /out)\b", text, re.M)
    assert found, "plugin/Dockerfile no longer runs `python -m cniqs.ship.build --out /out`"
    return found[1].split()


def test_step_2s_container_build_and_the_native_and_daemonset_builds_share_one_checkout(tmp_path: Path) -> None:
    """README step 2's container build, then `python -m cniqs.ship.build` and the DaemonSet's image build, in one
    checkout: each keeps its own folder, none refuses, and step 2's output is left exactly as it was.

    The container itself is not run (its base image comes from a registry): the folder it exports is
    made by the same command the Dockerfile runs (`python -m cniqs.ship.build --out /out`, its export stage copies
    /out/ to dest as it is), in a copy of this checkout."""
    require(embed.missing())
    require(None if shutil.which("ldd") else "no ldd (the node build lists the C library with it)")
    checkout = tmp_path / "checkout"
    for part in ("plugin", "scripts"):
        shutil.copytree(REPO / part, checkout / part, symlinks=True, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy2(REPO / "pyproject.toml", checkout / "pyproject.toml")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CNIQS_", "PYTHON"))}
    env["PYTHONPATH"] = f"{checkout / 'scripts'}{os.pathsep}{checkout / 'plugin'}"

    def run(argv: list[str]) -> str:
        proc = subprocess.run(argv, cwd=checkout, env=env, capture_output=True, text=True, timeout=600)
        assert proc.returncode == 0, f"{' '.join(argv)} failed (exit {proc.returncode}):\n{proc.stderr[-3000:]}"
        return proc.stdout

    arch = host_arch()
    step2 = checkout / readme_container_dest(arch)
    _python, *module = dockerfile_build_argv()
    run([sys.executable, *module[:-1], str(step2)])  # the Dockerfile's command, /out being step 2's dest
    assert (step2 / NAME / NAME).is_file()
    before = {p.relative_to(step2).as_posix(): p.read_bytes() for p in step2.rglob("*") if p.is_file()}

    native = Path(run([sys.executable, "-m", "cniqs.ship.build"]).strip().splitlines()[-1])
    daemonset = [sys.executable, "-m", "cniqs.providers.cluster.daemonset", "build"]
    archive = Path(run(daemonset).split("\t")[0])
    # the image from step 2's folder, as on a Mac whose only node build is the container's
    from_step2 = Path(run([*daemonset, "--from", str(step2), "--out", str(tmp_path / "images")]).split("\t")[0])

    assert native.is_relative_to(checkout / "build"), f"the native build went to {native}, not into this checkout"
    assert not native.is_relative_to(step2), f"the native build {native} is in step 2's folder {step2}"
    assert archive.is_file() and archive.is_relative_to(checkout / "build")
    assert from_step2.is_file() and from_step2.is_relative_to(tmp_path / "images")
    after = {p.relative_to(step2).as_posix(): p.read_bytes() for p in step2.rglob("*") if p.is_file()}
    assert after == before, "step 2's container build was changed by the native or the DaemonSet build"

"""The arm64 node executable and installer image, built and run for real under qemu user-mode emulation.

`python -m cniqs.ship.arm64` (the step CI runs, cached) cross-builds them with Debian's multiarch arm64
packages; these tests then run the plugin's conformance tests (tests/plugin/test_executable.py) on the
arm64 executable, and the arm64 installer image under podman. Nothing is mocked: qemu runs the aarch64 code.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from cniqs.install import executable
from cniqs.ship import arm64, build
from tests.prereq import require

pytestmark = pytest.mark.arm64
REPO = Path(__file__).resolve().parents[2]


def missing(*commands: str) -> str | None:
    if sys.platform != "linux" or os.geteuid() != 0:
        return "needs Linux and root (binfmt_misc)"
    absent = [c for c in commands if shutil.which(c) is None]
    if absent:
        return f"not on PATH: {', '.join(absent)} (apt-get install qemu-user-static binfmt-support podman)"
    if not arm64.QEMU.exists():
        return f"{arm64.QEMU} is missing (apt-get install qemu-user-static binfmt-support)"
    cross = arm64.cross_problems()
    return f"{'; '.join(cross)} ({arm64.CROSS_HINT})" if cross else None


@dataclass(frozen=True)
class Made:
    executable: Path
    archive: Path
    image: str
    output: str


def env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": f"{REPO / 'scripts'}:{REPO / 'plugin'}"}


@pytest.fixture(scope="session")
def made() -> Made:
    """`python -m cniqs.ship.arm64`, the step itself (cached after the first run: seconds)."""
    require(missing())
    proc = subprocess.run(
        [sys.executable, "-m", "cniqs.ship.arm64"], cwd=REPO, env=env(), capture_output=True, text=True, timeout=7200
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    fields = {line.split("\t")[0]: line.split("\t")[1:] for line in proc.stdout.splitlines()}
    return Made(
        executable=Path(fields["executable"][0]),
        archive=Path(fields["image"][0]),
        image=fields["image"][1],
        output=proc.stderr,
    )


def test_the_step_checked_the_executable(made: Made) -> None:
    assert made.executable == REPO / "build/plugin/linux-arm64/cni-quickstart/cni-quickstart"
    for check in ("ELF aarch64", "<= 2.36", "VERSION: {", "CNI error code 4"):
        assert check in made.output, made.output
    assert arm64.elf_machine(made.executable) == arm64.EM_AARCH64
    floor = build.required_glibc(made.executable.parent)
    assert floor is not None and arm64.version_tuple(floor) <= (2, 36)


def test_the_plugin_conformance_tests_pass_on_the_arm64_executable(made: Made) -> None:
    """tests/plugin/test_executable.py as it is, its executable the arm64 one (every call runs under qemu)."""
    run_env = {**env(), "CNIQS_PLUGIN_EXECUTABLE": str(made.executable)}
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "tests/plugin/test_executable.py", "-q", "-p", "no:cacheprovider", "-rA"],
        cwd=REPO,
        env=run_env,
        capture_output=True,
        text=True,
        timeout=1800,
    )
    assert proc.returncode == 0, proc.stdout[-4000:]
    assert " failed" not in proc.stdout and "passed" in proc.stdout, proc.stdout[-2000:]
    print(proc.stdout.splitlines()[-1])


def test_the_checks_refuse_a_build_of_another_architecture(made: Made) -> None:
    """The ELF check can fail: this host's amd64 executable is not taken for an arm64 one."""
    host = build.build_local() / executable.NAME
    with pytest.raises(arm64.EmulationError, match="not aarch64"):
        arm64.verify(host)


@pytest.fixture(scope="session")
def loaded(made: Made) -> Iterator[str]:
    """The arm64 installer image in podman's store (removed again unless it was there before)."""
    require(missing("podman"))
    had = subprocess.run(["podman", "image", "exists", made.image], capture_output=True).returncode == 0
    load = subprocess.run(["podman", "load", "-i", str(made.archive)], capture_output=True, text=True, timeout=600)
    assert load.returncode == 0, load.stderr
    try:
        yield made.image
    finally:
        if not had:
            subprocess.run(["podman", "rmi", "-f", made.image], capture_output=True, timeout=120)


# As for kind's node containers on podman (cniqs.site.nodefiles.CONTAINERS_CONF): without low explicit
# ulimits runc fails "error setting rlimit ... operation not permitted".
LIMITS = ("--runtime", "runc", "--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024")


def podman_run(image: str, *opts: str, cmd: tuple[str, ...] = (), stdin: str = "") -> subprocess.CompletedProcess[str]:
    """podman run of the arm64 image; the container is removed whatever happens (--rm, then rm -f by name)."""
    name = f"cniqs-arm64-test-{uuid.uuid4().hex[:8]}"
    argv = ["podman", "run", "--rm", "-i", "--name", name, "--platform", "linux/arm64", "--network", "none", *LIMITS]
    argv += opts
    try:
        return subprocess.run([*argv, image, *cmd], input=stdin, capture_output=True, text=True, timeout=300)
    finally:
        subprocess.run(["podman", "rm", "-f", "--ignore", name], capture_output=True, timeout=120)


def test_the_installer_image_is_arm64_and_its_binaries_start(loaded: str) -> None:
    inspect = subprocess.run(["podman", "image", "inspect", loaded], capture_output=True, text=True, check=True)
    assert json.loads(inspect.stdout)[0]["Architecture"] == "arm64"
    # the image's own command: the embedded installer's --help (its C library is the image's, the arm64 build's)
    proc = podman_run(loaded)
    assert proc.returncode == 0 and "install" in proc.stdout and "uninstall" in proc.stdout, proc
    plugin = ("-e", "CNI_COMMAND=VERSION", "--entrypoint", "/plugin/cni-quickstart")
    proc = podman_run(loaded, *plugin, stdin='{"cniVersion": "1.0.0"}')
    assert proc.returncode == 0, proc
    assert json.loads(proc.stdout)["supportedVersions"][-1] == "1.1.0", proc


def test_no_container_is_left_behind(loaded: str) -> None:
    podman_run(loaded)
    left = subprocess.run(["podman", "ps", "-a", "--format", "{{.Names}}"], capture_output=True, text=True).stdout
    assert "cniqs-arm64-test-" not in left

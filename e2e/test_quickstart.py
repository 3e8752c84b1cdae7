"""The README's quick start as a newcomer meets it: a fresh `git clone` of this checkout, a fresh `.tox`,
and the quick start's first command run exactly as written (`tox -e demo`), asserted on what it printed
and on what it left behind. The second command, `tox` on a fresh clone, is what CI runs (`.ci/run`;
tests/cli/test_readme.py holds the two together).

Only the committed tree is cloned: uncommitted changes are not part of what a newcomer gets. Runs in
the tox env `quickstart` (marker `quickstart`): its venv build and plugin build take a minute or two.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from cniqs.providers.local.provider import LocalProvider
from cniqs.providers.local.render import POD_CIDR_V4
from e2e.support_cli import node_left_nothing, quick_start_commands, real_address, require_cli

pytestmark = [pytest.mark.e2e, pytest.mark.local_only, pytest.mark.quickstart]
REPO = Path(__file__).resolve().parents[1]
FAKE = "1.2.3.0"
TIMEOUT = 1500  # a fresh venv (kubernetes, grpcio, cryptography, PyInstaller), a fresh plugin build, the demo


def newcomer_env(state_dir: Path) -> dict[str, str]:
    """This environment without the running tox env (its venv, its TOX_* variables): a shell with tox on
    PATH. CNIQS_PROVIDER=local keeps a machine with Docker and kind on the provider this test checks."""
    venv = os.environ.get("VIRTUAL_ENV") or str(Path(sys.executable).parents[1])
    path = [p for p in os.environ.get("PATH", "").split(os.pathsep) if p and not p.startswith(venv)]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TOX_", "VIRTUAL_ENV", "PYTHON"))}
    env.update(PATH=os.pathsep.join(path), CNIQS_STATE_DIR=str(state_dir), CNIQS_PROVIDER="local")
    return env


def test_tox_demo_runs_as_written_on_a_fresh_clone(tmp_path: Path) -> None:
    require_cli(LocalProvider(), needs=("tox", "git"))
    commands = quick_start_commands((REPO / "README.md").read_text())
    assert commands == ["tox -e demo", "tox"], commands
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "--quiet", "--no-hardlinks", str(REPO), str(clone)], check=True, timeout=120)
    env = newcomer_env(tmp_path / "state")
    ran = subprocess.run(shlex.split(commands[0]), cwd=clone, env=env, capture_output=True, text=True, timeout=TIMEOUT)
    shown = f"$ {commands[0]}  (exit {ran.returncode})\n--- stdout\n{ran.stdout}--- stderr\n{ran.stderr}"
    assert ran.returncode == 0, shown
    out = ran.stdout + ran.stderr
    assert "using the local provider" in out and "cniqs: demo finished in" in out, shown
    # a fresh clone builds the plugin: the step names the build's log, then says done
    step = r"==> Bringing up a local containerd node.*\ncniqs: building cni-quickstart .*log (\S+)\)\n    done \("
    built = re.search(step, ran.stderr)
    assert built and Path(built.group(1)).is_file(), shown
    assert "INFO: PyInstaller" not in out, "PyInstaller's own log goes to the build log, not the screen"
    reported = next(ln for ln in out.splitlines() if "CRI PodSandboxStatus" in ln)
    assert reported.split()[-1] == FAKE, shown
    real = real_address(out)
    assert real.ip in POD_CIDR_V4 and str(real.ip) != FAKE, shown
    assert f"real {real} -> reported {FAKE}/24" in out, shown
    assert "4/4 connectivity checks ok" in out and "FAIL" not in out, shown
    assert (clone / ".tox" / "demo").is_dir(), "the demo ran in tox's own venv"
    run_id = re.search(r"on node cniqs-([0-9a-f]{8}) ", out)
    assert run_id, shown
    assert node_left_nothing(run_id.group(1)) == [], shown
    assert not (tmp_path / "state" / "state.json").exists(), "a demo without --keep records nothing"
    shutil.rmtree(clone)

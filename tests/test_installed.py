"""`pip install .` into a fresh venv: the cniqs tool works from another directory, with no checkout behind it.

Without extras it drives kind and has no gRPC, CRI API or cryptography; the local provider then names its extra,
and works once `.[local]` is installed. Needs PyPI (the dependencies are installed from it); the first run takes
a minute or two.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
NOT_SOURCES = (".git", ".tox", ".venv", "build", "*.egg-info", "__pycache__", ".*_cache", ".hypothesis", "artifacts")


def run(argv: list[str], cwd: Path, env: dict[str, str], timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


def test_an_installed_cniqs_works_outside_the_checkout(tmp_path: Path) -> None:
    venv, elsewhere, state_dir = tmp_path / "venv", tmp_path / "elsewhere", tmp_path / "state"
    elsewhere.mkdir()
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    python, cniqs = str(venv / "bin" / "python"), str(venv / "bin" / "cniqs")
    env = {
        "PATH": f"{venv / 'bin'}:/usr/sbin:/usr/bin:/sbin:/bin",
        "HOME": os.environ.get("HOME", str(tmp_path)),
        "CNIQS_STATE_DIR": str(state_dir),
    }
    # From a copy: pip builds in the source tree, and the checkout stays as it is. --no-compile: byte-compiling
    # the dependencies (kubernetes' thousands of modules) would be half of this test's time and checks nothing.
    source = tmp_path / "source"
    shutil.copytree(REPO, source, symlinks=True, ignore=shutil.ignore_patterns(*NOT_SOURCES))
    pip_install = [python, "-m", "pip", "install", "--quiet", "--no-compile", str(source)]
    installed = run(pip_install, elsewhere, env, timeout=1200)
    assert installed.returncode == 0, installed.stderr[-2000:]

    shown = run([cniqs, "--help"], elsewhere, env)
    assert shown.returncode == 0 and "demo" in shown.stdout and "status" in shown.stdout, shown

    status = run([cniqs, "status"], elsewhere, env)
    assert status.returncode == 1 and "nothing is up: run `cniqs up` first" in status.stderr, status
    assert "Traceback" not in status.stderr

    # No extras: none of the local and kube providers' client libraries.
    probe = (
        "import importlib\nfor m in ('grpc', 'cri_api', 'google.protobuf', 'cryptography'):\n"
        "    try:\n        importlib.import_module(m)\n        print(m)\n    except ImportError:\n        pass\n"
    )
    found = run([python, "-c", probe], elsewhere, env)
    assert (found.returncode, found.stdout) == (0, ""), found

    # kind's prerequisites check runs; with only the venv on PATH it finds no kind, kubectl or engine (and so
    # starts nothing). The local provider says, in one line, which extra to install.
    bare = {**env, "PATH": str(venv / "bin")}
    kind = run([cniqs, "demo", "--provider", "kind"], elsewhere, bare)
    assert kind.returncode == 1 and "Traceback" not in kind.stderr, kind
    assert kind.stderr.splitlines()[-1].startswith("cniqs: error: the kind provider cannot run here: kind not found")
    local = run([cniqs, "demo", "--provider", "local"], elsewhere, bare)
    assert local.returncode == 1 and "Traceback" not in local.stderr, local
    error = local.stderr.splitlines()[-1]
    assert error.startswith("cniqs: error: the local provider needs the Python module ") and error.endswith(
        "extra: pip install 'cni-quickstart[local]' (in a checkout: pip install -e '.[local]')"
    ), local

    # A recorded local node: without the extra, status names it; with it, status loads the local provider and
    # says what to do about the node being gone.
    state_dir.mkdir()
    gone = {
        "backend": "local",  # the key a cniqs before the rename wrote: it still loads
        "id": "0000dead",
        "root": str(tmp_path / "no-such-root"),
        "image": "x:1",
    }
    (state_dir / "state.json").write_text(json.dumps(gone))
    status = run([cniqs, "status"], elsewhere, env)
    assert status.returncode == 1 and "pip install 'cni-quickstart[local]'" in status.stderr, status
    installed = run([*pip_install[:-1], f"{source}[local]"], elsewhere, env, timeout=1200)
    assert installed.returncode == 0, installed.stderr[-2000:]
    status = run([cniqs, "status"], elsewhere, env)
    assert status.returncode == 1 and "run `cniqs down` to forget it" in status.stderr, status
    assert "Traceback" not in status.stderr

    # The library runs from site-packages, finds its data there, and brings no `e2e` package along.
    probe = (
        "import importlib.util, cniqs, cniqs.resources as r; from cniqs.install.conflist import chain_entry;"
        "print(cniqs.__file__); print(chain_entry()['type']); print(r.checkout());"
        "print(importlib.util.find_spec('e2e'))"
    )
    found = run([python, "-c", probe], elsewhere, env)
    assert found.returncode == 0, found.stderr
    where, cni_type, checkout, e2e = found.stdout.split("\n")[:4]
    assert "site-packages" in where and not where.startswith((str(REPO), str(source)))
    assert (cni_type, checkout, e2e) == ("cni-quickstart", "None", "None")

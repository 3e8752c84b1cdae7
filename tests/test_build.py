"""The build and install helpers never replace what is not theirs."""

from __future__ import annotations

from pathlib import Path

import pytest

from cniqs.build import NAME, build_local, install_into, is_our_link


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
    assert is_our_link(link) and (bin_dir / f"{NAME}.d" / NAME).is_file()
    assert is_our_link(install_into(folder, bin_dir)), "a second install replaces its own"
    assert sorted(p.name for p in bin_dir.iterdir()) == [NAME, f"{NAME}.d"]

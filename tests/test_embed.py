"""The embedded build's plan: what gets frozen into the node executable and what ships beside it."""

from __future__ import annotations

import pytest

from cniqs import embed
from cniqs.build import NAME, build_local
from cniqs.resources import plugin_sources


@pytest.fixture(scope="module")
def plan() -> embed.Plan:
    return embed.plan(plugin_sources())


def test_the_plugin_and_its_error_path_are_frozen(plan: embed.Plan) -> None:
    frozen = {name: is_package for name, _, is_package in plan.frozen}
    plugin = {p.stem for p in plugin_sources().glob("*.py")} - {"__init__"}
    assert frozen["cni_quickstart"] is True
    assert {f"cni_quickstart.{m}" for m in plugin} <= set(frozen)
    # json: malformed input is reported with json's own message (fastjson imports it lazily).
    assert {"json", "json.decoder", "encodings", "encodings.utf_8"} <= set(frozen)
    assert "typing" not in frozen, "typing is imported only under TYPE_CHECKING"


def test_extension_modules_ship_beside_the_executable(plan: embed.Plan) -> None:
    names = {p.name.split(".")[0] for p in plan.extensions}
    assert {"_json", "select", "_socket", "fcntl"} <= names
    assert all(p.suffix == ".so" for p in plan.extensions)


def test_frozen_table_lists_every_module_once(plan: embed.Plan) -> None:
    source = embed.frozen_table_c(plan.frozen[:3])
    assert source.count("static const unsigned char m") == 3
    assert source.endswith("    {0},\n};\n"), "the table ends with the all-zero sentinel"
    for name, _, _ in plan.frozen[:3]:
        assert f'{{"{name}", ' in source


def test_the_node_folder_holds_no_python_sources() -> None:
    if embed.missing() is not None:
        pytest.skip(embed.missing())
    folder = build_local()
    files = [p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()]
    assert NAME in files
    assert not [f for f in files if f.endswith((".py", ".pyc"))], files
    assert all(f == NAME or f.startswith("lib/") for f in files), files

"""The embedded build's plan: what gets frozen into the node executable and what ships beside it."""

from __future__ import annotations

import pytest

from cniqs.install.executable import NAME
from cniqs.resources import plugin_sources
from cniqs.ship import embed
from cniqs.ship.build import build_local


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


def test_the_installer_freezes_only_the_standard_library_and_its_own_modules() -> None:
    """It runs in the installer image, which has no site-packages: no grpcio, protobuf or kubernetes client;
    its CRI call is cniqs.common.cristatus. Its own modules are the build's cache key (own_sources)."""
    installer = embed.plan(embed.INSTALLER)
    frozen = {name for name, _, _ in installer.frozen}
    assert {
        "cniqs.install.nodeinstall",
        "cniqs.common.cristatus",
        "cniqs.install.conflist",
        "cniqs.install.executable",
    } <= frozen
    assert not {n for n in frozen if n.split(".")[0] in ("grpc", "google", "cri_api", "kubernetes", "yaml")}
    assert not {n for n in frozen if n.startswith("cniqs.ship")}, "the builders are never imported on a node"
    ours = {n for n in frozen if n == "cniqs" or n.startswith("cniqs.")}
    own = {p.relative_to(embed.INSTALLER.search).with_suffix("").as_posix().replace("/", ".") for p in
           embed.own_sources(embed.INSTALLER)}  # fmt: skip
    assert {n.removesuffix(".__init__") for n in own} == ours

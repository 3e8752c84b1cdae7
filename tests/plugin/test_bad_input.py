"""Every failure is a CNI error object on stdout with a non-zero exit, never a traceback."""

from __future__ import annotations

import pytest

from cni_quickstart.main import MAX_STDIN
from tests.plugin.conftest import Runner, assert_cni_error, chained, fixture_results

PREV = fixture_results()["ptp-v4-0.3.1"]


def test_unparsable_stdin(plugin: Runner) -> None:
    assert_cni_error(plugin("ADD", "{not json"), 6)


def test_stdin_not_an_object(plugin: Runner) -> None:
    assert_cni_error(plugin("ADD", "[1, 2]"), 6)


def test_oversized_stdin_is_refused(plugin: Runner) -> None:
    assert_cni_error(plugin("ADD", b" " * (MAX_STDIN + 1)), 6, "larger")


@pytest.mark.parametrize(
    "env, part",
    [
        ({"CNI_COMMAND": None}, "CNI_COMMAND"),
        ({"CNI_COMMAND": "EXPLODE"}, "CNI_COMMAND"),
        ({"CNI_NETNS": None}, "CNI_NETNS"),
        ({"CNI_CONTAINERID": ""}, "CNI_CONTAINERID"),
        ({"CNI_IFNAME": None}, "CNI_IFNAME"),
        ({"CNI_CONTAINERID": "-starts-with-dash"}, "CNI_CONTAINERID"),
        ({"CNI_CONTAINERID": "has/slash"}, "CNI_CONTAINERID"),
        ({"CNI_IFNAME": "much-too-long-ifname"}, "CNI_IFNAME"),
        ({"CNI_IFNAME": "eth:0"}, "CNI_IFNAME"),
        ({"CNI_ARGS": "K8S_POD_NAME"}, "CNI_ARGS"),
    ],
)
def test_invalid_environment(plugin: Runner, env: dict[str, str | None], part: str) -> None:
    assert_cni_error(plugin("ADD", chained(PREV), **env), 4, part)


def test_unsupported_cni_version(plugin: Runner) -> None:
    err = assert_cni_error(plugin("ADD", {**chained(PREV), "cniVersion": "0.2.0"}), 1, "0.2.0")
    assert err["cniVersion"] == "1.1.0"


@pytest.mark.parametrize(
    "change, part",
    [
        ({"name": None}, "name"),
        ({"mode": "sideways"}, "mode"),
        ({"fakeIPv4": "1.2.3.4/24"}, "fakeIPv4"),
        ({"fakeIPv4": "2001:db8::/64"}, "IPv4"),
        ({"fakeIPv6": "10.0.0.0/8"}, "IPv6"),
        ({"fakeIPv4": "1.2.3.4/31"}, "small"),
        ({"logFile": "relative/path.log"}, "logFile"),
        ({"prevResult": []}, "prevResult"),
        ({"prevResult": {"cniVersion": "0.3.1", "ips": {}}}, "ips"),
        ({"prevResult": {"cniVersion": "0.3.1", "ips": [{"address": "10.0.0.1"}]}}, "ips[0]"),
        ({"prevResult": {"cniVersion": "0.3.1", "ips": [{"address": "10.0.0.1/24", "gateway": "fd00::1"}]}}, "ips[0]"),
        (
            {
                "prevResult": {
                    "cniVersion": "0.3.1",
                    "interfaces": [],
                    "ips": [{"address": "10.0.0.1/24", "interface": 3}],
                }
            },
            "interface",
        ),
    ],
)
def test_malformed_config(plugin: Runner, change: dict[str, object], part: str) -> None:
    conf = chained(PREV)
    for key, value in change.items():
        if value is None:
            conf.pop(key)
        else:
            conf[key] = value
    err = assert_cni_error(plugin("ADD", conf), 7, part)
    assert err["cniVersion"] == "0.3.1", "errors answer in the config's own version"

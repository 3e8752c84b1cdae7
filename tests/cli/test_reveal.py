"""reveal's parsing and verdicts, on the seed README's real `ip a s` output and real plugin records."""

from __future__ import annotations

from cniqs.cli.reveal import Check, Reveal, _detail, render
from cniqs.common.ipaddr import parse_ip_addr

# From the original demo's README (a kind pod): eth0 and two tunnel devices.
SEED_IP_A = """\
1: lo: <LOOPBACK,UP,LOWER_UP> mtu 65536 qdisc noqueue state UNKNOWN qlen 1000
    link/loopback 00:00:00:00:00:00 brd 00:00:00:00:00:00
    inet 127.0.0.1/8 scope host lo
       valid_lft forever preferred_lft forever
    inet6 ::1/128 scope host
       valid_lft forever preferred_lft forever
2: tunl0@NONE: <NOARP> mtu 1480 qdisc noop state DOWN qlen 1000
    link/ipip 0.0.0.0 brd 0.0.0.0
4: eth0@if151: <BROADCAST,MULTICAST,UP,LOWER_UP,M-DOWN> mtu 65535 qdisc noqueue state UP
    link/ether ae:89:21:5f:e3:5f brd ff:ff:ff:ff:ff:ff
    inet 10.244.0.148/24 brd 10.244.0.255 scope global eth0
       valid_lft forever preferred_lft forever
    inet6 fe80::ac89:21ff:fe5f:e35f/64 scope link
       valid_lft forever preferred_lft forever
"""


def test_parse_ip_addr_takes_only_global_addresses_of_eth0() -> None:
    assert parse_ip_addr(SEED_IP_A) == ["10.244.0.148/24"]
    dual = SEED_IP_A.replace("    inet6 fe80", "    inet6 fd00:10:244::5/64 scope global \n    inet6 fe80")
    assert parse_ip_addr(dual) == ["10.244.0.148/24", "fd00:10:244::5/64"]
    assert parse_ip_addr(SEED_IP_A, "lo") == []
    assert parse_ip_addr("") == []


def test_details_of_busybox_output() -> None:
    ping = "PING 203.0.113.10 (203.0.113.10): 56 data bytes\n64 bytes from 203.0.113.10: seq=0 ttl=63 time=0.1 ms\n"
    assert _detail("ping", 0, ping, "") == "64 bytes from 203.0.113.10: seq=0 ttl=63 time=0.1 ms"
    lookup = "Server:\t\t203.0.113.53\nAddress:\t203.0.113.53:53\n\nName:\tkubernetes.io\nAddress: 203.0.113.10\n"
    assert _detail("nslookup", 0, lookup, "") == "203.0.113.10"
    assert _detail("wget", 0, "<html>x</html>", "") == "fetched 14 bytes"
    assert _detail("wget", 1, "", "wget: bad address 'x'\n") == "wget: bad address 'x'"
    assert _detail("ping", 1, "", "") == "exit 1"


def reveal(reported: list[str], real: list[str], ok: bool = True, in_cidr: bool = True) -> Reveal:
    return Reveal(
        provider="local",
        namespace="default",
        pod="test",
        node="n",
        reported={"PodSandboxStatus": reported},
        real=real,
        pod_cidrs=["10.244.0.0/24"],
        real_in_pod_cidr=in_cidr,
        plugin_log={"real": real, "reported": ["1.2.3.0/24"], "durationMs": 0.5},
        checks=[Check("ping 203.0.113.10", ["ping"], ok, "64 bytes")],
    )


def test_the_trick_needs_a_rewritten_report_a_real_address_and_a_working_network() -> None:
    good = reveal(["1.2.3.0"], ["10.244.0.2/24"])
    assert good.rewritten and good.connected and good.shows_the_trick
    assert "reports 1.2.3.0, but eth0 really is 10.244.0.2" in good.verdict()
    plain = reveal(["10.244.0.2"], ["10.244.0.2/24"])
    assert not plain.rewritten and not plain.shows_the_trick and "did not rewrite" in plain.verdict()
    assert not reveal(["1.2.3.0"], ["10.244.0.2/24"], ok=False).shows_the_trick
    assert not reveal(["1.2.3.0"], ["10.244.0.2/24"], in_cidr=False).shows_the_trick
    assert not reveal([], ["10.244.0.2/24"]).rewritten


def test_render_puts_the_sources_side_by_side_and_json_carries_the_verdict() -> None:
    r = reveal(["1.2.3.0"], ["10.244.0.2/24"])
    text = render(r)
    assert "containerd reports (CRI PodSandboxStatus" in text and "1.2.3.0" in text
    assert "10.244.0.2/24   in the node's pod CIDR 10.244.0.0/24" in text
    assert "real 10.244.0.2/24 -> reported 1.2.3.0/24 (ADD, 0.5 ms)" in text
    assert "ok    ping 203.0.113.10" in text and text.rstrip().endswith("1/1 connectivity checks ok.")
    data = r.as_json()
    assert data["shows_the_trick"] is True and data["reported_primary"] == ["1.2.3.0"]
    assert data["checks"][0] == {"name": "ping 203.0.113.10", "argv": ["ping"], "ok": True, "detail": "64 bytes"}

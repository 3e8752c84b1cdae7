"""cni_quickstart.addr agrees with the standard library's ipaddress on everything the plugin uses."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cni_quickstart import addr

v4 = st.integers(0, 2**32 - 1).map(ipaddress.IPv4Address)
v6 = st.integers(0, 2**128 - 1).map(ipaddress.IPv6Address)
addresses = st.one_of(v4, v6)
Address = ipaddress.IPv4Address | ipaddress.IPv6Address
near_misses = addresses.map(str).flatmap(lambda t: st.sampled_from([t, t + "0", "0" + t, t[:-1], t.upper(), " " + t]))


@settings(max_examples=3000, deadline=None)
@given(addresses)
def test_parse_and_print_match_ipaddress(ip: Address) -> None:
    ours = addr.ip_address(str(ip))
    assert (ours.version, int(ours)) == (ip.version, int(ip))
    assert ipaddress.ip_address(str(ours)) == ip, "what we print reads back as the same address"
    if not (ip.version == 6 and (ip.ipv4_mapped or str(ip).startswith("::") and int(ip) < 2**32)):
        assert str(ours) == str(ip), "and is the same text (the C library prints mapped forms dotted)"


@settings(max_examples=3000, deadline=None)
@given(addresses, st.data())
def test_interfaces_and_networks_match_ipaddress(
    ip: ipaddress.IPv4Address | ipaddress.IPv6Address, data: st.DataObject
) -> None:
    bits = 32 if ip.version == 4 else 128
    length = data.draw(st.integers(0, bits))
    iface = addr.ip_interface(f"{ip}/{length}")
    want = ipaddress.ip_interface(f"{ip}/{length}")
    assert (int(iface.ip), iface.prefixlen, iface.version) == (int(want.ip), want.network.prefixlen, want.version)
    net = want.network
    ours = addr.ip_network(str(net))
    assert (int(ours.network_address), ours.prefixlen, ours.hostmask, ours.num_addresses) == (
        int(net.network_address), net.prefixlen, int(net.hostmask), net.num_addresses,
    )  # fmt: skip
    assert iface.ip in ours
    other = addr.ip_address(str(data.draw(v4 if ip.version == 4 else v6)))
    assert (other in ours) == (ipaddress.ip_address(str(other)) in net)
    if int(net.hostmask) and int(ip) & int(net.hostmask):
        with pytest.raises(ValueError, match="host bits"):
            addr.ip_network(f"{ip}/{length}")


@settings(max_examples=3000, deadline=None)
@given(
    st.one_of(
        st.text(max_size=45),
        addresses.map(str).flatmap(lambda t: st.sampled_from([t, t + "0", "0" + t, t[:-1], t.upper(), " " + t])),
    )
)
def test_whatever_we_accept_ipaddress_reads_the_same(text: str) -> None:
    try:
        ours = addr.ip_address(text)
    except ValueError:
        return
    theirs = ipaddress.ip_address(text)
    assert (ours.version, int(ours)) == (theirs.version, int(theirs))


@pytest.mark.parametrize(
    "text",
    ["1.2.3", "1.2.3.4.5", "256.1.1.1", "01.2.3.4", "1.2.3.4 ", "", "::1::", "12345::", "1.2.3.4\x00", "fe80::1%eth0"],
)
def test_refused_addresses(text: str) -> None:
    with pytest.raises(ValueError):
        addr.ip_address(text)


@pytest.mark.parametrize(
    "text", ["10.0.0.0/33", "10.0.0.0/-1", "10.0.0.0/", "10.0.0.0/255.0.0.0", "fd00::/129", "10.0.0.0/²"]
)
def test_refused_prefix_lengths(text: str) -> None:
    with pytest.raises(ValueError):
        addr.ip_interface(text)


def test_offsets_stay_in_the_family_range() -> None:
    assert str(addr.ip_address("255.255.255.254") + 1) == "255.255.255.255"
    with pytest.raises(ValueError):
        addr.ip_address("255.255.255.255") + 1

"""IP addresses, interfaces and prefixes: the small part of `ipaddress` the plugin needs.

`import ipaddress` costs about 8 ms per CNI call (it pulls in functools and collections; measured
with python3 -I -S -X importtime), a quarter of the frozen plugin's start-up. Parsing and printing
go through the C library's inet_pton/inet_ntop (`_socket`, 0.5 ms to import), which are as strict:
dotted-quad IPv4 without leading zeros, RFC 4291 IPv6 text. Prefix lengths are decimal only (no
netmask form: CNI results never use it). tests/plugin/test_addr.py checks this against ipaddress.
"""

from __future__ import annotations

from _socket import AF_INET, AF_INET6, inet_ntop, inet_pton

BITS = {4: 32, 6: 128}
_FAMILY = {4: AF_INET, 6: AF_INET6}


class IP:
    """One address: its family (4 or 6) and its value as an integer."""

    __slots__ = ("version", "value")

    def __init__(self, version: int, value: int) -> None:
        if not 0 <= value < 1 << BITS[version]:
            raise ValueError(f"IPv{version} address out of range")
        self.version = version
        self.value = value

    def __int__(self) -> int:
        return self.value

    def __add__(self, offset: int) -> IP:
        return IP(self.version, self.value + offset)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, IP) and (self.version, self.value) == (other.version, other.value)

    def __hash__(self) -> int:
        return hash((self.version, self.value))

    def __str__(self) -> str:
        return inet_ntop(_FAMILY[self.version], self.value.to_bytes(BITS[self.version] // 8, "big"))

    __repr__ = __str__


class Interface:
    """An address with the prefix length of its subnet, as in a CNI result's "address"."""

    __slots__ = ("ip", "prefixlen")

    def __init__(self, ip: IP, prefixlen: int) -> None:
        self.ip = ip
        self.prefixlen = prefixlen

    @property
    def version(self) -> int:
        return self.ip.version

    def __str__(self) -> str:
        return f"{self.ip}/{self.prefixlen}"

    __repr__ = __str__


class Net:
    """A prefix whose host bits are zero."""

    __slots__ = ("network_address", "prefixlen")

    def __init__(self, network_address: IP, prefixlen: int) -> None:
        self.network_address = network_address
        self.prefixlen = prefixlen

    @property
    def version(self) -> int:
        return self.network_address.version

    @property
    def hostmask(self) -> int:
        return (1 << (BITS[self.version] - self.prefixlen)) - 1

    @property
    def num_addresses(self) -> int:
        return self.hostmask + 1

    def __contains__(self, ip: object) -> bool:
        return (
            isinstance(ip, IP)
            and ip.version == self.version
            and ip.value & ~self.hostmask == self.network_address.value
        )

    def __str__(self) -> str:
        return f"{self.network_address}/{self.prefixlen}"

    __repr__ = __str__


def ip_address(text: str) -> IP:
    version = 6 if ":" in text else 4
    try:
        packed = inet_pton(_FAMILY[version], text)
    except (OSError, ValueError, TypeError):
        raise ValueError(f"{text[:64]!r} is not a valid IPv{version} address") from None
    return IP(version, int.from_bytes(packed, "big"))


def _split(text: str) -> tuple[IP, int]:
    address, slash, length = text.partition("/")
    ip = ip_address(address)
    if not slash:
        return ip, BITS[ip.version]
    if not (length.isascii() and length.isdigit()) or int(length) > BITS[ip.version]:
        raise ValueError(f"{length[:16]!r} is not a valid prefix length for IPv{ip.version}")
    return ip, int(length)


def ip_interface(text: str) -> Interface:
    return Interface(*_split(text))


def ip_network(text: str) -> Net:
    """A prefix; its host bits must be zero (like ipaddress.ip_network(text, strict=True))."""
    ip, prefixlen = _split(text)
    net = Net(ip, prefixlen)
    if ip.value & net.hostmask:
        raise ValueError(f"{text[:64]!r} has host bits set")
    return net

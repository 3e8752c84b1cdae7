"""The one place that parses what the runtime hands the plugin: environment and stdin config."""

from __future__ import annotations

from cni_quickstart import SUPPORTED_VERSIONS, addr, fastjson
from cni_quickstart import errors as e

COMMANDS = ("ADD", "DEL", "CHECK", "VERSION", "STATUS", "GC")
# Which CNI_* variables each command needs (the CNI spec, containernetworking/cni SPEC.md, "Parameters").
REQUIRED_ENV = {
    "ADD": ("CNI_CONTAINERID", "CNI_NETNS", "CNI_IFNAME"),
    "CHECK": ("CNI_CONTAINERID", "CNI_NETNS", "CNI_IFNAME"),
    "DEL": ("CNI_CONTAINERID", "CNI_IFNAME"),
    "VERSION": (),
    "STATUS": (),
    "GC": (),
}
MODES = ("fixed", "translate")
DEFAULT_FAKE_V4 = "1.2.3.0/24"
DEFAULT_FAKE_V6 = "2001:db8::/64"

_ALNUM = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
_ID_CHARS = _ALNUM | frozenset("_.-")
_MAX_FIELD = 4096

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs ~5 ms per CNI call
if TYPE_CHECKING:  # typing and dataclasses cost ~15 ms of start-up on every CNI call
    from collections.abc import Mapping
    from typing import Any


class Env:
    """The CNI_* environment of one invocation."""

    __slots__ = ("command", "container_id", "netns", "ifname", "args")

    def __init__(self, command: str, container_id: str, netns: str, ifname: str, args: dict[str, str]) -> None:
        self.command = command
        self.container_id = container_id
        self.netns = netns
        self.ifname = ifname
        self.args = args

    @property
    def pod(self) -> tuple[str, str]:
        return self.args.get("K8S_POD_NAMESPACE", ""), self.args.get("K8S_POD_NAME", "")


class Config:
    """The plugin's network config, validated."""

    __slots__ = ("cni_version", "name", "mode", "fake_v4", "fake_v6", "log_file", "prev_result", "raw")

    def __init__(
        self,
        cni_version: str,
        name: str,
        mode: str,
        fake_v4: addr.Net,
        fake_v6: addr.Net,
        log_file: str | None,
        prev_result: dict[str, Any] | None,
        raw: dict[str, Any],
    ) -> None:
        self.cni_version = cni_version
        self.name = name
        self.mode = mode
        self.fake_v4 = fake_v4
        self.fake_v6 = fake_v6
        self.log_file = log_file
        self.prev_result = prev_result
        self.raw = raw


def parse_env(environ: Mapping[str, str]) -> Env:
    command = environ.get("CNI_COMMAND", "")
    if command not in COMMANDS:
        raise e.CNIError(
            e.INVALID_ENVIRONMENT,
            "CNI_COMMAND is missing or unknown",
            f"got {command[:64]!r}, expected one of {', '.join(COMMANDS)}",
        )
    for var in REQUIRED_ENV[command]:
        if not environ.get(var):
            raise e.CNIError(e.INVALID_ENVIRONMENT, f"{var} is required for {command}")
    if command == "VERSION":  # needs CNI_COMMAND only: nothing else may make it fail
        return Env(command, "", "", "", {})
    container_id = environ.get("CNI_CONTAINERID", "")
    if container_id and (len(container_id) > _MAX_FIELD or not _valid_container_id(container_id)):
        raise e.CNIError(
            e.INVALID_ENVIRONMENT,
            "CNI_CONTAINERID is not a valid container id",
            "it must start with a letter or digit and hold only letters, digits, '_', '.' and '-'",
        )
    ifname = environ.get("CNI_IFNAME", "")
    if ifname and not _valid_ifname(ifname):
        raise e.CNIError(e.INVALID_ENVIRONMENT, f"CNI_IFNAME {ifname[:32]!r} is not a valid interface name")
    netns = environ.get("CNI_NETNS", "")
    if len(netns) > _MAX_FIELD:
        raise e.CNIError(e.INVALID_ENVIRONMENT, "CNI_NETNS is too long")
    return Env(command, container_id, netns, ifname, parse_cni_args(environ.get("CNI_ARGS", "")))


def _valid_container_id(cid: str) -> bool:
    # The CNI spec (containernetworking/cni SPEC.md): letters, digits, '_', '.' and '-', starting with a letter
    # or digit (no `re`: start-up cost).
    return cid[0] in _ALNUM and all(c in _ID_CHARS for c in cid)


def _valid_ifname(name: str) -> bool:
    # Linux limits: at most 15 bytes, not "." or "..", no '/', ':' or white space.
    return 0 < len(name.encode()) <= 15 and name not in (".", "..") and not any(c in "/:" or c.isspace() for c in name)


def parse_cni_args(text: str) -> dict[str, str]:
    """CNI_ARGS is 'K1=V1;K2=V2'; an item without '=' is an error, empty items are skipped."""
    if len(text) > _MAX_FIELD:
        raise e.CNIError(e.INVALID_ENVIRONMENT, "CNI_ARGS is too long")
    args: dict[str, str] = {}
    for item in text.split(";"):
        if not item:
            continue
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise e.CNIError(e.INVALID_ENVIRONMENT, "CNI_ARGS is malformed", f"item {item[:64]!r} is not KEY=VALUE")
        args[key] = value
    return args


def decode(stdin: bytes) -> dict[str, Any]:
    try:
        data = fastjson.loads(stdin)
    except (ValueError, RecursionError) as exc:  # UnicodeDecodeError is a ValueError
        raise e.CNIError(e.DECODE_FAILURE, "network config on stdin is not valid JSON", str(exc)[:200]) from None
    if not isinstance(data, dict):
        raise e.CNIError(e.DECODE_FAILURE, "network config on stdin must be a JSON object")
    return data


def version_of(data: Mapping[str, Any]) -> str:
    version = data.get("cniVersion")
    if not isinstance(version, str) or not version:
        raise e.CNIError(e.INVALID_CONFIG, "cniVersion is missing or not a string")
    if version not in SUPPORTED_VERSIONS:
        raise e.CNIError(
            e.INCOMPATIBLE_VERSION,
            f"cniVersion {version[:32]!r} is not supported",
            f"supported: {', '.join(SUPPORTED_VERSIONS)}",
        )
    return version


def parse_config(data: dict[str, Any]) -> Config:
    version = version_of(data)
    name = data.get("name")
    if not isinstance(name, str) or not name:
        raise e.CNIError(e.INVALID_CONFIG, "network name is missing or not a string")
    mode = data.get("mode", "fixed")
    if mode not in MODES:
        raise e.CNIError(e.INVALID_CONFIG, f"mode must be one of {', '.join(MODES)}", f"got {str(mode)[:64]!r}")
    fake_v4 = _network(data, "fakeIPv4", DEFAULT_FAKE_V4, 4)
    fake_v6 = _network(data, "fakeIPv6", DEFAULT_FAKE_V6, 6)
    log_file = data.get("logFile")
    if log_file is not None and (not isinstance(log_file, str) or not log_file.startswith("/") or "\0" in log_file):
        raise e.CNIError(e.INVALID_CONFIG, "logFile must be an absolute path")
    prev = data.get("prevResult")
    if prev is not None and not isinstance(prev, dict):
        raise e.CNIError(e.INVALID_CONFIG, "prevResult must be a JSON object")
    return Config(version, name, mode, fake_v4, fake_v6, log_file or None, prev, data)


def _network(data: Mapping[str, Any], key: str, default: str, family: int) -> addr.Net:
    value = data.get(key, default)
    try:
        if not isinstance(value, str):
            raise ValueError("not a string")
        net = addr.ip_network(value)
    except ValueError as exc:
        raise e.CNIError(e.INVALID_CONFIG, f"{key} is not a valid prefix", str(exc)[:200]) from None
    if net.version != family:
        raise e.CNIError(e.INVALID_CONFIG, f"{key} must be an IPv{family} prefix")
    if net.num_addresses < 4:
        raise e.CNIError(e.INVALID_CONFIG, f"{key} is too small", "it needs room for an address and a gateway")
    return net

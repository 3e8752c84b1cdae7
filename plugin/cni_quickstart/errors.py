"""CNI error object and the spec's well-known error codes."""

from __future__ import annotations

from cni_quickstart import fastjson

INCOMPATIBLE_VERSION = 1
UNSUPPORTED_FIELD = 2
UNKNOWN_CONTAINER = 3
INVALID_ENVIRONMENT = 4
IO_FAILURE = 5
DECODE_FAILURE = 6
INVALID_CONFIG = 7
TRY_AGAIN_LATER = 11
# Plugin-specific codes start at 100 (the CNI spec, containernetworking/cni SPEC.md, "Error").
NOT_CHAINED = 100
CHECK_MISMATCH = 101
INTERNAL = 199

FALLBACK_VERSION = "1.1.0"


class CNIError(Exception):
    """A failure the plugin reports to the runtime as a CNI error object."""

    def __init__(self, code: int, msg: str, details: str = "") -> None:
        super().__init__(msg)
        self.code = code
        self.msg = msg
        self.details = details

    def to_json(self, cni_version: str | None) -> str:
        return fastjson.dumps(
            {
                "cniVersion": cni_version or FALLBACK_VERSION,
                "code": self.code,
                "msg": self.msg,
                "details": self.details,
            }
        )

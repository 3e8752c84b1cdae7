"""JSON through CPython's own C accelerator (`_json`), without importing the `json` package.

`import json` pulls in `re` and `enum`, about 10 ms of CPU on every CNI call: a third of the
plugin's start-up (measured: python3 -I -S -X importtime). `_json` is the C scanner and encoder that
`json` itself uses; this module drives it the same way `json.loads`/`json.dumps` do with their
default options, and falls back to `json` where `_json` is missing. Decoding errors raise ValueError
(json.JSONDecodeError, a ValueError subclass, where the scanner reports one).
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

_c: Any
try:
    import _json as _c
except ImportError:  # pragma: no cover - every CPython build has _json
    _c = None

_WHITESPACE = " \t\n\r"


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


class _Context:
    """The attributes the C scanner reads from its context (json.JSONDecoder's defaults, strict JSON)."""

    strict = True
    object_hook = None
    object_pairs_hook = None
    parse_float = float
    parse_int = int
    parse_constant = staticmethod(_reject_constant)
    memo: dict[str, str] = {}


def _no_default(obj: object) -> Any:
    raise TypeError(f"Object of type {type(obj).__name__} is not JSON serializable")


def loads(data: bytes | str) -> Any:
    text = data.decode("utf-8") if isinstance(data, bytes) else data
    if _c is None:  # pragma: no cover
        import json

        return json.loads(text)
    end = len(text)
    idx = 0
    while idx < end and text[idx] in _WHITESPACE:
        idx += 1
    try:
        value, idx = _c.make_scanner(_Context())(text, idx)
    except StopIteration as stop:
        raise ValueError(f"Expecting value at char {stop.value}") from None
    except SystemError:
        # The C scanner raises syntax errors as json.decoder.JSONDecodeError, which it can only find once
        # json is imported: only malformed input pays for that import, and gets json's own message.
        import json

        return json.loads(text)
    while idx < end and text[idx] in _WHITESPACE:
        idx += 1
    if idx != end:
        raise ValueError(f"Extra data at char {idx}")
    return value


def dumps(obj: object, sort_keys: bool = False) -> str:
    if _c is None:  # pragma: no cover
        import json

        return json.dumps(obj, sort_keys=sort_keys)
    encode = _c.make_encoder({}, _no_default, _c.encode_basestring_ascii, None, ": ", ", ", sort_keys, False, True)
    return "".join(encode(obj, 0))

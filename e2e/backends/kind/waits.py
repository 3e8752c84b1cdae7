"""Waits for setup steps, on tenacity. Each names what it waited for when it gives up.

Only setup is retried (a pod becoming Ready, a config being loaded); test assertions are not.
Timeouts that peers found necessary on kind: pod Ready up to 300 s, pings up to 60 s.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar, cast

from tenacity import RetryError, Retrying, retry_if_exception_type, retry_if_result, stop_after_delay, wait_fixed

from e2e.backends.base import WaitTimeout

__all__ = ["NotYet", "WaitTimeout", "wait_until", "CNI_LOADED_SECONDS", "PING_SECONDS", "POD_GONE_SECONDS",
           "POD_READY_SECONDS"]  # fmt: skip

T = TypeVar("T")

POD_READY_SECONDS = 300.0
PING_SECONDS = 60.0
CNI_LOADED_SECONDS = 60.0
POD_GONE_SECONDS = 120.0


class NotYet(Exception):
    """Raised by a probe to say "not yet", with what it saw (shown if the wait gives up)."""


def wait_until(
    what: str,
    probe: Callable[[], T | None],
    timeout: float,
    *,
    interval: float = 1.0,
    retry_on: tuple[type[BaseException], ...] = (),
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """Call probe until it returns something other than None (or raises nothing in retry_on/NotYet).

    Exceptions outside NotYet and retry_on propagate at once: a broken setup fails fast.
    """
    retrying = Retrying(
        stop=stop_after_delay(timeout),
        wait=wait_fixed(interval),
        retry=retry_if_result(lambda value: value is None) | retry_if_exception_type((NotYet, *retry_on)),
        sleep=sleep,
    )
    try:
        result = retrying(probe)
    except RetryError as exc:
        last = exc.last_attempt
        if last.failed:
            seen = f"last: {last.exception()}"
        else:
            seen = "last: not yet"
        raise WaitTimeout(f"gave up after {timeout:g} s waiting for {what} ({seen})") from None
    return cast(T, result)

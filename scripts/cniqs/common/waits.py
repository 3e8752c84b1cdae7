"""One wait helper, on tenacity: every wait names what it waited for when it gives up.

Only setup is retried (a process answering, a pod becoming Ready, a config being loaded); test
assertions are not. A probe returns a value (done), something falsy or raises NotYet (not yet), raises
an exception in retry_on (not yet, shown if the wait gives up) or anything else (fails at once).
Fatal always fails at once, even where every error is retried.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar, cast

from tenacity import RetryError, Retrying, retry_if_exception, retry_if_result, stop_after_delay, wait_exponential

from cniqs.common.errors import Fatal, NotYet, WaitTimeout

__all__ = ["CNI_LOADED_SECONDS", "Fatal", "NotYet", "PING_SECONDS", "POD_GONE_SECONDS", "POD_READY_SECONDS",
           "WaitTimeout", "until", "wait_until"]  # fmt: skip

T = TypeVar("T")

# Timeouts that peers found necessary on kind: pod Ready up to 300 s, pings up to 60 s.
POD_READY_SECONDS = 300.0
PING_SECONDS = 60.0
CNI_LOADED_SECONDS = 60.0
POD_GONE_SECONDS = 120.0
# The first pause between probes; each later one doubles, up to the wait's interval. Most waits end within a
# second or two, so a fixed interval mostly measured itself (a pod Ready after 1.1 s was seen after 2 s).
FIRST_PAUSE = 0.05


def wait_until(
    what: str,
    probe: Callable[[], T | None],
    timeout: float,
    *,
    interval: float = 1.0,
    retry_on: tuple[type[BaseException], ...] = (),
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """Call probe until it returns something truthy; WaitTimeout naming `what` (and the last answer) if not.

    The pauses between probes start at FIRST_PAUSE and double up to `interval`.
    """
    retried: tuple[type[BaseException], ...] = (NotYet, *retry_on)

    def again(exc: BaseException) -> bool:
        return isinstance(exc, retried) and not isinstance(exc, Fatal)

    retrying = Retrying(
        stop=stop_after_delay(timeout),
        wait=wait_exponential(multiplier=min(FIRST_PAUSE, interval), max=interval),
        retry=retry_if_result(lambda value: not value) | retry_if_exception(again),
        sleep=sleep,
    )
    try:
        result = retrying(probe)
    except RetryError as exc:
        last = exc.last_attempt
        if last.failed:
            error = last.exception()
            seen = f"last: {error}" if isinstance(error, NotYet) else f"last error: {type(error).__name__}: {error}"
        else:
            answer = last.result()
            seen = "last: not yet" if answer is None else f"last answer: {answer!s}"
        raise WaitTimeout(f"gave up after {timeout:g} s waiting for {what} ({seen[:500]})") from None
    return cast(T, result)


def until(what: str, probe: Callable[[], T | None], *, timeout: float, interval: float = 0.05) -> T:
    """wait_until for processes starting up: every error but Fatal means "not yet"."""
    return wait_until(what, probe, timeout, interval=interval, retry_on=(Exception,))

"""Waiting with tenacity: every wait names what it waited for when it gives up."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from tenacity import RetryError, Retrying, retry_if_exception, retry_if_result, stop_after_delay, wait_fixed

from e2e.backends.base import WaitTimeout

__all__ = ["Fatal", "WaitTimeout", "until"]

T = TypeVar("T")


class Fatal(Exception):
    """Raised by a probe when waiting longer cannot help (the process it waits for died)."""


def until(what: str, probe: Callable[[], T], *, timeout: float, interval: float = 0.05) -> T:
    """Call probe until it returns something truthy without raising; WaitTimeout naming `what` if not.

    A Fatal from probe ends the wait at once and propagates.
    """
    retrying = Retrying(
        stop=stop_after_delay(timeout),
        wait=wait_fixed(interval),
        retry=retry_if_exception(lambda exc: not isinstance(exc, Fatal)) | retry_if_result(lambda value: not value),
    )
    try:
        return retrying(probe)
    except RetryError as err:
        last = err.last_attempt
        if last.failed:
            exc = last.exception()
            detail = f"last error: {type(exc).__name__}: {str(exc)[:500]}"
        else:
            detail = f"last answer: {str(last.result())[:500]!s}"
        raise WaitTimeout(f"gave up after {timeout:g} s waiting for {what} ({detail})") from None

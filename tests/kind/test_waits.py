from __future__ import annotations

import pytest

from cniqs.common import waits
from cniqs.common.waits import NotYet, WaitTimeout, wait_until


def test_returns_the_first_value() -> None:
    seen = iter([None, None, "ready"])
    assert wait_until("x", lambda: next(seen), 5, interval=0, sleep=lambda _: None) == "ready"


def test_not_yet_is_retried_and_reported_when_it_gives_up() -> None:
    def probe() -> str:
        raise NotYet("Pending (main: ContainerCreating)")

    with pytest.raises(WaitTimeout) as info:
        wait_until("pod e2e/a to be Ready", probe, 0.05, interval=0.01)
    message = str(info.value)
    assert "gave up after 0.05 s waiting for pod e2e/a to be Ready" in message
    assert "Pending (main: ContainerCreating)" in message


def test_none_forever_says_not_yet() -> None:
    with pytest.raises(WaitTimeout, match=r"waiting for nothing \(last: not yet\)"):
        wait_until("nothing", lambda: None, 0.03, interval=0.01)


def test_listed_exceptions_are_retried() -> None:
    calls = []

    def probe() -> bool:
        calls.append(1)
        if len(calls) < 3:
            raise ConnectionError("refused")
        return True

    assert wait_until("api", probe, 5, interval=0, retry_on=(ConnectionError,), sleep=lambda _: None)


def test_other_exceptions_fail_at_once() -> None:
    calls = []

    def probe() -> bool:
        calls.append(1)
        raise AssertionError("an assertion is never retried")

    with pytest.raises(AssertionError):
        wait_until("x", probe, 5, interval=0, sleep=lambda _: None)
    assert len(calls) == 1


def test_peer_timeouts() -> None:
    assert waits.POD_READY_SECONDS == 300
    assert waits.PING_SECONDS == 60


def test_the_pauses_start_short_and_double_up_to_the_interval() -> None:
    pauses: list[float] = []
    answers = iter([None] * 8 + ["ready"])
    assert wait_until("x", lambda: next(answers), 60, interval=1, sleep=pauses.append) == "ready"
    assert pauses == pytest.approx([0.05, 0.1, 0.2, 0.4, 0.8, 1, 1, 1])

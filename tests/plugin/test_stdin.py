"""Reading stdin is bounded in size and in time."""

from __future__ import annotations

import os
import time

import pytest

from cni_quickstart.errors import CNIError
from cni_quickstart.main import read_stdin


def test_reads_until_eof() -> None:
    r, w = os.pipe()
    os.write(w, b'{"cniVersion": "1.0.0"}')
    os.close(w)
    try:
        assert read_stdin(r, limit=1024, seconds=5) == b'{"cniVersion": "1.0.0"}'
    finally:
        os.close(r)


def test_a_writer_that_never_closes_is_given_up_on() -> None:
    r, w = os.pipe()
    os.write(w, b"{")
    start = time.monotonic()
    try:
        with pytest.raises(CNIError) as err:
            read_stdin(r, limit=1024, seconds=0.3)
    finally:
        os.close(r)
        os.close(w)
    assert err.value.code == 5 and "not closed" in err.value.msg
    assert time.monotonic() - start < 3


def test_an_endless_stream_is_cut_at_the_limit() -> None:
    with open("/dev/zero", "rb") as zero:
        with pytest.raises(CNIError) as err:
            read_stdin(zero.fileno(), limit=1 << 16, seconds=5)
    assert err.value.code == 6 and "larger than" in err.value.msg

"""cniqs.common.cristatus (the installer's stdlib-only CRI Status call) against a real gRPC server.

The server is grpcio's, serving the CRI v1 RuntimeService of the container-runtime-interface-api package on
a unix socket, as containerd serves it: a different HTTP/2 and HPACK implementation from the client's own.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from cri_api.v1 import api_pb2 as api

from cniqs.common import cristatus
from tests.crifake import Runtime, serve


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[str, Runtime]]:
    with serve() as both:
        yield both


def test_status_returns_the_verbose_info(served: tuple[str, Runtime]) -> None:
    path, runtime = served
    cni = {"Networks": [{"IFName": "eth0", "Config": {"Name": "kindnet", "Plugins": []}}]}
    runtime.info, runtime.fail = {"cniconfig": json.dumps(cni), "config": "{}"}, None
    assert cristatus.status(path) == runtime.info
    assert runtime.verbose[-1] is True, "Status must ask for the verbose info"


def test_an_answer_larger_than_the_default_windows_and_frames_arrives_whole(served: tuple[str, Runtime]) -> None:
    """Above HTTP/2's default 64 KiB window and 16 KiB frame: the client's windows and reassembly."""
    path, runtime = served
    runtime.info, runtime.fail = {"cniconfig": "x" * 300_000, "ä": "ü" * 1000}, None
    assert cristatus.status(path) == runtime.info


def test_a_grpc_error_is_an_error_not_an_empty_info(served: tuple[str, Runtime]) -> None:
    path, runtime = served
    runtime.fail = grpc.StatusCode.UNAVAILABLE
    with pytest.raises(cristatus.CriError, match="without a message: a gRPC error"):
        cristatus.status(path)
    runtime.fail = None


def test_no_runtime_at_the_socket_names_it(tmp_path: Path) -> None:
    with pytest.raises(cristatus.CriError, match=rf"cannot connect to {tmp_path}/none.sock"):
        cristatus.status(str(tmp_path / "none.sock"))


def test_the_hand_read_protobuf_matches_protobufs_own() -> None:
    message = api.StatusResponse(
        status=api.RuntimeStatus(conditions=[api.RuntimeCondition(type="RuntimeReady", status=True, reason="r")]),
        info={"a": "1", "cniconfig": "{}", "": "empty key"},
    ).SerializeToString()
    assert cristatus.status_info(message) == {"a": "1", "cniconfig": "{}", "": "empty key"}
    assert api.StatusRequest.FromString(cristatus.STATUS_REQUEST).verbose is True
    with pytest.raises(cristatus.CriError, match="truncated"):
        cristatus.status_info(message[:-1])


def test_hpack_integers_use_the_continuation_bytes_of_rfc_7541() -> None:
    assert cristatus.hpack_int(10, 5) == bytes([10])
    assert cristatus.hpack_int(1337, 5) == bytes([31, 154, 10])  # RFC 7541 C.1.2
    assert cristatus.hpack_int(42, 8) == bytes([42])

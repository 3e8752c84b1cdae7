"""A CRI runtime for tests: grpcio's server with the CRI v1 RuntimeService of container-runtime-interface-api on
a unix socket, answering Status(verbose) with an info the test sets, as containerd serves it."""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterator
from concurrent import futures
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import grpc
from cri_api.v1 import api_pb2 as api
from cri_api.v1 import api_pb2_grpc as rpc


class Runtime(rpc.RuntimeServiceServicer):
    def __init__(self) -> None:
        self.info: dict[str, str] = {}
        self.fail: grpc.StatusCode | None = None
        self.verbose: list[bool] = []

    def Status(self, request: Any, context: Any) -> Any:  # noqa: N802 (the CRI's name)
        self.verbose.append(request.verbose)
        if self.fail is not None:
            context.abort(self.fail, "runtime says no")
        condition = api.RuntimeCondition(type="NetworkReady", status=True)
        return api.StatusResponse(status=api.RuntimeStatus(conditions=[condition]), info=self.info)

    def load(self, chain: dict[str, Any] | None) -> None:
        """Report chain (a conflist) as the loaded pod network, beside containerd's loopback; None: none."""
        self.info = {"cniconfig": json.dumps(cniconfig(chain))}


def cniconfig(chain: dict[str, Any] | None) -> dict[str, Any]:
    """containerd's cniconfig for a loaded conflist (the shape of CRI Status's info["cniconfig"])."""
    loopback = {"Network": {"type": "loopback"}, "Source": '{"type":"loopback"}'}
    networks: list[dict[str, Any]] = [
        {"Config": {"Name": "cni-loopback", "CNIVersion": "0.3.1", "Plugins": [loopback]}, "IFName": "lo"}
    ]
    if chain is not None:
        plugins = [{"Network": {"type": p["type"]}, "Source": json.dumps(p)} for p in chain["plugins"]]
        config = {"Name": chain["name"], "CNIVersion": chain["cniVersion"], "Plugins": plugins}
        networks.append({"Config": config, "IFName": "eth0"})
    return {"PluginConfDir": "/etc/cni/net.d", "Networks": networks}


@contextmanager
def serve(path: Path | None = None) -> Iterator[tuple[str, Runtime]]:
    """(socket path, runtime) while the server runs; path: where its socket goes (default: a temp dir)."""
    runtime = Runtime()
    with tempfile.TemporaryDirectory(prefix="cniqs-cri-") as folder:  # short: unix socket paths are limited
        socket = str(path or f"{folder}/cri.sock")
        server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
        rpc.add_RuntimeServiceServicer_to_server(runtime, server)
        server.add_insecure_port(f"unix://{socket}")
        server.start()
        try:
            yield socket, runtime
        finally:
            server.stop(None)

"""A command in a pod over the API server's exec stream, as `kubectl exec` runs it, without starting kubectl.

kubectl spends most of its 0.3-0.5 s per exec starting up and reading its kubeconfig; the kubernetes client's
websocket does the same exec on the connection settings the backend already holds. Each call has an API client
of its own: the client's stream helper swaps the client's request method while it runs, so a shared client
would send another thread's plain API calls over the websocket.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from kubernetes import client as k8s
from kubernetes.client.exceptions import ApiException
from kubernetes.stream import stream

from cniqs.provider import ExecResult

STDOUT, STDERR, STATUS = 1, 2, 3  # the exec stream's channels
TIMED_OUT = 124  # as cniqs.common.run.run_process reports a timeout
NOT_RUN = 1  # kubectl exec's exit code when the command never ran (no such pod, container not running)


def exit_code(status: str) -> tuple[int, str]:
    """The exit code in the stream's closing Status (its last channel), and the reason when the command did not
    exit by itself (it could not start, say)."""
    try:
        doc: Any = json.loads(status) if status.strip() else {}
    except ValueError:
        return NOT_RUN, f"unreadable exec status: {status[:200]!r}"
    if not isinstance(doc, dict) or not doc:
        return NOT_RUN, "the exec stream ended without a status"
    if doc.get("status") == "Success":
        return 0, ""
    if doc.get("reason") == "NonZeroExitCode":
        for cause in (doc.get("details") or {}).get("causes") or []:
            if cause.get("reason") == "ExitCode" and str(cause.get("message", "")).isdigit():
                return int(cause["message"]), ""
    return NOT_RUN, str(doc.get("message") or doc)


def pod_exec(
    configuration: k8s.Configuration, namespace: str, pod: str, argv: Sequence[str], timeout: float
) -> ExecResult:
    """argv in the pod's (only) container, no stdin, no tty; its exit code, stdout and stderr. A command still
    running after timeout seconds is left (the stream closed) with exit code 124."""
    api = k8s.ApiClient(configuration)
    try:
        try:
            ws: Any = stream(
                k8s.CoreV1Api(api).connect_get_namespaced_pod_exec, pod, namespace, command=list(argv),
                stdin=False, stdout=True, stderr=True, tty=False, binary=True, _preload_content=False,
            )  # fmt: skip
        except ApiException as exc:
            return ExecResult(NOT_RUN, "", f"exec in {namespace}/{pod}: {exc.reason or exc}")
        try:
            ws.run_forever(timeout=timeout)
            out = _text(ws.read_channel(STDOUT))
            err = _text(ws.read_channel(STDERR))
            if ws.is_open():
                return ExecResult(TIMED_OUT, out, f"{err}timed out after {timeout:g} s")
            rc, why = exit_code(_text(ws.read_channel(STATUS)))
            return ExecResult(rc, out, err + why)
        finally:
            ws.close()
    finally:
        api.close()


def _text(data: bytes | str) -> str:
    return data.decode("utf-8", "replace") if isinstance(data, bytes) else data

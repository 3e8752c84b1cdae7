"""What cniqs prints when a command fails: the exception on one line, and a hint of where to look next."""

from __future__ import annotations

from cniqs import providers
from cniqs.cli import state
from cniqs.cli.session import CliError
from cniqs.common.errors import InstallError, WaitTimeout
from cniqs.common.run import CommandError
from cniqs.providers.kind.cluster import CreateFailed


def one_line(exc: BaseException, limit: int = 600) -> str:
    """The message on one line; long ones (a log tail in a wait's error) cut at limit characters. A failed kind
    create is whole: its message is the few lines that say what failed, and where the nodes' logs are."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    if isinstance(exc, (CliError, state.StateError, CreateFailed)):
        return text
    return text if len(text) <= limit else text[: limit - 3] + "..."


def hint(exc: BaseException) -> str:
    name = type(exc).__name__
    if isinstance(exc, (CliError, state.StateError, providers.MissingExtra)):
        return ""
    if isinstance(exc, WaitTimeout):
        return "rerun with -v to see every command; `cniqs status` shows where the node's logs are"
    if isinstance(exc, CommandError):
        return "rerun with -v to see every command and its output"
    if isinstance(exc, InstallError):
        return "see README.md, Troubleshooting"
    if name in ("_InactiveRpcError", "RpcError"):
        return "containerd did not answer as expected; `cniqs status` shows its log file"
    if name == "ApiException":
        return "the Kubernetes API refused it; check `kubectl get pods` with the cluster's kubeconfig"
    return "rerun with -v for the commands run; if it persists, report it with that output"


def describe_error(exc: BaseException) -> str:
    details = getattr(exc, "details", None)
    text = str(details()) if callable(details) and type(exc).__name__ != "ApiException" else one_line(exc)
    if type(exc).__name__ == "ApiException":
        text = f"Kubernetes API: {getattr(exc, 'status', '?')} {getattr(exc, 'reason', '')}".strip()
    text = " ".join(text.split())
    extra = hint(exc)
    return f"{text} ({extra})" if extra else text

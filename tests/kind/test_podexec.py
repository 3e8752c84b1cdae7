"""The exit code of a pod exec, read from the Status the API server sends as the stream ends."""

from __future__ import annotations

import json

from cniqs.providers.cluster.podexec import NOT_RUN, exit_code


def status(**doc: object) -> str:
    return json.dumps({"metadata": {}, **doc})


def test_success_is_exit_code_zero() -> None:
    assert exit_code(status(status="Success")) == (0, "")


def test_a_non_zero_exit_is_the_commands_own_code() -> None:
    doc = status(
        status="Failure",
        message="command terminated with non-zero exit code: error executing command [sh -c exit 3], exit code 3",
        reason="NonZeroExitCode",
        details={"causes": [{"reason": "ExitCode", "message": "3"}]},
    )
    assert exit_code(doc) == (3, "")


def test_a_command_that_could_not_start_is_not_run_with_the_servers_reason() -> None:
    doc = status(status="Failure", message='exec: "nope": executable file not found in $PATH', reason="InternalError")
    rc, why = exit_code(doc)
    assert rc == NOT_RUN
    assert "executable file not found" in why


def test_a_stream_that_ended_without_a_status_is_not_a_success() -> None:
    assert exit_code("")[0] == NOT_RUN
    assert exit_code("{}")[0] == NOT_RUN
    assert exit_code("not json")[0] == NOT_RUN
    assert exit_code(status(status="Failure", reason="NonZeroExitCode", details={"causes": []}))[0] == NOT_RUN

"""ShellRunner against real shells on this machine: a node's shell is a local `sh`, reached as `docker exec -i
NODE sh` would reach it, and every command goes through the same lines a kind node's shell is sent."""

from __future__ import annotations

import glob
import threading
import time
from collections.abc import Iterator, Mapping, Sequence

import pytest

from cniqs.common.run import Completed
from cniqs.providers.kind.commands import DOCKER, PODMAN, ContainerAccess
from cniqs.providers.kind.nodeshell import ShellRunner, command_line


class LocalShells(ContainerAccess):
    """docker's exec argv for commands; a node's shell is a local sh (its name recorded)."""

    def __init__(self) -> None:
        super().__init__("docker")
        self.opened: list[str] = []

    def exec_argv(
        self, node: str, argv: Sequence[str], *, stdin: bool = False, env: Mapping[str, str] | None = None
    ) -> list[str]:
        if list(argv) == ["sh"] and stdin:
            self.opened.append(node)
            if node == "gone":  # what docker exec says of a container that is not there
                return ["sh", "-c", "echo 'Error response from daemon: No such container: gone' >&2; exit 1"]
            return ["sh"]
        return super().exec_argv(node, argv, stdin=stdin, env=env)


def passed_on(argv: Sequence[str], *, input: str | None = None, timeout: float | None = None) -> Completed:
    return Completed(list(argv), 0, "passed on", "")


@pytest.fixture
def shells() -> Iterator[tuple[ShellRunner, LocalShells]]:
    access = LocalShells()
    runner = ShellRunner(passed_on, access)
    yield runner, access
    runner.close()


def on(access: ContainerAccess, node: str, *argv: str, stdin: bool = False, **env: str) -> list[str]:
    return access.exec_argv(node, argv, stdin=stdin, env=env)


def test_exit_code_stdout_and_stderr_come_back_apart(shells: tuple[ShellRunner, LocalShells]) -> None:
    runner, access = shells
    result = runner(on(access, "n", "sh", "-c", "echo out; echo err >&2; printf tail; exit 3"))
    assert (result.rc, result.stdout, result.stderr) == (3, "out\ntail", "err\n")
    assert result.argv == ["docker", "exec", "n", "sh", "-c", "echo out; echo err >&2; printf tail; exit 3"]
    missing = runner(on(access, "n", "no-such-command-here"))
    assert missing.rc == 127 and "no-such-command-here" in missing.stderr


def test_input_env_and_quoting_reach_the_command_as_they_are(shells: tuple[ShellRunner, LocalShells]) -> None:
    runner, access = shells
    text = "first line\n\nno newline at the end: é 'quoted' \"$HOME\" `x`"
    assert runner(on(access, "n", "cat", stdin=True), input=text).stdout == text
    assert runner(on(access, "n", "cat", stdin=True), input="").stdout == ""
    assert runner(on(access, "n", "cat"), input="not asked for: no -i").stdout == ""
    value = "a b 'c' $d\nsecond"
    result = runner(on(access, "n", "sh", "-c", 'printf %s "$X"', X=value))
    assert result.stdout == value
    big = "x" * 300_000 + "\n"
    assert runner(on(access, "n", "wc", "-c", stdin=True), input=big).stdout.strip() == str(len(big))
    assert len(runner(on(access, "n", "head", "-c", "500000", "/dev/zero")).stdout) == 500_000


def test_one_shell_per_node_is_kept_and_other_commands_pass_on(shells: tuple[ShellRunner, LocalShells]) -> None:
    runner, access = shells
    for _ in range(3):
        assert runner(on(access, "a", "true")).rc == 0
    runner(on(access, "b", "true"))
    assert access.opened == ["a", "b"]
    assert runner(["kubectl", "get", "nodes"]).stdout == "passed on"
    assert runner(["docker", "exec", "--user", "1", "a", "true"]).stdout == "passed on"  # a flag it does not know


def test_commands_at_once_on_one_node_get_a_shell_each(shells: tuple[ShellRunner, LocalShells]) -> None:
    runner, access = shells
    results: list[Completed] = []
    threads = [
        threading.Thread(target=lambda: results.append(runner(on(access, "n", "sh", "-c", "sleep 0.3; echo $$"))))
        for _ in range(2)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert access.opened == ["n", "n"]
    assert len({r.stdout for r in results}) == 2 and all(r.rc == 0 for r in results)


def test_a_command_out_of_time_is_rc_124_and_the_next_gets_a_new_shell(
    shells: tuple[ShellRunner, LocalShells],
) -> None:
    runner, access = shells
    started = time.monotonic()
    late = runner(on(access, "n", "sleep", "30"), timeout=0.5)
    assert late.rc == 124 and "timed out after 0.5 s" in late.stderr
    assert time.monotonic() - started < 10  # not the 30 s the command would take
    assert runner(on(access, "n", "echo", "ok")).stdout == "ok\n"
    assert access.opened == ["n", "n"]
    dropped = runner._left["n"]
    assert all(glob.glob(path) for path in dropped)
    runner.close()
    assert not any(glob.glob(path) for path in dropped)  # the files of the killed shell went at close


def test_a_shell_that_ends_under_a_command_is_reported_and_replaced(shells: tuple[ShellRunner, LocalShells]) -> None:
    runner, access = shells
    gone = runner(on(access, "n", "sh", "-c", "kill -9 $PPID"))
    assert gone.rc == 125 and "the node shell ended" in gone.stderr
    assert runner(on(access, "n", "echo", "again")).stdout == "again\n"
    assert access.opened == ["n", "n"]


def test_a_builtin_cannot_change_the_kept_shell(shells: tuple[ShellRunner, LocalShells]) -> None:
    runner, access = shells
    assert runner(on(access, "n", "exit", "3")).rc == 3
    assert runner(on(access, "n", "cd", "/proc")).rc == 0
    assert runner(on(access, "n", "pwd")).stdout != "/proc\n"
    assert access.opened == ["n"]  # the same shell all along


def test_a_node_that_is_gone_says_so(shells: tuple[ShellRunner, LocalShells]) -> None:
    runner, access = shells
    result = runner(on(access, "gone", "true"))
    assert result.rc == 125 and "No such container: gone" in result.stderr


def test_close_ends_every_shell_and_removes_its_files() -> None:
    access = LocalShells()
    runner = ShellRunner(passed_on, access)
    runner(on(access, "n", "true"))
    shells = list(runner._all)
    tag = shells[0].tag
    assert glob.glob(f"/tmp/.cniqs-shell-{tag}.*")
    runner.close()
    assert all(not shell.alive() for shell in shells)
    assert not glob.glob(f"/tmp/.cniqs-shell-{tag}.*")
    assert runner(on(access, "n", "true")).stdout == "passed on"  # after close: one exec each, as before


@pytest.mark.parametrize("access", [DOCKER, PODMAN], ids=["docker", "podman"])
def test_an_exec_argv_reads_back_as_what_built_it(access: ContainerAccess) -> None:
    argv = access.exec_argv("node-1", ["sh", "-c", "x", "-e"], stdin=True, env={"A": "1=2", "B": ""})
    assert access.parse_exec(argv) == ("node-1", ["sh", "-c", "x", "-e"], {"A": "1=2", "B": ""}, True)
    assert access.parse_exec(access.exec_argv("n", ["true"])) == ("n", ["true"], {}, False)
    assert access.parse_exec(access.copy_argv("/a", "n", "/b")) is None
    assert access.parse_exec(["kind", "exec", "n", "true"]) is None
    assert access.parse_exec([access.cli, "exec", "n"]) is None  # no command


def test_an_environment_name_that_is_no_name_is_refused() -> None:
    with pytest.raises(ValueError, match="not an environment variable name"):
        command_line(["true"], {"A B": "1"}, "/tmp/o", "/tmp/e", "m", "")

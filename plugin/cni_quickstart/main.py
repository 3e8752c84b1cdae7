"""Entry point: read stdin and CNI_* variables, run one command, answer on stdout."""

from __future__ import annotations

import os
import select
import sys
import time

from cni_quickstart import SUPPORTED_VERSIONS, fastjson, log
from cni_quickstart import errors as e
from cni_quickstart.config import decode, parse_config, parse_env
from cni_quickstart.rewrite import in_version, rewrite, verify

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs ~5 ms per CNI call
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from typing import Any

    from cni_quickstart.config import Config, Env

    Outcome = tuple[dict[str, Any] | None, list[tuple[str, str]]]

MAX_STDIN = 1 << 20  # 1 MiB: a network config with prevResult is a few KiB.
STDIN_SECONDS = 10.0


def read_stdin(fd: int = 0, limit: int = MAX_STDIN, seconds: float = STDIN_SECONDS) -> bytes:
    """Read until EOF, refusing more than limit bytes or a writer that stalls past the deadline."""
    deadline = time.monotonic() + seconds
    chunks: list[bytes] = []
    size = 0
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise e.CNIError(e.IO_FAILURE, f"stdin not closed within {seconds:g} s")
        try:
            ready, _, _ = select.select([fd], [], [], left)
        except (OSError, ValueError):
            ready = [fd]  # not selectable (a regular file): plain reads cannot block
        if not ready:
            continue
        chunk = os.read(fd, 65536)
        if not chunk:
            return b"".join(chunks)
        size += len(chunk)
        if size > limit:
            raise e.CNIError(e.DECODE_FAILURE, f"stdin is larger than {limit} bytes")
        chunks.append(chunk)


def cmd_add(env: Env, cfg: Config) -> Outcome:
    if cfg.prev_result is None:
        raise e.CNIError(e.NOT_CHAINED, "cni-quickstart must be used as a chained plugin", "no prevResult in config")
    return rewrite(cfg.prev_result, cfg)


def cmd_del(env: Env, cfg: Config) -> Outcome:
    # Nothing was created on ADD, so there is nothing to release; DEL is idempotent.
    return None, []


def cmd_check(env: Env, cfg: Config) -> Outcome:
    if cfg.cni_version.startswith("0.3."):
        raise e.CNIError(e.INCOMPATIBLE_VERSION, f"CHECK needs cniVersion 0.4.0 or later, got {cfg.cni_version}")
    if cfg.prev_result is None:
        raise e.CNIError(e.NOT_CHAINED, "CHECK needs prevResult", "cni-quickstart must be used as a chained plugin")
    verify(cfg.prev_result, cfg)
    return None, []


def cmd_stateless(env: Env, cfg: Config) -> Outcome:
    # STATUS: always ready (no state, no dependency). GC: no resources to collect. Both are 1.1.0 commands.
    if cfg.cni_version != "1.1.0":
        raise e.CNIError(e.INCOMPATIBLE_VERSION, f"{env.command} needs cniVersion 1.1.0, got {cfg.cni_version}")
    return None, []


COMMANDS: dict[str, Callable[[Env, Config], Outcome]] = {
    "ADD": cmd_add,
    "DEL": cmd_del,
    "CHECK": cmd_check,
    "STATUS": cmd_stateless,
    "GC": cmd_stateless,
}


def version_info(data: Mapping[str, Any] | None) -> dict[str, Any]:
    asked = data.get("cniVersion") if data else None
    return {
        "cniVersion": asked if isinstance(asked, str) and asked in SUPPORTED_VERSIONS else SUPPORTED_VERSIONS[-1],
        "supportedVersions": list(SUPPORTED_VERSIONS),
    }


def run(environ: Mapping[str, str], stdin: Callable[[], bytes]) -> tuple[int, str, dict[str, Any]]:
    """Run one invocation. Returns (exit code, stdout text, log record)."""
    started = time.monotonic()
    record: dict[str, Any] = {"time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    version: str | None = None
    data: dict[str, Any] | None = None
    try:
        env = parse_env(environ)
        record.update(
            command=env.command,
            containerId=env.container_id,
            ifname=env.ifname,
            podNamespace=env.pod[0],
            podName=env.pod[1],
        )
        raw = stdin()
        if env.command == "VERSION":
            data = decode(raw) if raw.strip() else None
            return 0, fastjson.dumps(version_info(data)), record
        data = decode(raw)
        cfg = parse_config(data)
        version = cfg.cni_version
        result, mapping = COMMANDS[env.command](env, cfg)
        if mapping:
            record["real"] = [real for real, _ in mapping]
            record["reported"] = [fake for _, fake in mapping]
        return 0, fastjson.dumps(in_version(result, version)) if result is not None else "", record
    except e.CNIError as err:
        record["error"] = {"code": err.code, "msg": err.msg}
        if version is None and data is not None and data.get("cniVersion") in SUPPORTED_VERSIONS:
            version = data["cniVersion"]
        return 1, err.to_json(version), record
    finally:
        record["durationMs"] = round((time.monotonic() - started) * 1000, 3)
        if data is not None:
            log_file = data.get("logFile")
            if isinstance(log_file, str) and log_file.startswith("/") and "\0" not in log_file:
                record["network"] = data.get("name") if isinstance(data.get("name"), str) else None
                log.append(log_file, record)


def main() -> int:
    try:
        code, out, _ = run(os.environ, read_stdin)
    except BaseException as exc:  # noqa: BLE001 - the runtime must get a CNI error, never a traceback
        if isinstance(exc, SystemExit):
            raise
        err = e.CNIError(e.INTERNAL, "internal error in cni-quickstart", f"{type(exc).__name__}: {exc}"[:500])
        code, out = 1, err.to_json(None)
    if out:
        sys.stdout.write(out + "\n")
        sys.stdout.flush()
    return code

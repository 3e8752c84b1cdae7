"""The plugin's log on a full filesystem: ADD still answers right, the failure goes to stderr.

Root only. Each call runs in a private mount namespace (unshare) with a tiny tmpfs over an empty
directory, filled up before the plugin runs: the mount exists only inside that namespace, is
unmounted by the script on exit and dies with the namespace anyway, so nothing is left behind even
when the test or the plugin fails. Sizes are whole pages: tmpfs hands out space a page at a time.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from tests.plugin.conftest import MODULE, Answer, chained, fixture_results, invoke

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("unshare") is None, reason="needs root and unshare (a private tmpfs mount)"
)

PREV = fixture_results()["ptp-v4-0.3.1"]
POD_ARGS = "IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=full;K8S_POD_INFRA_CONTAINER_ID=f00d"
PAGE = os.sysconf("SC_PAGE_SIZE")

# $1 mount point, $2 tmpfs options, $3 bytes already in the log (-1: no log file), $4 report file
# (outside the tmpfs); the rest is the plugin's command line, which gets the script's stdin.
SCRIPT = r"""
set -e
dir=$1 opts=$2 logsize=$3 report=$4
shift 4
mount -t tmpfs -o "$opts" cniqs-logfull "$dir"
trap 'umount "$dir"' EXIT
if [ "$logsize" -ge 0 ]; then head -c "$logsize" /dev/zero | tr '\0' 'x' > "$dir/cni.log"; fi
dd if=/dev/zero of="$dir/filler" bs=4096 2>/dev/null || true
touch "$dir/one-more-file" 2>/dev/null && rm "$dir/one-more-file" && inodes=free || inodes=none
set +e
"$@"
rc=$?
{ echo "inodes $inodes"; echo "free $(df -P "$dir" | awk 'NR==2 {print $4}')"; \
  if [ -e "$dir/cni.log" ]; then echo "logsize $(wc -c < "$dir/cni.log")"; fi; } > "$report"
if [ -e "$dir/cni.log" ] && [ "$logsize" -ge 0 ]; then tail -c +"$((logsize + 1))" "$dir/cni.log" > "$report.tail"; fi
exit $rc
"""


def add_on_full_fs(tmp_path: Path, opts: str, log_bytes: int) -> tuple[Answer, dict[str, str], bytes]:
    """ADD with its log on a full tmpfs: (answer, what the script saw afterwards, bytes appended to the log)."""
    mount_point = tmp_path / "full"
    mount_point.mkdir()
    report = tmp_path / "report"
    argv = ["unshare", "--mount", "--propagation", "private", "sh", "-c", SCRIPT, "sh",
            str(mount_point), opts, str(log_bytes), str(report), *MODULE]  # fmt: skip
    try:
        answer = invoke(argv, "ADD", chained(PREV, logFile=str(mount_point / "cni.log")), CNI_ARGS=POD_ARGS)
    finally:
        assert str(mount_point) not in Path("/proc/self/mountinfo").read_text(), "the tmpfs leaked into our namespace"
    seen = dict(line.split(" ", 1) for line in report.read_text().splitlines()) if report.exists() else {}
    tail = Path(f"{report}.tail")
    return answer, seen, tail.read_bytes() if tail.exists() else b""


def expected_answer() -> dict[str, object]:
    answer = invoke(MODULE, "ADD", chained(PREV), CNI_ARGS=POD_ARGS)
    assert answer.rc == 0, answer
    return answer.json


def test_full_filesystem_log_write_fails_to_stderr_and_add_answers_right(tmp_path: Path) -> None:
    # The log fills its pages exactly: the record needs a new page, and there is none.
    answer, seen, appended = add_on_full_fs(tmp_path, f"size={4 * PAGE}", PAGE)
    assert seen.get("free") == "0", f"the tmpfs was not full: {seen}"
    assert answer.rc == 0 and answer.json == expected_answer(), answer
    assert "cni-quickstart: cannot write log" in answer.stderr and "No space left" in answer.stderr, answer.stderr
    assert "Traceback" not in answer.stderr
    assert seen.get("logsize") == str(PAGE) and appended == b"", f"the log changed: {seen} {appended[:200]!r}"


def test_no_inode_left_for_the_log_fails_to_stderr_and_add_answers_right(tmp_path: Path) -> None:
    answer, seen, _ = add_on_full_fs(tmp_path, f"size={4 * PAGE},nr_inodes=2", -1)
    assert seen.get("inodes") == "none", f"the tmpfs still had inodes: {seen}"
    assert answer.rc == 0 and answer.json == expected_answer(), answer
    assert "cni-quickstart: cannot open log" in answer.stderr and "No space left" in answer.stderr, answer.stderr
    assert "logsize" not in seen, "a log file was created on a filesystem without inodes"


def test_full_filesystem_never_leaves_a_torn_record(tmp_path: Path) -> None:
    """The log's last page has room for only part of the record: whatever the plugin does, the log must
    not end in a partial line (the next record would be glued onto it)."""
    answer, seen, appended = add_on_full_fs(tmp_path, f"size={4 * PAGE}", PAGE - 40)
    assert answer.rc == 0 and answer.json == expected_answer(), answer
    if appended:
        assert appended.endswith(b"\n"), f"torn record left in the log: {appended!r} (stderr: {answer.stderr!r})"
        json.loads(appended)

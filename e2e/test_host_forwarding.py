"""The tier ran beside the host's FORWARD policy that CI asked for.

dockerd sets the host's iptables FORWARD policy to DROP, so on a host with Docker every tier must work with
it: .ci/run sets it and names it in $CNIQS_EXPECT_FORWARD_POLICY, and this test fails when the session's
cluster or node ran beside another policy (so a green tier there proves it works beside DROP). Without the
variable it only records the policy it saw (or that none could be read: not Linux, or not root): in its output
(`pytest -rA`), and as a property of the JUnit report's test suite where the report is written in this process
(xunit2 has no properties per test; under xdist the workers cannot add any).
"""

from __future__ import annotations

import os
import subprocess
from typing import Any

from cniqs.providers.kind.forwarding import policy

EXPECT = "CNIQS_EXPECT_FORWARD_POLICY"


def host_forward_policy() -> str | None:
    try:
        out = subprocess.run(["iptables", "-S", "FORWARD"], capture_output=True, text=True, timeout=30, check=False)
    except FileNotFoundError:
        return None
    return policy(out.stdout) if out.returncode == 0 else None


def test_the_tier_ran_beside_the_forward_policy_ci_set(backend: Any, record_testsuite_property: Any) -> None:
    seen = host_forward_policy()
    record_testsuite_property("host_forward_policy", seen or "unreadable")
    print(f"host FORWARD policy: {seen or 'unreadable'}")
    expected = os.environ.get(EXPECT)
    if expected:
        assert seen == expected, f"${EXPECT}={expected}, but the host's FORWARD policy is {seen or 'unreadable'}"

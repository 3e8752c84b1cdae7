"""`kubectl describe pod` IP parsing on the layouts different kubectl versions print.

The samples are written for these tests after the layouts of the respective kubectl versions
(column widths, the IPs block since 1.16, dual-stack, a pod without an address yet).
"""

from __future__ import annotations

import pytest

from cniqs.providers.cluster.parse import ParseError, describe_ips

# kubectl 1.26+ (the original demo's layout): values start at column 18.
V1_35 = """\
Name:             test
Namespace:        default
Priority:         0
Service Account:  default
Node:             cni-test-control-plane/172.18.0.2
Start Time:       Mon, 27 Nov 2023 20:53:06 +0530
Labels:           run=test
Annotations:      <none>
Status:           Running
IP:               1.2.3.0
IPs:
  IP:  1.2.3.0
Containers:
  test:
    Container ID:  containerd://0123
    Image:         alpine
    Port:          <none>
    Host Port:     <none>
    State:          Running
Conditions:
  Type              Status
  Ready             True
Events:
  Type    Reason     Age   From               Message
  ----    ------     ----  ----               -------
  Normal  Scheduled  10s   default-scheduler  Successfully assigned default/test to cni-test-control-plane
"""

# kubectl 1.16 to 1.25: values start at column 14.
V1_22 = """\
Name:         web
Namespace:    e2e
Priority:     0
Node:         kind-worker/172.18.0.3
Start Time:   Tue, 01 Mar 2022 10:00:00 +0000
Labels:       app=web
Annotations:  <none>
Status:       Running
IP:           192.0.2.0
IPs:
  IP:  192.0.2.0
Containers:
  web:
    Image:          alpine:3.20
"""

DUAL_STACK = """\
Name:             ds
Namespace:        e2e
Status:           Running
IP:               192.0.2.0
IPs:
  IP:  192.0.2.0
  IP:  2001:db8::
Controlled By:    ReplicaSet/ds-1
Containers:
  main:
    Image:  alpine
"""

# kubectl before 1.16: only the IP: line.
V1_15 = """\
Name:               old
Namespace:          default
Node:               kind-control-plane/172.17.0.2
Status:             Running
IP:                 10.244.0.5
Containers:
  old:
    Image:          busybox
"""

PENDING = """\
Name:             waiting
Namespace:        e2e
Node:             <none>
Status:           Pending
IP:
IPs:              <none>
Containers:
  main:
    Image:  alpine
"""


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (V1_35, ["1.2.3.0"]),
        (V1_22, ["192.0.2.0"]),
        (DUAL_STACK, ["192.0.2.0", "2001:db8::"]),
        (V1_15, ["10.244.0.5"]),
        (PENDING, []),
    ],
    ids=["1.35", "1.22", "dual-stack", "1.15", "pending"],
)
def test_describe_ips(text: str, expected: list[str]) -> None:
    assert describe_ips(text) == expected


def test_container_lines_are_not_pod_ips() -> None:
    text = V1_35.replace("    Port:          <none>", "    IP:            10.0.0.9")
    assert describe_ips(text) == ["1.2.3.0"]


def test_primary_comes_first_even_if_the_block_disagrees() -> None:
    text = V1_22.replace("  IP:  192.0.2.0", "  IP:  198.51.100.7")
    assert describe_ips(text) == ["192.0.2.0", "198.51.100.7"]


def test_no_ip_line_is_an_error() -> None:
    with pytest.raises(ParseError, match="IP: line"):
        describe_ips("Name: x\nStatus: Running\n")


def test_garbage_address_is_an_error() -> None:
    with pytest.raises(ValueError):
        describe_ips(V1_22.replace("IP:           192.0.2.0", "IP:           not-an-ip"))

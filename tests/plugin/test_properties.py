"""Property-based: random and mutated stdin and environments always get a valid result or CNI error."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cni_quickstart import SUPPORTED_VERSIONS
from cni_quickstart.config import COMMANDS
from cni_quickstart.main import run
from tests.plugin.conftest import MODULE, chained, fixture_results, invoke

RESULTS = list(fixture_results().values())
ERROR_KEYS = {"cniVersion", "code", "msg", "details"}

json_leaf = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=20),
    st.sampled_from(["10.0.0.1/24", "fd00::1/64", "1.2.3.0/24", "10.0.0.1", "translate", "fixed", "0.4.0"]),
)  # fmt: skip
json_value = st.recursive(
    json_leaf, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)  # fmt: skip


def check_answer(code: int, out: str) -> None:
    """The contract: exit 0 with nothing or a result object, or non-zero with a CNI error object."""
    if code == 0:
        if out:
            result = json.loads(out)
            assert isinstance(result, dict) and result.get("cniVersion") in SUPPORTED_VERSIONS, out
        return
    err = json.loads(out)
    assert set(err) == ERROR_KEYS, err
    assert isinstance(err["code"], int) and err["code"] > 0, err
    assert isinstance(err["msg"], str) and err["msg"], err
    assert err["cniVersion"] in SUPPORTED_VERSIONS, err


@st.composite
def mutated_config(draw: st.DrawFn) -> bytes:
    """A valid chained config with a few values replaced at random paths, or mangled bytes."""
    conf: Any = json.loads(json.dumps(chained(draw(st.sampled_from(RESULTS)))))
    for _ in range(draw(st.integers(0, 3))):
        node = conf
        path = []
        while isinstance(node, (dict, list)) and node and draw(st.booleans()):
            key = draw(st.sampled_from(sorted(node) if isinstance(node, dict) else range(len(node))))
            path.append((node, key))
            node = node[key]
        if path:
            parent, key = path[-1]
            parent[key] = draw(json_value)
        elif isinstance(conf, dict):
            conf[draw(st.sampled_from(["cniVersion", "name", "mode", "fakeIPv4", "fakeIPv6", "prevResult"]))] = draw(
                json_value
            )
    raw = json.dumps(conf).encode()
    if draw(st.booleans()):
        cut = draw(st.integers(0, len(raw)))
        raw = raw[:cut] + draw(st.binary(max_size=8)) + raw[cut:]
    return raw


environments = st.fixed_dictionaries(
    {"CNI_COMMAND": st.one_of(st.sampled_from(COMMANDS), st.text(max_size=8))},
    optional={
        "CNI_CONTAINERID": st.one_of(st.just("c0ffee"), st.text(max_size=70)),
        "CNI_NETNS": st.one_of(st.just("/run/netns/x"), st.text(max_size=30)),
        "CNI_IFNAME": st.one_of(st.just("eth0"), st.text(max_size=20)),
        "CNI_ARGS": st.one_of(st.just("K8S_POD_NAMESPACE=a;K8S_POD_NAME=b"), st.text(max_size=40)),
    },
)
stdins = st.one_of(mutated_config(), st.binary(max_size=200))


# The fuzz run: 10,000 cases, each bounded in time (a hang or a pathological input fails the deadline).
@settings(max_examples=10_000, deadline=2000, suppress_health_check=[HealthCheck.too_slow])
@given(env=environments, stdin=stdins)
def test_in_process_every_answer_is_a_result_or_a_cni_error(env: dict[str, str], stdin: bytes) -> None:
    code, out, _record = run(env, lambda: stdin)
    check_answer(code, out)


@settings(max_examples=60, deadline=None)
@given(env=environments, stdin=stdins)
def test_through_the_entry_point_no_traceback(env: dict[str, str], stdin: bytes) -> None:
    safe_env = {k: v for k, v in env.items() if "\0" not in v and not any(0xD800 <= ord(c) <= 0xDFFF for c in v)}
    overrides: dict[str, str | None] = {"CNI_CONTAINERID": None, "CNI_NETNS": None, "CNI_IFNAME": None}
    overrides.update(safe_env)
    answer = invoke(MODULE, safe_env.get("CNI_COMMAND", ""), stdin, **overrides)
    assert "Traceback" not in answer.stderr, answer.stderr
    check_answer(answer.rc, answer.stdout.strip())

"""fastjson (the C accelerator driven directly) answers exactly as the json package does."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cni_quickstart import fastjson

values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=10), inner, max_size=5),
    max_leaves=30,
)


@settings(max_examples=500, deadline=None)
@given(values, st.booleans())
def test_round_trip_and_encoding_match_json(value: object, sort_keys: bool) -> None:
    text = json.dumps(value, sort_keys=sort_keys)
    assert fastjson.dumps(value, sort_keys=sort_keys) == text
    assert fastjson.loads(text) == json.loads(text)
    assert fastjson.loads(text.encode()) == json.loads(text)


@settings(max_examples=2000, deadline=None)
@given(
    st.one_of(
        st.text(max_size=40),
        values.map(json.dumps).flatmap(lambda t: st.sampled_from([t, t[:-1], " " + t + "\n", t + "x"])),
    )
)
def test_any_text_is_accepted_or_refused_like_json(text: str) -> None:
    try:
        expected = json.loads(text)
    except ValueError:
        with pytest.raises(ValueError):
            fastjson.loads(text)
        return
    if "NaN" in text or "Infinity" in text:
        return  # json accepts these non-standard constants; CNI input must be strict JSON
    assert fastjson.loads(text) == expected


@pytest.mark.parametrize("text", ["NaN", '{"a": Infinity}', "[-Infinity]"])
def test_non_standard_constants_are_refused(text: str) -> None:
    with pytest.raises(ValueError):
        fastjson.loads(text)


def test_invalid_utf8_is_a_value_error() -> None:
    with pytest.raises(ValueError):
        fastjson.loads(b'{"a": "\xff"}')


def test_unserializable_is_a_type_error() -> None:
    with pytest.raises(TypeError):
        fastjson.dumps({"a": object()})

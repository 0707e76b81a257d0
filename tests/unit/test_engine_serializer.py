"""The engine client's orjson serializer gives exactly what the standard library's `json` gives."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from infra.clients import OrjsonSerializer

JSON = st.recursive(
    st.none()
    | st.booleans()
    # What the index can hold: the workers write documents with orjson, which refuses wider integers.
    | st.integers(min_value=-(2**63), max_value=2**64 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=8), inner, max_size=5),
    max_leaves=30,
)


@given(JSON)
def test_answers_decode_as_json_decodes_them(value: Any) -> None:
    text = json.dumps(value, ensure_ascii=False)
    got = OrjsonSerializer().loads(text)
    assert got == json.loads(text)
    assert json.dumps(got) == json.dumps(json.loads(text))  # same types too (an int stays an int)


@given(st.dictionaries(st.text(max_size=8), JSON, max_size=5))
def test_requests_encode_to_what_json_reads_back(value: Any) -> None:
    assert json.loads(OrjsonSerializer().dumps(value)) == json.loads(json.dumps(value))


def test_strings_pass_through_and_wider_integers_are_still_written() -> None:
    s = OrjsonSerializer()
    assert s.dumps('{"already": "encoded"}') == '{"already": "encoded"}'
    assert s.dumps({"n": 2**70}) == '{"n":1180591620717411303424}'
    assert s.loads('{"n": 18446744073709551615}') == {"n": 2**64 - 1}

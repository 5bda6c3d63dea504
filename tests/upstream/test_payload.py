"""JSON request bodies: long plain strings (attachments' base64) are spliced in, not re-encoded;
the bytes are exactly what ``json.dumps(...).encode()`` gives."""

from __future__ import annotations

import base64
import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from workflowapp.messages import DataView, data_view
from workflowapp.upstream.client import _BIG, _json_payload

BIG = "data:application/pdf;base64," + base64.b64encode(bytes(range(256)) * 400).decode()
PLAIN = st.text(alphabet="ABCxyz019+/=:;,é", min_size=1, max_size=9).map(
    lambda unit: unit * (_BIG // len(unit) + 1))  # long; with é not ASCII (stays in json.dumps)
LEAVES = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text() \
    | PLAIN | st.just('"quoted" \\ \n' * (_BIG // 8))
BODIES = st.recursive(LEAVES, lambda inner: st.lists(inner, max_size=3)
                      | st.dictionaries(st.text(max_size=5), inner, max_size=3), max_leaves=8)


def expected(body: Any) -> bytes:
    return json.dumps(body, ensure_ascii=False).encode("utf-8")


def test_a_data_url_is_spliced_and_described_by_its_length() -> None:
    body: dict[str, Any] = {"model": "m", "messages": [{"role": "user", "content": [
        {"type": "text", "text": "Read « this »"},
        {"type": "file", "file": {"filename": "a.pdf", "file_data": BIG}}]}]}
    payload = _json_payload(body)
    assert isinstance(payload.data, bytearray)
    assert bytes(payload.data) == expected(body)
    assert BIG[30:90] not in payload.described
    assert f'"file_data": "[{len(BIG)} characters]"' in payload.described
    assert body["messages"][0]["content"][1]["file"]["file_data"] is BIG  # body untouched


def test_small_bodies_are_encoded_as_before() -> None:
    payload = _json_payload({"model": "m", "messages": []})
    assert isinstance(payload.data, bytes) and payload.described == '{"model": "m", "messages": []}'


@settings(max_examples=40, deadline=None)
@given(BODIES)
def test_any_body_gives_the_bytes_json_dumps_gives(body: Any) -> None:
    data = _json_payload({"body": body}).data
    assert isinstance(data, bytes | bytearray) and bytes(data) == expected({"body": body})


def test_a_data_view_is_written_as_its_data_without_a_copy_of_it() -> None:
    view = data_view(BIG)
    assert isinstance(view, DataView) and view.url is BIG and str(view) == BIG.split(",", 1)[1]
    body = {"source": {"type": "base64", "data": view}}
    payload = _json_payload(body)
    assert isinstance(payload.data, bytearray)
    assert bytes(payload.data) == expected({"source": {"type": "base64", "data": str(view)}})
    assert f'"data": "[{len(view)} characters]"' in payload.described


@settings(max_examples=40, deadline=None)
@given(LEAVES.filter(lambda leaf: isinstance(leaf, str)), st.integers(min_value=0, max_value=40))
def test_a_data_view_of_any_string_gives_what_its_string_gives(text: str, start: int) -> None:
    view = DataView(text, min(start, len(text)))
    data = _json_payload({"data": view, "n": 1}).data
    assert isinstance(data, bytes | bytearray)
    assert bytes(data) == expected({"data": str(view), "n": 1})

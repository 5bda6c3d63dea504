"""Property-based tests: exact round trips per format; fuzzing lets only ContextError escape."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tests.context import strategies as s
from workflowapp.context import dataset, jsonctx, read_context, recordset, write_context
from workflowapp.context.model import Context, DataType, Direction, FileRef, Format, Parameter
from workflowapp.errors import ContextError

_READERS = {
    Format.DATASET: dataset.read, Format.RECORDSET: recordset.read, Format.JSON: jsonctx.read
}
_FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
# Messages of read_context's last-resort handler: seeing one means a reader let a foreign
# exception through, which the fuzz tests treat as a bug.
_LAST_RESORT = "the context cannot be read: "


@pytest.mark.parametrize("fmt", list(Format))
def test_round_trip(fmt: Format) -> None:
    @_FAST
    @given(s.contexts(fmt))
    def check(ctx: Context) -> None:
        body = write_context(ctx)
        again = _READERS[fmt](body.decode("utf-8"))
        assert s.same(again, ctx), body
        assert write_context(again) == body  # writing is deterministic and stable

    check()


@_FAST
@given(s.contexts(Format.JSON))
def test_json_round_trip_through_read_context(ctx: Context) -> None:
    assert s.same(read_context(write_context(ctx)), ctx)


def _valid_documents() -> list[bytes]:
    file = FileRef(path="C:\\a b\\c.txt", name="c.txt", size=12.0, content_type="text/plain")
    docs = []
    for fmt in Format:
        ctx = Context(format=fmt, session={"replyTo": "http://x/?a=1&b=2"})
        ctx.add(Parameter("T", DataType.TEXT, Direction.IN, "a <b> & \"c\"\né😀"))
        ctx.add(Parameter("N", DataType.NUMERIC, Direction.INOUT, 1.5e21))
        ctx.add(Parameter("D", DataType.DATETIME, Direction.OUT, None))
        ctx.add(Parameter("F", DataType.FILE, Direction.IN, file))
        docs.append(write_context(ctx))
    ctx.format, ctx.with_schema = Format.DATASET, True
    docs.append(write_context(ctx))
    return docs


_DOCS = _valid_documents()


def _mutate(doc: bytes, data: st.DataObject) -> bytes:
    """Apply a few random edits: delete, insert, replace or duplicate a slice."""
    for _ in range(data.draw(st.integers(1, 4))):
        if not doc:
            break
        start = data.draw(st.integers(0, len(doc) - 1))
        end = data.draw(st.integers(start, min(len(doc), start + 40)))
        edit = data.draw(st.sampled_from(["delete", "insert", "replace", "duplicate"]))
        if edit == "delete":
            doc = doc[:start] + doc[end:]
        elif edit == "duplicate":
            doc = doc[:end] + doc[start:end] + doc[end:]
        else:
            noise = data.draw(st.one_of(
                st.binary(max_size=8),
                st.sampled_from([b"<", b">", b"&", b'"', b"{", b"}", b"[", b"]", b",", b":",
                                 b"null", b"1e999", b"\xff", b"&#1;", b"<!DOCTYPE x>", b"</a>",
                                 b"urn:schemas-microsoft-com:rowset"]),
            ))
            doc = doc[:start] + noise + doc[end if edit == "replace" else start:]
    return doc


def _only_context_error(body: bytes | str) -> None:
    try:
        ctx = read_context(body)
    except ContextError as exc:
        assert exc.message and not exc.message.startswith(_LAST_RESORT), exc.message
    else:
        assert isinstance(ctx, Context)


@settings(max_examples=400, deadline=None)
@given(st.data())
def test_fuzz_mutated_documents(data: st.DataObject) -> None:
    _only_context_error(_mutate(data.draw(st.sampled_from(_DOCS)), data))


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=200))
@example(b"")
@example(b"\xef\xbb\xbf")
@example(b"\xff\xfe")
@example(b"<\x00")
@example(b"\x00{")
def test_fuzz_random_bytes(body: bytes) -> None:
    _only_context_error(body)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=200))
def test_fuzz_random_text(body: str) -> None:
    _only_context_error(body)
    _only_context_error("<" + body)
    _only_context_error("{" + body)


_json_values = st.recursive(
    st.none() | st.booleans() | st.floats() | st.integers() | st.text(max_size=10),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner,
                                                                max_size=3),
    max_leaves=8,
)
_json_keys = st.sampled_from(["name", "dataType", "direction", "textValue", "numericValue",
                              "dateTimeValue", "fileValue", "url", "size", "updatedAt"])
_json_params = st.dictionaries(
    _json_keys,
    st.one_of(_json_values, st.sampled_from(["TEXT", "NUMERIC", "DATETIME", "FILE", "IN", "OUT",
                                             "file:///tmp/a", "2024-01-01T00:00:00Z", "1.5"]),
              st.dictionaries(_json_keys, _json_values, max_size=4)),
    max_size=6,
)


@settings(max_examples=300, deadline=None)
@given(st.one_of(
    st.fixed_dictionaries({"parameters": st.lists(_json_params, max_size=3)},
                          optional={"replyToUrl": _json_values}),
    _json_values,
))
def test_fuzz_json_shapes(document: Any) -> None:
    _only_context_error(json.dumps(document))

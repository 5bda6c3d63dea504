"""JSON contexts (protocol notes §4.5, §5)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from werkzeug.test import Client as WebClient

from tests.context.strategies import contexts
from workflowapp.context import jsonctx, read_context, write_context
from workflowapp.context.model import Context, DataType, Direction, FileRef, Format, Parameter
from workflowapp.errors import ContextError

# §4.5, verbatim.
EXAMPLE_REQUEST = """\
{
  "replyToUrl": "http://localhost/wfgen/ILLUSTRATIVE-reply-to?ID_PROCESS_INST=1234&ID_ACTIVITY_INST=5",
  "parameters": [
    { "name": "MODEL", "dataType": "TEXT", "direction": "IN", "textValue": "gpt-4o-mini" },
    { "name": "TEMPERATURE", "dataType": "NUMERIC", "direction": "IN", "numericValue": 0.2 },
    { "name": "MAX_TOKENS", "dataType": "NUMERIC", "direction": "IN", "numericValue": 256.0 },
    { "name": "DATETIME_IN", "dataType": "DATETIME", "direction": "IN", "dateTimeValue": "2024-03-15T14:30:00Z" },
    { "name": "FILE_IN", "dataType": "FILE", "direction": "IN",
      "fileValue": { "name": "report.pdf", "description": "Report", "contentType": "application/pdf",
                     "size": 2048, "url": "file:///C:/ILLUSTRATIVE/storage/1234/5/report.pdf",
                     "updatedAt": "2024-03-01T08:00:00Z" } },
    { "name": "RESULT_CONTENT", "dataType": "TEXT", "direction": "OUT" }
  ]
}
"""  # noqa: E501

# §5, verbatim.
EXAMPLE_ANSWER = """\
{
  "parameters": [
    { "name": "RESULT_CONTENT", "dataType": "TEXT", "direction": "OUT", "textValue": "Bonjour !" },
    { "name": "RESULT_TOTAL_TOKENS", "dataType": "NUMERIC", "direction": "OUT", "numericValue": 21.0 }
  ]
}
"""  # noqa: E501

REPLY_TO = "http://localhost/wfgen/ILLUSTRATIVE-reply-to?ID_PROCESS_INST=1234&ID_ACTIVITY_INST=5"
FILE = FileRef(
    path="C:\\ILLUSTRATIVE\\storage\\1234\\5\\report.pdf", name="report.pdf", size=2048.0,
    content_type="application/pdf", description="Report",
    last_modified=datetime(2024, 3, 1, 8, tzinfo=UTC),
)


def _ctx(*params: Parameter, session: dict[str, str] | None = None) -> Context:
    ctx = Context(format=Format.JSON, session=session or {})
    for parameter in params:
        ctx.add(parameter)
    return ctx


def _read(*params: dict[str, Any], **top: Any) -> Context:
    return jsonctx.read(json.dumps({**top, "parameters": list(params)}))


def _p(
    name: str = "P", data_type: Any = "TEXT", direction: Any = "IN", **value: Any
) -> dict[str, Any]:
    return {"name": name, "dataType": data_type, "direction": direction, **value}


def test_example_request_literally() -> None:
    ctx = read_context(EXAMPLE_REQUEST.encode())
    assert ctx.format is Format.JSON
    assert ctx.session == {"replyTo": REPLY_TO}
    assert [(p.name, p.value) for p in ctx] == [
        ("MODEL", "gpt-4o-mini"), ("TEMPERATURE", 0.2), ("MAX_TOKENS", 256.0),
        ("DATETIME_IN", datetime(2024, 3, 15, 14, 30, tzinfo=UTC)), ("FILE_IN", FILE),
        ("RESULT_CONTENT", None),
    ]
    assert ctx.parameters["RESULT_CONTENT"].direction is Direction.OUT


def test_example_request_echo_matches_the_example() -> None:
    body = write_context(read_context(EXAMPLE_REQUEST))
    assert json.loads(body) == json.loads(EXAMPLE_REQUEST)
    assert b'"numericValue":256.0' in body  # integral doubles keep their ".0", as Json.NET
    assert b'"size":2048,' in body  # size is an integer
    assert body.startswith(b'{"replyToUrl":')


def test_example_answer_literally() -> None:
    ctx = jsonctx.read(EXAMPLE_ANSWER)
    assert ctx.session == {}
    assert ctx.parameters["RESULT_TOTAL_TOKENS"] == Parameter(
        "RESULT_TOTAL_TOKENS", DataType.NUMERIC, Direction.OUT, 21.0)
    assert json.loads(write_context(ctx)) == json.loads(EXAMPLE_ANSWER)


def test_writer_shape_and_order() -> None:
    ctx = _ctx(
        Parameter("F", DataType.FILE, Direction.OUT, FileRef(path="\\\\srv\\share\\a b.wav",
                                                             size=1.5, original_path="lost")),
        Parameter("D", DataType.DATETIME, Direction.IN,
                  datetime(2024, 6, 30, 12, 0, 0, 250000, tzinfo=UTC)),
        Parameter("E", DataType.TEXT, Direction.OUT, ""),
    )
    assert write_context(ctx).decode() == (
        '{"parameters":['
        '{"name":"F","dataType":"FILE","direction":"OUT",'
        '"fileValue":{"size":1.5,"url":"file://srv/share/a%20b.wav"}},'
        '{"name":"D","dataType":"DATETIME","direction":"IN","dateTimeValue":"2024-06-30T12:00:00Z"},'
        '{"name":"E","dataType":"TEXT","direction":"OUT"}]}'
    )
    assert write_context(_ctx()) == b'{"parameters":[]}'


def test_reply_to_is_session_reply_to() -> None:
    ctx = _ctx(session={"replyTo": "http://r", "processInstanceId": "1"})
    body = write_context(ctx)
    assert json.loads(body) == {"replyToUrl": "http://r", "parameters": []}
    assert read_context(body).session == {"replyTo": "http://r"}


@pytest.mark.parametrize(
    "value",
    ["a < b && c > d", '"quoted" \\ backslash', "line1\nline2\r\n", "\x00\x01\x1f control",
     "é😀\u2028\u2029", " "],
)
def test_text_round_trip(value: str) -> None:
    ctx = _ctx(Parameter(value, DataType.TEXT, Direction.INOUT, value))
    assert read_context(write_context(ctx)) == ctx


def test_lone_surrogates_still_produce_valid_utf8() -> None:
    ctx = _ctx(Parameter("S", DataType.TEXT, Direction.IN, "half \ud83d emoji"))
    body = write_context(ctx)
    body.decode("utf-8")  # strictly valid
    assert b"\\ud83d" in body
    assert read_context(body) == ctx


def test_large_and_small_numbers() -> None:
    values = [1.7976931348623157e308, 5e-324, -0.0, 1e21, 0.1 + 0.2, 123456789.0]
    ctx = _ctx(*(Parameter(f"N{i}", DataType.NUMERIC, Direction.IN, v)
                 for i, v in enumerate(values)))
    assert [p.value for p in read_context(write_context(ctx))] == values


def test_numeric_strings_and_integers_are_accepted() -> None:
    ctx = _read(_p("A", "NUMERIC", numericValue="12.5"), _p("B", "NUMERIC", numericValue=41),
                _p("C", "NUMERIC", numericValue=" "), _p("D", "NUMERIC", numericValue=None),
                _p("E", "FILE", fileValue={"url": "file:///tmp/a", "size": "10"}))
    assert [p.value for p in ctx][:4] == [12.5, 41.0, None, None]
    assert ctx.parameters["E"].value == FileRef(path="/tmp/a", size=10.0)


def test_lenient_where_the_sdk_is() -> None:
    ctx = jsonctx.read(json.dumps({
        "Parameters": [{"oops": 1}],  # wrong case: not the parameters, ignored like the SDK
        "extra": {"anything": True},
    }))
    assert ctx.parameters == {}
    ctx = _read(_p("T", textValue="x", numericValue="ignored", unknown=[1, 2]),
                _p("F", "FILE", fileValue={}), _p("G", "FILE", fileValue=None),
                _p("E", textValue=""), replyToUrl=None)
    assert [p.value for p in ctx] == ["x", None, None, None]
    assert ctx.session == {}
    assert jsonctx.read('{"parameters": null}').parameters == {}


def test_datetime_offsets_and_fractions() -> None:
    ctx = _read(_p("D", "DATETIME", dateTimeValue="2013-11-18T16:11:51.75-05:00"))
    assert ctx.parameters["D"].value == datetime(2013, 11, 18, 21, 11, 51, 750000, tzinfo=UTC)
    assert b'"dateTimeValue":"2013-11-18T21:11:51Z"' in write_context(ctx)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "the context is empty"),
        ("   ", "the context is empty"),
        ('{"parameters": [', "not valid JSON: Expecting value \\(line 1, column 17\\)"),
        ('{"parameters": []}\n{', "not valid JSON: Extra data \\(line 2, column 1\\)"),
        ("{'a': 1}", "not valid JSON: Expecting property name"),
        ('{"a": NaN}', "not valid JSON: NaN is not a JSON value"),
        ('{"a": -Infinity}', "not valid JSON: -Infinity is not a JSON value"),
        ("[]", "must be an object, not an array"),
        ('[{"name": "A"}]', "must be an object, not an array"),
        ('"text"', "must be an object, not a string"),
        ('{"parameters": {}}', "'parameters' must be an array, not an object"),
        ('{"parameters": "x"}', "'parameters' must be an array, not a string"),
        ('{"replyToUrl": 5}', "'replyToUrl' must be a string, not a number"),
        ('{"parameters": [1]}', "parameter #1 must be an object, not a number"),
        ('{"parameters": [null]}', "parameter #1 must be an object, not null"),
        ('{"parameters": [{"dataType": "TEXT", "direction": "IN"}]}', "parameter #1 has no name"),
        ('{"parameters": [{"Name": "A", "dataType": "TEXT", "direction": "IN"}]}',
         "parameter #1 has no name"),
        ('{"parameters": [{"name": 5, "dataType": "TEXT", "direction": "IN"}]}',
         "parameter #1: 'name' must be a string, not a number"),
        ('{"parameters": [{"name": "A", "dataType": "NUMERIC", "direction": "IN", '
         '"numericValue": 1e999}]}', "parameter 'A': numericValue is out of range"),
        ("[" * 100_000, "nested too deeply"),
        ('{"a":' * 100_000, "nested too deeply"),
    ],
)
def test_document_errors(text: str, message: str) -> None:
    with pytest.raises(ContextError, match=message):
        jsonctx.read(text)


@pytest.mark.parametrize(
    ("param", "message"),
    [
        (_p("A", "text"), "parameter 'A': unknown data type 'text'"),
        (_p("A", None), "parameter 'A': unknown data type None"),
        (_p("A", direction="Out"), "parameter 'A': unknown direction 'Out'"),
        (_p("A", direction=1), "parameter 'A': unknown direction 1"),
        (_p("A", textValue=12), "parameter 'A': textValue must be a string, not a number"),
        (_p("A", textValue=["x"]), "parameter 'A': textValue must be a string, not an array"),
        (_p("A", "NUMERIC", numericValue=True), "numericValue must be a number, not a boolean"),
        (_p("A", "NUMERIC", numericValue="1,5"), "parameter 'A': numericValue '1,5' is not a num"),
        (_p("A", "NUMERIC", numericValue="NaN"), "numericValue 'NaN' is not accepted"),
        (_p("A", "NUMERIC", numericValue="1e999"), "numericValue '1e999' is out of range"),
        (_p("A", "NUMERIC", numericValue={"v": 1}), "numericValue must be a number, not an object"),
        (_p("A", "DATETIME", dateTimeValue=20240101), "dateTimeValue must be a string"),
        (_p("A", "DATETIME", dateTimeValue="01/02/2024"), "dateTimeValue '01/02/2024' is not a"),
        (_p("A", "FILE", fileValue="file:///tmp/a"), "fileValue must be an object, not a string"),
        (_p("A", "FILE", fileValue={"name": "a"}), "parameter 'A': fileValue has no url"),
        (_p("A", "FILE", fileValue={"url": 5}), "fileValue.url must be a string"),
        (_p("A", "FILE", fileValue={"url": "https://example.com/a.pdf"}),
         "parameter 'A': fileValue.url 'https://example.com/a.pdf' is not supported: only file:"),
        (_p("A", "FILE", fileValue={"url": "file:///a", "size": "big"}),
         "fileValue.size 'big' is not a number"),
        (_p("A", "FILE", fileValue={"url": "file:///a", "name": 3}), "fileValue.name must be a"),
        (_p("A", "FILE", fileValue={"url": "file:///a", "updatedAt": "x"}),
         "fileValue.updatedAt 'x' is not a date"),
    ],
)
def test_parameter_errors(param: dict[str, Any], message: str) -> None:
    with pytest.raises(ContextError, match=message) as caught:
        _read(param)
    assert caught.value.parameter == "A"


def test_duplicate_names() -> None:
    with pytest.raises(ContextError, match="duplicate parameter 'A'"):
        _read(_p("A"), _p("A", "NUMERIC"))


def test_huge_integers_do_not_hit_the_int_digit_limit() -> None:
    with pytest.raises(ContextError, match="out of range"):
        jsonctx.read('{"parameters": [{"name": "A", "dataType": "NUMERIC", "direction": "IN", '
                     '"numericValue": ' + "9" * 5000 + "}]}")
    ctx = jsonctx.read('{"parameters": [], "ignored": ' + "9" * 5000 + "}")
    assert ctx.parameters == {}


@pytest.mark.parametrize(
    ("parameter", "message"),
    [
        (Parameter("N", DataType.NUMERIC, Direction.OUT, float("inf")), "'N': inf cannot be sent"),
        (Parameter("N", DataType.NUMERIC, Direction.OUT, "1"), "'N': a NUMERIC value must be a"),
        (Parameter("T", DataType.TEXT, Direction.OUT, 1.0), "'T': a TEXT value must be a str"),
        (Parameter("F", DataType.FILE, Direction.OUT, FileRef(path="relative.txt")),
         "'F': 'relative.txt' is not an absolute path"),
        (Parameter("F", DataType.FILE, Direction.OUT, FileRef(path="/a", size=float("nan"))),
         "'F': nan cannot be sent"),
    ],
)
def test_writer_errors_name_the_parameter(parameter: Parameter, message: str) -> None:
    with pytest.raises(ContextError, match=message):
        write_context(_ctx(parameter))


@given(st.dictionaries(st.text(min_size=1).filter(
    lambda k: k.lower() != "parameters" and k != "replyToUrl"),
                       st.text() | st.integers() | st.none(), min_size=1, max_size=5))
def test_a_flat_object_is_told_what_a_json_context_looks_like(values: dict[str, object]
                                                              ) -> None:
    with pytest.raises(ContextError) as caught:
        jsonctx.read(json.dumps(values))
    assert "'parameters' array" in caught.value.message
    assert '"direction": "IN"' in caught.value.message


def test_a_flat_model_post_gets_a_400_that_shows_the_shape(client: WebClient) -> None:
    response = client.post("/OPENAICHAT", data=b'{"MODEL": "gpt-4o-mini", "USER_MESSAGE": "hi"}',
                           content_type="application/json")
    assert response.status_code == 400
    text = response.get_data(as_text=True)
    assert "'parameters' array" in text and "MODEL is required" not in text


@given(contexts(Format.JSON))
def test_written_parts_are_the_written_document(ctx: Context) -> None:
    """The streamed writer (large replies) gives the very bytes of the one-string writer."""
    assert b"".join(jsonctx.write_parts(ctx)) == jsonctx.write(ctx)


def test_written_parts_escape_a_lone_surrogate_as_the_written_document_does() -> None:
    ctx = _ctx(Parameter("S", DataType.TEXT, Direction.IN, "half \ud83d emoji"),
               Parameter("T", DataType.TEXT, Direction.OUT, "é"))
    assert b"".join(jsonctx.write_parts(ctx)) == jsonctx.write(ctx)
    assert b"\\ud83d" in jsonctx.write(ctx)

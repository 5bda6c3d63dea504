"""Format detection, the read_context/write_context entry points, encodings, public surface."""

from __future__ import annotations

import pytest

import workflowapp.context as context_module
from workflowapp.context import (
    Context,
    DataType,
    Direction,
    Format,
    Parameter,
    content_type,
    detect_format,
    read_context,
    write_context,
)
from workflowapp.errors import ContextError

DATASET = "<NewDataSet><parameter><name>P</name><dataType>TEXT</dataType>" \
    "<direction>IN</direction><textValue>été</textValue></parameter></NewDataSet>"
JSON = '{"parameters":[{"name":"P","dataType":"TEXT","direction":"IN","textValue":"été"}]}'
RECORDSET = '<xml xmlns:rs="urn:schemas-microsoft-com:rowset" xmlns:z="#RowsetSchema"><rs:data>' \
    '<z:row PARAM="P" DATATYPE="TEXT" DIRECTION="IN" VALUE_TEXT="été"/></rs:data></xml>'


def test_public_surface() -> None:
    assert sorted(context_module.__all__) == [
        "Context", "DataType", "Direction", "FileRef", "Format", "Parameter", "content_type",
        "detect_format", "read_context", "write_context", "write_context_parts",
    ]


@pytest.mark.parametrize(
    ("text", "fmt"),
    [
        ("{}", Format.JSON), ("  \n\t{", Format.JSON), ("\ufeff{", Format.JSON),
        ("[1]", Format.JSON),
        ("{ <xml urn:schemas-microsoft-com:rowset", Format.JSON),
        (RECORDSET, Format.RECORDSET),
        ("no xml but urn:schemas-microsoft-com:rowset", Format.RECORDSET),
        (DATASET, Format.DATASET), ("\ufeff <?xml version='1.0'?><a/>", Format.DATASET),
        ("<WorkflowContext/>", Format.DATASET),
        ("", None), ("   ", None), ("hello", None), ("ID=1&x=2", None),
    ],
)
def test_detect_format(text: str, fmt: Format | None) -> None:
    assert detect_format(text) is fmt


@pytest.mark.parametrize(("text", "fmt"), [(DATASET, Format.DATASET), (JSON, Format.JSON),
                                           (RECORDSET, Format.RECORDSET)])
@pytest.mark.parametrize(
    "encode",
    [
        lambda t: t, lambda t: t.encode(), lambda t: b"\xef\xbb\xbf" + t.encode(),
        lambda t: t.encode("utf-16"), lambda t: t.encode("utf-16-le"),
        lambda t: t.encode("utf-16-be"), lambda t: "\n  " + t + "\n",
        lambda t: ("\r\n" + t).encode(), lambda t: ("\r\n" + t).encode("utf-16-le"),
    ],
    ids=["str", "utf8", "utf8-bom", "utf16-bom", "utf16le", "utf16be", "str-padded", "padded",
         "utf16le-padded"],
)
def test_read_context_in_any_encoding(text: str, fmt: Format, encode: object) -> None:
    ctx = read_context(encode(text))  # type: ignore[operator]
    assert ctx.format is fmt
    assert ctx.parameters["P"].value == "été"


def test_xml_in_a_declared_legacy_encoding() -> None:
    body = ('<?xml version="1.0" encoding="windows-1252"?>' + DATASET).encode("cp1252")
    assert read_context(body).parameters["P"].value == "été"
    with pytest.raises(ContextError, match="not well-formed XML"):
        read_context(DATASET.encode("cp1252"))  # undeclared: not UTF-8


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"", "the context is empty"),
        ("", "the context is empty"),
        (b" \r\n\t", "the context is empty"),
        (b"\xef\xbb\xbf", "the context is empty"),
        (b"hello", "neither JSON nor XML: it starts with 'hello'"),
        (b"ID_PROCESS_INST=1&x=2", "neither JSON nor XML"),
        (b'{"parameters": [\xff]}', "not UTF-8 text \\(invalid byte at position 16\\)"),
        (b"\xff\xfe\x00\xd8", "not valid UTF-16"),
    ],
)
def test_read_context_errors(body: bytes | str, message: str) -> None:
    with pytest.raises(ContextError, match=message):
        read_context(body)


def test_dataset_mentioning_the_rowset_namespace_is_taken_as_recordset() -> None:
    # WorkflowGen's own rule (§4.2): documented quirk, mirrored on purpose.
    text = DATASET.replace("été", "see urn:schemas-microsoft-com:rowset")
    ctx = read_context(text)
    assert ctx.format is Format.RECORDSET and ctx.parameters == {}


@pytest.mark.parametrize("fmt", list(Format))
def test_write_context_uses_ctx_format(fmt: Format) -> None:
    ctx = Context(format=fmt)
    ctx.add(Parameter("R", DataType.TEXT, Direction.OUT, "ok"))
    body = write_context(ctx)
    assert isinstance(body, bytes) and not body.startswith(b"\xef\xbb\xbf")
    assert detect_format(body.decode()) is fmt
    assert read_context(body) == ctx


def test_content_type() -> None:
    assert content_type(Format.DATASET) == "application/xml; charset=utf-8"
    assert content_type(Format.RECORDSET) == "application/xml; charset=utf-8"
    assert content_type(Format.JSON) == "application/json; charset=utf-8"


def test_unexpected_failures_still_surface_as_context_errors(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def broken(text: str) -> Context:
        raise KeyError("boom")

    monkeypatch.setattr(context_module.jsonctx, "read", broken)
    with pytest.raises(ContextError, match="the context cannot be read: KeyError") as caught:
        read_context("{}")
    assert isinstance(caught.value.__cause__, KeyError)


@pytest.mark.parametrize("fmt", [Format.DATASET, Format.RECORDSET, Format.JSON])
def test_written_parts_join_into_the_written_context(fmt: Format) -> None:
    from tests.helpers import context as make
    from tests.helpers import out, param

    ctx = context_module.read_context(make(param("A", "é & <x> \r\n" * 500), param("N", 2.5),
                                           out("B"), fmt=fmt))
    parts = context_module.write_context_parts(ctx)
    assert b"".join(parts) == context_module.write_context(ctx)


@pytest.mark.parametrize("fmt", [Format.DATASET, Format.RECORDSET, Format.JSON])
@pytest.mark.parametrize("lead", ["", " \n" * 3000, "\ufeff"])
def test_bodies_over_a_megabyte_read_as_their_text_does(fmt: Format, lead: str) -> None:
    """Large bodies take the path that never decodes them whole: same context as the text."""
    from tests.helpers import context as make
    from tests.helpers import out, param

    body = lead.encode() + make(param("A", "é & <x> \r\n€" * 120_000), param("N", 2.5),
                                out("B"), fmt=fmt)
    assert len(body) > 1 << 20
    from_bytes = context_module.read_context(body)
    from_text = context_module.read_context(body.decode("utf-8-sig"))
    assert from_bytes == from_text and from_bytes.format is fmt
    assert from_bytes.parameters["A"].value == "é & <x> \r\n€" * 120_000


def test_large_bodies_that_are_not_utf8() -> None:
    latin1 = (b'<?xml version="1.0" encoding="ISO-8859-1"?><NewDataSet><parameter><name>A</name>'
              b"<dataType>TEXT</dataType><direction>IN</direction><textValue>"
              + b"caf\xe9 " * 300_000 + b"</textValue></parameter></NewDataSet>")
    assert context_module.read_context(latin1).parameters["A"].value == "café " * 300_000
    with pytest.raises(ContextError, match="not UTF-8 text"):
        context_module.read_context(b'{"a": "' + b"x" * (1 << 20) + b'\xff"}')
    with pytest.raises(ContextError, match="neither JSON nor XML"):
        context_module.read_context(b"hello " * 300_000)

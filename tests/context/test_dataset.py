"""DataSet XML contexts (protocol notes §4.3, §5): reading, writing, errors."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree

from workflowapp.context import _xml, dataset, read_context, values, write_context
from workflowapp.context.model import Context, DataType, Direction, FileRef, Format, Parameter
from workflowapp.errors import ContextError

# §4.3, verbatim.
EXAMPLE_REQUEST = """\
<NewDataSet>
  <parameter>
    <name>MODEL</name>
    <dataType>TEXT</dataType>
    <direction>IN</direction>
    <textValue>gpt-4o-mini</textValue>
  </parameter>
  <parameter>
    <name>TEMPERATURE</name>
    <dataType>NUMERIC</dataType>
    <direction>IN</direction>
    <numericValue>0.2</numericValue>
  </parameter>
  <parameter>
    <name>DATETIME_IN</name>
    <dataType>DATETIME</dataType>
    <direction>IN</direction>
    <dateTimeValue>2024-03-15T14:30:00Z</dateTimeValue>
  </parameter>
  <parameter>
    <name>FILE_IN</name>
    <dataType>FILE</dataType>
    <direction>IN</direction>
    <fileName>report.pdf</fileName>
    <fileSize>2048</fileSize>
    <fileContentType>application/pdf</fileContentType>
    <fileDescription>Report</fileDescription>
    <fileOriginalPath>C:\\Users\\someone\\report.pdf</fileOriginalPath>
    <fileDateLastModified>2024-03-01T08:00:00Z</fileDateLastModified>
    <filePath>C:\\ILLUSTRATIVE\\storage\\1234\\5\\report.pdf</filePath>
  </parameter>
  <parameter>
    <name>RESULT_CONTENT</name>
    <dataType>TEXT</dataType>
    <direction>OUT</direction>
  </parameter>
  <session>
    <replyTo>http://localhost/wfgen/ILLUSTRATIVE-reply-to?ID_PROCESS_INST=1234&amp;ID_ACTIVITY_INST=5</replyTo>
    <processInstanceId>1234</processInstanceId>
    <activityInstanceId>5</activityInstanceId>
    <culture>en-US</culture>
  </session>
</NewDataSet>
"""

# §5, verbatim.
EXAMPLE_ANSWER = """\
<NewDataSet>
  <parameter>
    <name>RESULT_CONTENT</name>
    <dataType>TEXT</dataType>
    <direction>OUT</direction>
    <textValue>Bonjour !</textValue>
  </parameter>
  <parameter>
    <name>RESULT_TOTAL_TOKENS</name>
    <dataType>NUMERIC</dataType>
    <direction>OUT</direction>
    <numericValue>21</numericValue>
  </parameter>
</NewDataSet>
"""

REPLY_TO = "http://localhost/wfgen/ILLUSTRATIVE-reply-to?ID_PROCESS_INST=1234&ID_ACTIVITY_INST=5"


def _param(name: str, value: object = None, data_type: DataType = DataType.TEXT,
           direction: Direction = Direction.IN) -> Parameter:
    return Parameter(name, data_type, direction, value)  # type: ignore[arg-type]


def _ctx(*params: Parameter, **kwargs: object) -> Context:
    ctx = Context(format=Format.DATASET, **kwargs)  # type: ignore[arg-type]
    for parameter in params:
        ctx.add(parameter)
    return ctx


def _doc(*parameters: str, root: str = "NewDataSet") -> str:
    return f"<{root}>" + "".join(f"<parameter>{p}</parameter>" for p in parameters) + f"</{root}>"


def _fields(
    name: str = "P", data_type: str = "TEXT", direction: str = "IN", extra: str = ""
) -> str:
    return (f"<name>{name}</name><dataType>{data_type}</dataType>"
            f"<direction>{direction}</direction>{extra}")


def test_example_request_literally() -> None:
    ctx = read_context(EXAMPLE_REQUEST.encode())
    assert ctx.format is Format.DATASET and not ctx.with_schema
    assert list(ctx.parameters) == ["MODEL", "TEMPERATURE", "DATETIME_IN", "FILE_IN",
                                    "RESULT_CONTENT"]
    assert ctx.parameters["MODEL"] == _param("MODEL", "gpt-4o-mini")
    assert ctx.parameters["TEMPERATURE"].value == 0.2
    assert ctx.parameters["DATETIME_IN"].value == datetime(2024, 3, 15, 14, 30, tzinfo=UTC)
    assert ctx.parameters["FILE_IN"].value == FileRef(
        path="C:\\ILLUSTRATIVE\\storage\\1234\\5\\report.pdf", name="report.pdf", size=2048.0,
        content_type="application/pdf", description="Report",
        original_path="C:\\Users\\someone\\report.pdf",
        last_modified=datetime(2024, 3, 1, 8, tzinfo=UTC),
    )
    assert ctx.parameters["RESULT_CONTENT"] == _param("RESULT_CONTENT", None,
                                                       direction=Direction.OUT)
    assert ctx.session == {"replyTo": REPLY_TO, "processInstanceId": "1234",
                           "activityInstanceId": "5", "culture": "en-US"}


def test_example_request_echo_is_the_same_document() -> None:
    body = write_context(read_context(EXAMPLE_REQUEST))
    # Same content as the example once its indentation is removed.
    compact = etree.tostring(etree.XML(EXAMPLE_REQUEST, etree.XMLParser(remove_blank_text=True)))
    assert body == compact


def test_example_answer_literally() -> None:
    ctx = dataset.read(EXAMPLE_ANSWER)
    assert ctx.parameters["RESULT_CONTENT"] == _param("RESULT_CONTENT", "Bonjour !",
                                                       direction=Direction.OUT)
    assert ctx.parameters["RESULT_TOTAL_TOKENS"] == _param(
        "RESULT_TOTAL_TOKENS", 21.0, DataType.NUMERIC, Direction.OUT)
    assert ctx.session == {}


def test_writer_shape() -> None:
    ctx = _ctx(_param("RESULT_CONTENT", "Bonjour !", direction=Direction.OUT),
               _param("RESULT_TOTAL_TOKENS", 21.0, DataType.NUMERIC, Direction.OUT),
               _param("EMPTY", "", direction=Direction.OUT),
               session={"replyTo": "http://x/?a=1&b=2", "culture": "fr-CA"})
    assert write_context(ctx).decode() == (
        "<NewDataSet>"
        "<parameter><name>RESULT_CONTENT</name><dataType>TEXT</dataType><direction>OUT</direction>"
        "<textValue>Bonjour !</textValue></parameter>"
        "<parameter><name>RESULT_TOTAL_TOKENS</name><dataType>NUMERIC</dataType>"
        "<direction>OUT</direction><numericValue>21</numericValue></parameter>"
        "<parameter><name>EMPTY</name><dataType>TEXT</dataType><direction>OUT</direction>"
        "</parameter>"
        "<session><replyTo>http://x/?a=1&amp;b=2</replyTo><culture>fr-CA</culture></session>"
        "</NewDataSet>"
    )


def test_writer_always_names_the_root_newdataset() -> None:
    ctx = dataset.read(_doc(_fields(), root="WorkflowContext"))
    assert list(ctx.parameters) == ["P"]
    assert write_context(ctx).startswith(b"<NewDataSet><parameter>")


@pytest.mark.parametrize(
    "value",
    [
        "a < b && c > d", "\"quoted\" and 'single'", "line1\nline2\r\nline3\rend", "tab\there",
        "accents éèàçœ and emoji 😀🎉", "]]> and <![CDATA[x]]>", "  padded  ", " ", "\u2028\u00a0",
        "&amp; already escaped", "x" * 5000 + "<&>\r" + "é" * 3000,
    ],
)
def test_text_round_trip(value: str) -> None:
    ctx = _ctx(_param("T", value), _param(value[:50] or "n", value, direction=Direction.INOUT))
    assert read_context(write_context(ctx)) == ctx


def test_all_types_and_directions_round_trip() -> None:
    file = FileRef(path="\\\\srv\\share\\a b.txt", name="a b.txt", size=1e12,
                   content_type="text/plain", description="d", original_path="C:\\a b.txt",
                   last_modified=datetime(2024, 6, 30, 12, 0, 0, 250000, tzinfo=UTC))
    ctx = _ctx(
        *(_param(f"{t}_{d}", None, t, d) for t in DataType for d in Direction),
        _param("N1", 1.7976931348623157e308, DataType.NUMERIC),
        _param("N2", -5e-324, DataType.NUMERIC),
        _param("N3", 1.5e21, DataType.NUMERIC),
        _param("D1", datetime(2024, 6, 30, 12, 0, 0, 250000, tzinfo=UTC), DataType.DATETIME),
        _param("F1", file, DataType.FILE, Direction.INOUT),
        session={"replyTo": "r", "target": "", "custom": "kept"},
        with_schema=True,
    )
    body = write_context(ctx)
    assert b"<numericValue>1.5E+21</numericValue>" in body
    assert b"<dateTimeValue>2024-06-30T12:00:00.25Z</dateTimeValue>" in body
    assert read_context(body) == ctx


def test_datetime_offsets_are_converted_to_utc() -> None:
    ctx = dataset.read(_doc(_fields("D", "DATETIME", extra=(
        "<dateTimeValue>2013-11-18T16:11:51-05:00</dateTimeValue>"))))
    assert ctx.parameters["D"].value == datetime(2013, 11, 18, 21, 11, 51, tzinfo=UTC)
    assert b"<dateTimeValue>2013-11-18T21:11:51Z</dateTimeValue>" in write_context(ctx)


def test_value_of_the_data_type_only() -> None:
    ctx = dataset.read(_doc(_fields("P", "NUMERIC", extra=(
        "<textValue>ignored</textValue><numericValue> 41 </numericValue>"))))
    assert ctx.parameters["P"].value == 41.0


def test_empty_values_are_no_value() -> None:
    ctx = dataset.read(_doc(
        _fields("T", extra="<textValue></textValue>"),
        _fields("N", "NUMERIC", extra="<numericValue/>"),
        _fields("D", "DATETIME", extra="<dateTimeValue></dateTimeValue>"),
        _fields("F", "FILE", extra="<fileName></fileName><filePath/>"),
    ))
    assert [p.value for p in ctx] == [None, None, None, None]


def test_tolerated_variations() -> None:
    text = (
        '\ufeff  <?xml version="1.0" encoding="utf-16"?>\n<!-- comment --><?pi x?>'
        '<WorkflowContext xmlns="urn:whatever"><unknown><parameter>no</parameter></unknown>'
        "<parameter><!-- c --><name>P</name><extra>x</extra><dataType>TEXT</dataType>"
        "<direction>INOUT</direction><textValue>a<!-- c -->b</textValue></parameter>"
        "<session><replyTo>r</replyTo><other><deep>d</deep></other></session>"
        "<session><ignored>x</ignored></session></WorkflowContext>"
    )
    ctx = read_context(text)
    assert ctx.parameters == {"P": _param("P", "ab", direction=Direction.INOUT)}
    assert ctx.session == {"replyTo": "r", "other": "d"}
    assert read_context(text.encode("utf-8")) == ctx  # declared utf-16, sent as UTF-8
    assert read_context(text.encode("utf-16")) == ctx  # really UTF-16, with BOM


def test_inline_schema_is_detected_and_written() -> None:
    written = write_context(_ctx(_param("P", "v"), with_schema=True))
    ctx = read_context(written)
    assert ctx.with_schema and ctx.parameters["P"].value == "v"
    ns = {"xs": "http://www.w3.org/2001/XMLSchema",
          "msdata": "urn:schemas-microsoft-com:xml-msdata"}
    schema = etree.XML(written).find("xs:schema", ns)
    assert schema is not None and schema.get("id") == "NewDataSet"
    top = schema.find("xs:element", ns)
    assert top is not None and top.get(f"{{{ns['msdata']}}}IsDataSet") == "true"

    def column(name: str) -> etree._Element:
        found = schema.find(f".//xs:element[@name='{name}']", ns)
        assert found is not None
        return found

    assert column("dateTimeValue").get("type") == "xs:dateTime"
    assert column("dateTimeValue").get(f"{{{ns['msdata']}}}DateTimeMode") == "Utc"
    assert column("fileDateLastModified").get(f"{{{ns['msdata']}}}DateTimeMode") == "Utc"
    assert column("numericValue").get("type") == "xs:double"
    assert column("fileSize").get("type") == "xs:double"
    assert column("processInstanceId").get("type") == "xs:double"
    assert column("replyTo").get("type") == "xs:string"
    assert not read_context(write_context(_ctx(_param("P", "v")))).with_schema


@pytest.mark.parametrize(
    ("document", "message"),
    [
        (_doc(_fields("A"), _fields("A")), "duplicate parameter 'A'"),
        (_doc(_fields("A", "text")), "parameter 'A': unknown data type 'text'"),
        (_doc(_fields("A", "STRING")), "parameter 'A': unknown data type 'STRING'"),
        (_doc(_fields("A", direction="out")), "parameter 'A': unknown direction 'out'"),
        (_doc("<name>A</name><direction>IN</direction>"), "parameter 'A': unknown data type None"),
        (_doc("<name>A</name><dataType>TEXT</dataType>"), "parameter 'A': unknown direction None"),
        (_doc(_fields(), "<dataType>TEXT</dataType><direction>IN</direction>"),
         "parameter #2 has no name"),
        (_doc("<name></name><dataType>TEXT</dataType><direction>IN</direction>"),
         "parameter #1 has no name"),
        (_doc(_fields("N", "NUMERIC", extra="<numericValue>1,5</numericValue>")),
         "parameter 'N': numericValue '1,5' is not a number"),
        (_doc(_fields("N", "NUMERIC", extra="<numericValue>INF</numericValue>")),
         "parameter 'N': numericValue 'INF' is not accepted: infinity and NaN"),
        (_doc(_fields("D", "DATETIME", extra="<dateTimeValue>15/03/2024</dateTimeValue>")),
         "parameter 'D': dateTimeValue '15/03/2024' is not a date"),
        (_doc(_fields("D", "DATETIME",
                      extra="<dateTimeValue>2024-02-30T00:00:00Z</dateTimeValue>")),
         "parameter 'D': dateTimeValue '2024-02-30T00:00:00Z' is not a valid date"),
        (_doc(_fields("F", "FILE", extra="<fileName>a.txt</fileName>")),
         "parameter 'F': the file has no filePath"),
        (_doc(_fields("F", "FILE", extra="<filePath>/a</filePath><fileSize>big</fileSize>")),
         "parameter 'F': fileSize 'big' is not a number"),
        ("", "the context is empty"),
        ("<NewDataSet><parameter>", "not well-formed XML: .*line 1, column"),
        ("<NewDataSet>\n<a></b></NewDataSet>", "not well-formed XML: Opening and ending tag "
                                              "mismatch: .*line 2"),
        ("<a>&nbsp;</a>", "Entity 'nbsp' not defined"),
        ("<a/><b/>", "Extra content"),
    ],
)
def test_errors_name_the_problem(document: str, message: str) -> None:
    with pytest.raises(ContextError, match=message) as caught:
        dataset.read(document)
    assert caught.value.code == "invalid_context" and caught.value.status == 400
    if message.startswith("parameter '"):
        assert caught.value.parameter == message.split("'")[1]


def test_parsing_errors_through_read_context() -> None:
    with pytest.raises(ContextError, match="the context is empty"):
        read_context(b"  \r\n ")
    with pytest.raises(ContextError, match="not well-formed XML"):
        read_context(b"<NewDataSet>")


@pytest.mark.parametrize("bad", ["\x01", "\x00", "a\x1fb", "\ud800", "\ufffe", "\uffff"])
@pytest.mark.parametrize("length", [1, 10_000])
def test_writer_refuses_what_xml_cannot_carry(bad: str, length: int) -> None:
    value = "x" * length + bad
    with pytest.raises(ContextError, match="parameter 'P': the value contains characters XML "
                                           "cannot carry") as caught:
        write_context(_ctx(_param("P", value)))
    assert caught.value.parameter == "P"
    with pytest.raises(ContextError, match="session value 'replyTo'"):
        write_context(_ctx(session={"replyTo": value}))
    file = FileRef(path="/a", description=value)
    with pytest.raises(ContextError, match="parameter 'F'"):
        write_context(_ctx(_param("F", file, DataType.FILE)))


@pytest.mark.parametrize(
    ("parameter", "message"),
    [
        (_param("T", 12), "parameter 'T': a TEXT value must be a str, not int"),
        (_param("N", "12", DataType.NUMERIC), "parameter 'N': a NUMERIC value must be a number"),
        (_param("N", True, DataType.NUMERIC), "parameter 'N': a NUMERIC value must be a number"),
        (_param("N", float("nan"), DataType.NUMERIC), "parameter 'N': nan cannot be sent"),
        (_param("N", 10**400, DataType.NUMERIC), "parameter 'N': .*too large"),
        (_param("D", "2024-01-01", DataType.DATETIME), "parameter 'D': a DATETIME value must be"),
        (_param("F", "/tmp/a", DataType.FILE), "parameter 'F': a FILE value must be a FileRef"),
        (_param("F", FileRef(path=""), DataType.FILE), "parameter 'F': the file has an empty path"),
    ],
)
def test_writer_refuses_wrong_value_types(parameter: Parameter, message: str) -> None:
    with pytest.raises(ContextError, match=message):
        write_context(_ctx(parameter))


def test_writer_accepts_ints_and_naive_datetimes() -> None:
    ctx = _ctx(_param("N", 7, DataType.NUMERIC),
               _param("D", datetime(2024, 1, 1, 8), DataType.DATETIME))
    body = write_context(ctx)
    assert b"<numericValue>7</numericValue>" in body
    assert b"<dateTimeValue>2024-01-01T08:00:00Z</dateTimeValue>" in body


def test_writer_refuses_invalid_session_keys() -> None:
    for key in ("a b", "1x", "", "<x>", "xmlns"):
        with pytest.raises(ContextError, match="session key"):
            write_context(_ctx(session={key: "v"}))


def test_reader_refuses_a_session_key_the_writer_cannot_write() -> None:
    with pytest.raises(ContextError, match="session element 'xmlns'"):
        read_context(b"<NewDataSet><session><xmlns>1</xmlns></session></NewDataSet>")


@settings(max_examples=200)
@given(st.text(min_size=1, max_size=20), st.one_of(st.none(), st.text(max_size=300)),
       st.sampled_from(list(Direction)))
def test_the_one_string_text_writer_is_the_per_field_writer(name: str, value: str | None,
                                                            direction: Direction) -> None:
    """TEXT and valueless parameters are written in one string: the same bytes as the general
    per-field path, and the same refusal (naming the parameter) for what XML cannot carry."""
    parameter = Parameter(name, DataType.TEXT, direction, value)
    try:
        fields = _xml.parameter_to_record(parameter, dataset.COLUMNS, values.format_datetime,
                                          _xml.escape_text)
    except ContextError as refused:
        with pytest.raises(ContextError) as caught:
            write_context(_ctx(parameter))
        assert str(caught.value) == str(refused) and caught.value.parameter == name
        return
    general = "".join(f"<{column}>{text}</{column}>" for column, text in fields)
    written = write_context(_ctx(parameter)).decode("utf-8")
    assert f"<parameter>{general}</parameter>" in written

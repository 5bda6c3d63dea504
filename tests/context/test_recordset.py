"""ADO Recordset XML contexts (protocol notes §4.4)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from lxml import etree

from workflowapp.context import read_context, recordset, write_context
from workflowapp.context.model import Context, DataType, Direction, FileRef, Format, Parameter
from workflowapp.errors import ContextError

_HEAD = """\
<xml xmlns:s="uuid:BDC6E3F0-6DA3-11d1-A2A3-00AA00C14882"
     xmlns:dt="uuid:C2F41010-65B3-11d1-A29F-00AA00C14882"
     xmlns:rs="urn:schemas-microsoft-com:rowset"
     xmlns:z="#RowsetSchema">
  <s:Schema id="RowsetSchema">
    <s:ElementType name="row" content="eltOnly">
      <s:AttributeType name="PARAM"><s:datatype dt:type="string"/></s:AttributeType>
      <s:AttributeType name="VALUE_NUMERIC"><s:datatype dt:type="float"/></s:AttributeType>
    </s:ElementType>
  </s:Schema>
"""

SAMPLE = _HEAD + """\
  <rs:data>
    <rs:insert>
      <z:row PARAM="MODEL" DATATYPE="TEXT" DIRECTION="IN" VALUE_TEXT="gpt-4o-mini"/>
      <z:row PARAM="TEMPERATURE" DATATYPE="NUMERIC" DIRECTION="IN" VALUE_NUMERIC="0.2"/>
      <z:row PARAM="DATETIME_IN" DATATYPE="DATETIME" DIRECTION="IN"
             VALUE_DATETIME="2024-03-15T14:30:00"/>
      <z:row PARAM="FILE_IN" DATATYPE="FILE" DIRECTION="IN" VALUE_FILE_NAME="report.pdf"
             VALUE_FILE_SIZE="2048" VALUE_FILE_CONTENTTYPE="application/pdf"
             VALUE_FILE_DESCRIPTION="Report"
             VALUE_FILE_ORIGINALPATH="C:\\Users\\someone\\report.pdf"
             VALUE_FILE_DATELASTMODIFIED="2024-03-01T08:00:00"
             VALUE_FILE_PATH="C:\\storage\\1234\\5\\report.pdf"/>
      <z:row PARAM="RESULT_CONTENT" DATATYPE="TEXT" DIRECTION="OUT"/>
    </rs:insert>
  </rs:data>
</xml>
"""


def _ctx(*params: Parameter) -> Context:
    ctx = Context(format=Format.RECORDSET)
    for parameter in params:
        ctx.add(parameter)
    return ctx


def _rows(*rows: str, insert: bool = False) -> str:
    body = "".join(f"<z:row {row}/>" for row in rows)
    if insert:
        body = f"<rs:insert>{body}</rs:insert>"
    return _HEAD + f"<rs:data>{body}</rs:data></xml>"


def test_sample_literally() -> None:
    ctx = read_context(SAMPLE.encode())
    assert ctx.format is Format.RECORDSET and ctx.session == {} and not ctx.with_schema
    assert [(p.name, p.data_type, p.direction) for p in ctx] == [
        ("MODEL", DataType.TEXT, Direction.IN), ("TEMPERATURE", DataType.NUMERIC, Direction.IN),
        ("DATETIME_IN", DataType.DATETIME, Direction.IN), ("FILE_IN", DataType.FILE, Direction.IN),
        ("RESULT_CONTENT", DataType.TEXT, Direction.OUT),
    ]
    assert ctx.parameters["MODEL"].value == "gpt-4o-mini"
    assert ctx.parameters["TEMPERATURE"].value == 0.2
    assert ctx.parameters["DATETIME_IN"].value == datetime(2024, 3, 15, 14, 30, tzinfo=UTC)
    assert ctx.parameters["FILE_IN"].value == FileRef(
        path="C:\\storage\\1234\\5\\report.pdf", name="report.pdf", size=2048.0,
        content_type="application/pdf", description="Report",
        original_path="C:\\Users\\someone\\report.pdf",
        last_modified=datetime(2024, 3, 1, 8, tzinfo=UTC),
    )
    assert ctx.parameters["RESULT_CONTENT"].value is None


def test_rows_directly_in_data_or_in_insert() -> None:
    row = 'PARAM="A" DATATYPE="TEXT" DIRECTION="IN" VALUE_TEXT="x"'
    assert recordset.read(_rows(row)) == recordset.read(_rows(row, insert=True))
    assert list(recordset.read(_rows(row)).parameters) == ["A"]


def test_writer_shape() -> None:
    ctx = _ctx(Parameter("A", DataType.TEXT, Direction.OUT, "x"),
               Parameter("D", DataType.DATETIME, Direction.IN,
                         datetime(2024, 6, 30, 12, 0, 0, 250000, tzinfo=UTC)),
               Parameter("N", DataType.NUMERIC, Direction.INOUT, 1000.0))
    ctx.session = {"replyTo": "not written: the format has no session"}
    body = write_context(ctx)
    root = etree.XML(body)
    assert root.tag == "xml"
    assert root.nsmap == {"s": "uuid:BDC6E3F0-6DA3-11d1-A2A3-00AA00C14882",
                          "dt": "uuid:C2F41010-65B3-11d1-A29F-00AA00C14882",
                          "rs": "urn:schemas-microsoft-com:rowset", "z": "#RowsetSchema"}
    ns = {key: value for key, value in root.nsmap.items() if key}
    names = root.xpath("//s:AttributeType/@name", namespaces=ns)
    assert names == ["PARAM", "DATATYPE", "DIRECTION", "VALUE_TEXT", "VALUE_NUMERIC",
                     "VALUE_DATETIME", "VALUE_FILE_NAME", "VALUE_FILE_SIZE",
                     "VALUE_FILE_CONTENTTYPE", "VALUE_FILE_DESCRIPTION", "VALUE_FILE_ORIGINALPATH",
                     "VALUE_FILE_DATELASTMODIFIED", "VALUE_FILE_PATH"]
    rows = root.findall("rs:data/rs:insert/z:row", ns)
    assert [dict(row.attrib) for row in rows] == [
        {"PARAM": "A", "DATATYPE": "TEXT", "DIRECTION": "OUT", "VALUE_TEXT": "x"},
        {"PARAM": "D", "DATATYPE": "DATETIME", "DIRECTION": "IN",
         "VALUE_DATETIME": "2024-06-30T12:00:00.25"},  # no zone
        {"PARAM": "N", "DATATYPE": "NUMERIC", "DIRECTION": "INOUT", "VALUE_NUMERIC": "1000"},
    ]
    assert b"replyTo" not in body
    assert read_context(body).session == {}


@pytest.mark.parametrize(
    "value",
    ['a "quoted" <tag> & \'apos\'', "line1\nline2\r\nline3\rend\tx", "  ", "é😀",
     "x" * 5000 + "\n\"&"],
)
def test_attribute_escaping_round_trip(value: str) -> None:
    ctx = _ctx(Parameter(value, DataType.TEXT, Direction.INOUT, value),
               Parameter("F", DataType.FILE, Direction.IN, FileRef(path=value, name=value)))
    assert read_context(write_context(ctx)) == ctx


def test_dates_with_zone_are_still_accepted() -> None:
    ctx = recordset.read(_rows('PARAM="D" DATATYPE="DATETIME" DIRECTION="IN" '
                               'VALUE_DATETIME="2024-03-15T14:30:00+02:00"'))
    assert ctx.parameters["D"].value == datetime(2024, 3, 15, 12, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        (['PARAM="A" DATATYPE="TEXT" DIRECTION="IN"'] * 2, "duplicate parameter 'A'"),
        (['DATATYPE="TEXT" DIRECTION="IN"'], "parameter #1 has no PARAM"),
        (['PARAM="A" DATATYPE="Text" DIRECTION="IN"'], "parameter 'A': unknown data type 'Text'"),
        (['PARAM="A" DATATYPE="TEXT" DIRECTION="inout"'], "parameter 'A': unknown direction"),
        (['PARAM="N" DATATYPE="NUMERIC" DIRECTION="IN" VALUE_NUMERIC="1,5"'],
         "parameter 'N': VALUE_NUMERIC '1,5' is not a number"),
        (['PARAM="D" DATATYPE="DATETIME" DIRECTION="IN" VALUE_DATETIME="soon"'],
         "parameter 'D': VALUE_DATETIME 'soon' is not a date"),
        (['PARAM="F" DATATYPE="FILE" DIRECTION="IN" VALUE_FILE_NAME="a"'],
         "parameter 'F': the file has no VALUE_FILE_PATH"),
    ],
)
def test_errors_name_the_problem(rows: list[str], message: str) -> None:
    with pytest.raises(ContextError, match=message):
        recordset.read(_rows(*rows))


def test_malformed_recordset() -> None:
    with pytest.raises(ContextError, match="not well-formed XML"):
        read_context(b'<xml xmlns:rs="urn:schemas-microsoft-com:rowset"><rs:data>')
    with pytest.raises(ContextError, match="not well-formed XML"):
        read_context(b"just text mentioning urn:schemas-microsoft-com:rowset")


def test_writer_refuses_control_characters() -> None:
    with pytest.raises(ContextError, match="parameter 'A': the value contains characters"):
        write_context(_ctx(Parameter("A", DataType.TEXT, Direction.OUT, "bell\x07")))

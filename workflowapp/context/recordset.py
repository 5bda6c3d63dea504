"""ADO Recordset XML ("rowset" persistence format) contexts (protocol notes §4.4).

One ``<z:row …/>`` per parameter, its fields as attributes (``PARAM``, ``DATATYPE``,
``DIRECTION``, ``VALUE_*``). Rows are read from ``rs:data``, directly or inside ``rs:insert``
(the SDK writes the latter). The format has no session: ``ctx.session`` stays empty on read and
is not written. Dates are written without zone (UTC wall time) and read as UTC when zone-less.
"""

from __future__ import annotations

from collections.abc import Iterator

from lxml import etree

from workflowapp.context import _xml, values
from workflowapp.context.model import Context, Format

__all__ = ["COLUMNS", "ROWSET_NAMESPACE", "from_element", "read", "write"]

ROWSET_NAMESPACE = "urn:schemas-microsoft-com:rowset"
COLUMNS = _xml.Columns(
    "PARAM", "DATATYPE", "DIRECTION", "VALUE_TEXT", "VALUE_NUMERIC", "VALUE_DATETIME",
    "VALUE_FILE_NAME", "VALUE_FILE_SIZE", "VALUE_FILE_CONTENTTYPE", "VALUE_FILE_DESCRIPTION",
    "VALUE_FILE_ORIGINALPATH", "VALUE_FILE_DATELASTMODIFIED", "VALUE_FILE_PATH",
)
_STRING = '<s:datatype dt:type="string" dt:maxLength="{}" rs:maybenull="{}"/>'
_LONG_STRING = '<s:datatype dt:type="string" dt:maxLength="2147483647" rs:long="true"/>'
_FLOAT = ('<s:datatype dt:type="float" dt:maxLength="8" rs:precision="15" '
          'rs:fixedlength="true"/>')
_DATE = ('<s:datatype dt:type="dateTime" rs:dbtype="variantdate" dt:maxLength="16" '
         'rs:fixedlength="true"/>')
_TYPES = [
    _STRING.format(255, "false"), _STRING.format(10, "false"), _STRING.format(10, "false"),
    _LONG_STRING, _FLOAT, _DATE, _STRING.format(255, "true"), _FLOAT,
    _STRING.format(255, "true"), _LONG_STRING, _LONG_STRING, _DATE, _LONG_STRING,
]
_HEADER = (
    '<xml xmlns:s="uuid:BDC6E3F0-6DA3-11d1-A2A3-00AA00C14882" '
    'xmlns:dt="uuid:C2F41010-65B3-11d1-A29F-00AA00C14882" '
    f'xmlns:rs="{ROWSET_NAMESPACE}" xmlns:z="#RowsetSchema">'
    '<s:Schema id="RowsetSchema"><s:ElementType name="row" content="eltOnly" rs:updatable="true">'
    + "".join(
        f'<s:AttributeType name="{column}" rs:number="{number}" rs:write="true">{kind}'
        "</s:AttributeType>"
        for number, (column, kind) in enumerate(zip(COLUMNS, _TYPES, strict=True), start=1)
    )
    + '<s:extends type="rs:rowbase"/></s:ElementType></s:Schema><rs:data><rs:insert>'
)
_FOOTER = "</rs:insert></rs:data></xml>"


def read(text: str) -> Context:
    """Parse a Recordset context.

    :raises ContextError: malformed or hostile XML, or a row that cannot be read.
    """
    return from_element(_xml.parse_text(text))


def from_element(root: etree._Element) -> Context:
    """Build the context from an already (safely) parsed ``<xml>`` element."""
    ctx = Context(format=Format.RECORDSET)
    for child in root:
        if isinstance(child.tag, str) and _xml.local_name(child.tag) == "data":
            _read_rows(ctx, child)
    return ctx


def _read_rows(ctx: Context, data: etree._Element) -> None:
    for child in data:
        if not isinstance(child.tag, str):
            continue
        tag = _xml.local_name(child.tag)
        if tag == "row":
            _add(ctx, child)
        elif tag == "insert":
            for row in child:
                if isinstance(row.tag, str) and _xml.local_name(row.tag) == "row":
                    _add(ctx, row)


def _add(ctx: Context, row: etree._Element) -> None:
    _xml.add_record(ctx, {str(key): str(value) for key, value in row.items()}, COLUMNS)


def write(ctx: Context) -> bytes:
    """Serialise ``ctx`` as Recordset XML (UTF-8, no BOM); ``ctx.session`` is not written.

    :raises ContextError: a value that XML 1.0 cannot carry (control characters, lone
        surrogates) or a value of the wrong type for its data type; the message names the
        parameter.
    """
    return "".join(_pieces(ctx)).encode("utf-8")


def write_parts(ctx: Context) -> list[bytes]:
    """:func:`write` as UTF-8 chunks (:func:`._xml.chunked`), for large documents."""
    return _xml.chunked(_pieces(ctx))


def _pieces(ctx: Context) -> Iterator[str]:
    yield _HEADER
    escape = _xml.escape_attribute
    for parameter in ctx.parameters.values():
        yield "<z:row"
        for column, text in _xml.parameter_to_record(
            parameter, COLUMNS, values.format_recordset_datetime, escape
        ):
            if len(text) < _xml.CHUNK_CHARS:
                yield f' {column}="{text}"'
            else:  # not copied into one more string
                yield from (f' {column}="', text, '"')
        yield "/>"
    yield _FOOTER

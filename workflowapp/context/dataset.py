"""ADO.NET DataSet XML, WorkflowGen's default context format (protocol notes §4.3, §5).

Read: the root element's name is not checked; its ``parameter`` children become parameters, the
first ``session`` child's children become ``ctx.session`` (text, in order, any name kept), an
inline ``xs:schema`` sets ``ctx.with_schema``; anything else is ignored, as ``DataSet.ReadXml``
does with its fixed schema.

Write: mirrors the SDK's reply (``GetXml()`` after ``Update()``): root ``NewDataSet``, the inline
schema if the request had one, every parameter in order (value-less ones with name, dataType and
direction only), then the session as received. No XML declaration; UTF-8.
"""

from __future__ import annotations

from collections.abc import Iterator

from lxml import etree

from workflowapp.context import _xml, values
from workflowapp.context.model import Context, DataType, Format, Parameter
from workflowapp.errors import ContextError

__all__ = ["COLUMNS", "SCHEMA", "from_element", "read", "write"]

COLUMNS = _xml.Columns(
    "name", "dataType", "direction", "textValue", "numericValue", "dateTimeValue",
    "fileName", "fileSize", "fileContentType", "fileDescription", "fileOriginalPath",
    "fileDateLastModified", "filePath",
)
_XS_SCHEMA = "{http://www.w3.org/2001/XMLSchema}schema"


def _column(name: str, kind: str = "string", *, utc: bool = False) -> str:
    mode = ' msdata:DateTimeMode="Utc"' if utc else ""
    return f'<xs:element name="{name}"{mode} type="xs:{kind}" minOccurs="0" />'


def _table(name: str, columns: list[str]) -> str:
    return (f'<xs:element name="{name}"><xs:complexType><xs:sequence>{"".join(columns)}'
            "</xs:sequence></xs:complexType></xs:element>")


#: The inline schema ``DataSet.WriteXml(XmlWriteMode.WriteSchema)`` writes for the SDK's DataSet.
SCHEMA = (
    '<xs:schema id="NewDataSet" xmlns="" xmlns:xs="http://www.w3.org/2001/XMLSchema" '
    'xmlns:msdata="urn:schemas-microsoft-com:xml-msdata">'
    '<xs:element name="NewDataSet" msdata:IsDataSet="true" msdata:UseCurrentLocale="true">'
    '<xs:complexType><xs:choice minOccurs="0" maxOccurs="unbounded">'
    + _table("parameter", [
        _column("name"), _column("dataType"), _column("direction"), _column("textValue"),
        _column("numericValue", "double"), _column("dateTimeValue", "dateTime", utc=True),
        _column("fileName"), _column("fileSize", "double"), _column("fileContentType"),
        _column("fileDescription"), _column("fileOriginalPath"),
        _column("fileDateLastModified", "dateTime", utc=True), _column("filePath"),
    ])
    + _table("session", [
        _column("replyTo"), _column("processInstanceId", "double"),
        _column("activityInstanceId", "double"), _column("culture"), _column("timeZone"),
        _column("instancePath"), _column("encodingType"), _column("target"),
    ])
    + "</xs:choice></xs:complexType></xs:element></xs:schema>"
)


def read(text: str) -> Context:
    """Parse a DataSet context.

    :raises ContextError: malformed or hostile XML, or a parameter that cannot be read.
    """
    return from_element(_xml.parse_text(text))


def from_element(root: etree._Element, *, consume: bool = False) -> Context:
    """Build the context from an already (safely) parsed document element; with ``consume``
    (large documents), each parameter element is removed from the tree once read, so the tree
    and the parameters of a 30 MB context are never both held whole."""
    ctx = Context(format=Format.DATASET)
    session_seen = False
    for child in _consumed(root) if consume else root:
        tag = child.tag
        if not isinstance(tag, str):  # comment or processing instruction
            continue
        if tag == _XS_SCHEMA:
            ctx.with_schema = True
            continue
        tag = _xml.local_name(tag)
        if tag == "parameter":
            _xml.add_record(ctx, _record(child), COLUMNS)
        elif tag == "session" and not session_seen:
            session_seen = True
            ctx.session = _record(child)
            for key in ctx.session:
                if not _xml.is_name(key):
                    raise ContextError(f"session element {key!r} is not allowed")
    return ctx


def _consumed(root: etree._Element) -> Iterator[etree._Element]:
    """The children of ``root``, each removed from the tree once the loop has read it."""
    child = root[0] if len(root) else None
    while child is not None:
        following = child.getnext()
        yield child
        root.remove(child)
        child = following


def _record(element: etree._Element) -> dict[str, str]:
    """The element's children as ``{local name: text}`` (hot path: kept inline and flat)."""
    record: dict[str, str] = {}
    for child in element:
        tag = child.tag
        if type(tag) is str:  # not a comment or processing instruction
            if tag[0] == "{":
                tag = tag[tag.index("}") + 1 :]
            record[tag] = (child.text or "") if not len(child) else _xml.element_text(child)
    return record


def write(ctx: Context) -> bytes:
    """Serialise ``ctx`` as DataSet XML (UTF-8, no BOM, no declaration).

    :raises ContextError: a value that XML 1.0 cannot carry (control characters such as
        ``\\x01``, lone surrogates: they cannot even be escaped), or a value of the wrong type
        for its data type; the message names the parameter.
    """
    return "".join(_pieces(ctx)).encode("utf-8")


def write_parts(ctx: Context) -> list[bytes]:
    """:func:`write` as UTF-8 chunks (:func:`._xml.chunked`), for large documents."""
    return _xml.chunked(_pieces(ctx))


def _pieces(ctx: Context) -> Iterator[str]:
    yield "<NewDataSet>"
    if ctx.with_schema:
        yield SCHEMA
    escape = _xml.escape_text
    for parameter in ctx.parameters.values():
        value = parameter.value
        if value is None or (parameter.data_type is DataType.TEXT and type(value) is str
                             and len(value) < _xml.CHUNK_CHARS):
            yield _text_parameter(parameter, value)
            continue
        yield "<parameter>"
        for column, text in _xml.parameter_to_record(
            parameter, COLUMNS, values.format_datetime, escape
        ):
            if len(text) < _xml.CHUNK_CHARS:
                yield f"<{column}>{text}</{column}>"
            else:  # not copied into one more string
                yield from (f"<{column}>", text, f"</{column}>")
        yield "</parameter>"
    if ctx.session:
        yield _session(ctx.session)
    yield "</NewDataSet>"


def _text_parameter(parameter: Parameter, value: str | None) -> str:
    """A parameter without a value or with a short TEXT one (nearly all of them) in one string:
    what :func:`_xml.parameter_to_record` gives, without its per-field tuples (1 KB context:
    write 0.045 -> 0.037 ms)."""
    name = parameter.name
    try:
        text = f"<textValue>{_xml.escape_text(value)}</textValue>" if value else ""
        return (f"<parameter><name>{_xml.escape_text(name)}</name><dataType>"
                f"{parameter.data_type}</dataType><direction>{parameter.direction}</direction>"
                f"{text}</parameter>")
    except ValueError as exc:
        raise ContextError(f"parameter {name!r}: {exc}", parameter=name) from None


def _session(session: dict[str, str]) -> str:
    parts = ["<session>"]
    for key, value in session.items():
        if not _xml.is_name(key):
            raise ContextError(f"session key {key!r} is not a valid XML element name")
        try:
            text = _xml.escape_text(values.expect_type(value, str, "session"))
        except (TypeError, ValueError) as exc:
            raise ContextError(f"session value {key!r}: {exc}") from None
        parts.append(f"<{key}>{text}</{key}>")
    parts.append("</session>")
    return "".join(parts)

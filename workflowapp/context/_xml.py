"""What the two XML formats share: safe parsing, escaping, and parameter records.

DataSet and Recordset both carry a parameter as a flat record of text fields; only the field
names differ (``numericValue`` vs ``VALUE_NUMERIC``). :class:`Columns` names them, and
:func:`record_to_parameter` / :func:`parameter_to_record` convert with the rules of §8.

Parsing is hardened: no entity expansion, no network, no DTD loading, libxml2's default limits
(depth 256; a single text or attribute over 10 MB is refused), and any document carrying a
DOCTYPE (where entities are declared) is refused outright.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from typing import Any, NamedTuple, cast

from lxml import etree

from workflowapp.context import values
from workflowapp.context.model import Context, DataType, FileRef, Parameter, Value
from workflowapp.errors import ContextError

_PARSER_OPTIONS = {
    "resolve_entities": False,
    "no_network": True,
    "load_dtd": False,
    "dtd_validation": False,
    "huge_tree": False,
}
# lxml serialises the use of a parser shared between threads: one pair per thread instead.
_parsers = threading.local()


def _parser(*, utf8: bool) -> etree.XMLParser:
    """This thread's hardened parser; ``utf8`` forces UTF-8 whatever the declaration says."""
    name = "utf8" if utf8 else "auto"
    parser: etree.XMLParser | None = getattr(_parsers, name, None)
    if parser is None:
        encoding = "utf-8" if utf8 else None
        parser = etree.XMLParser(encoding=encoding, **_PARSER_OPTIONS)  # type: ignore[arg-type]
        setattr(_parsers, name, parser)
    return parser


# The prolog (declaration, comments, PIs, whitespace): a DOCTYPE can only follow it. The
# possessive "*+" matters: "(?:\s+|…)*" backtracks exponentially on long runs of whitespace.
_PROLOG = r"(?:\s|<\?.*?\?>|<!--.*?-->)*+"
_DOCTYPE_TEXT = re.compile(_PROLOG + "<!DOCTYPE", re.S)
_DOCTYPE_BYTES = re.compile(_PROLOG.encode() + b"<!DOCTYPE", re.S)
_DECLARATION = re.compile(r"\s*<\?xml[\s?][^>]*>")
_NO_DTD = "DTDs and entity declarations are not allowed in a context (<!DOCTYPE> refused)"

# XML 1.0 cannot carry these, even escaped (lone surrogates cannot even be encoded).
NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
# Anything that needs work: escaping or refusal. Most values have none (fast path).
_TEXT_SPECIAL = re.compile("[&<>\r\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_ATTR_SPECIAL = re.compile('[&<>"\t\n\r\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]')
_NAME = re.compile(r"[^\W\d][\w.\-]*")
_LONG = 2048  # above this, lxml's C escaper beats str.replace chains


def parse_text(text: str) -> etree._Element:
    """Parse a context held as ``str``; an XML declaration (lxml refuses it on str) is dropped."""
    text = text.lstrip(" \t\r\n\ufeff")
    if text.startswith("<?xml"):
        match = _DECLARATION.match(text)
        if match is not None:
            text = text[match.end():]
    if _DOCTYPE_TEXT.match(text):
        raise ContextError(_NO_DTD)
    return _checked(text, _parser(utf8=False))


def parse_bytes(data: bytes, *, utf8: bool) -> etree._Element:
    """Parse a context held as bytes: forced UTF-8 (the declared encoding may lie, as .NET's
    ``encoding="utf-16"`` on UTF-8 bodies does), or, with ``utf8=False``, as declared."""
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    if data[:1].isspace():
        data = data.lstrip()
    if _DOCTYPE_BYTES.match(data):
        raise ContextError(_NO_DTD)
    return _checked(data, _parser(utf8=utf8))


def _checked(data: str | bytes, parser: etree.XMLParser) -> etree._Element:
    if not data:
        raise ContextError("the context is empty")
    try:
        root = etree.fromstring(data, parser)
    except etree.XMLSyntaxError as exc:
        raise ContextError(f"the context is not well-formed XML: {exc.msg}") from None
    except ValueError as exc:  # e.g. a str holding lone surrogates
        raise ContextError(f"the context cannot be parsed as XML: {exc}") from None
    docinfo: Any = root.getroottree().docinfo  # lxml-stubs lack DocInfo.doctype
    if docinfo.doctype:
        raise ContextError(_NO_DTD)
    return root


def local_name(tag: str) -> str:
    """``{urn:x}row`` -> ``row``: contexts are matched by local name, namespaces tolerated."""
    return tag.rpartition("}")[2] if tag[:1] == "{" else tag


def is_name(text: str) -> bool:
    """True if ``text`` can be written as an element name (no prefix). Names starting with
    ``xml`` are reserved by the XML spec but well-formed: a session child read with such a name
    is written back as received (only ``xmlns`` itself is refused)."""
    return _NAME.fullmatch(text) is not None and text.lower() != "xmlns"


def element_text(element: etree._Element) -> str:
    """The text of a leaf element (``""`` when empty); mixed content is concatenated."""
    if len(element):
        return "".join(cast("Iterator[str]", element.itertext()))
    return element.text or ""


def escape_text(text: str) -> str:
    """Escape element content; ``\\r`` as a character reference so it survives parsing.

    :raises ValueError: characters XML 1.0 cannot carry (C0 controls, lone surrogates, U+FFFE).
    """
    if len(text) > _LONG:
        return _lxml_escape(text, attribute=False)
    if not _TEXT_SPECIAL.search(text):
        return text
    if NOT_XML.search(text):
        raise ValueError("the value contains characters XML cannot carry (control characters)")
    return (text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            .replace("\r", "&#13;"))


def escape_attribute(text: str) -> str:
    """Escape an attribute value (double-quoted); tab/CR/LF as references, not normalised away."""
    if len(text) > _LONG:
        return _lxml_escape(text, attribute=True)
    if not _ATTR_SPECIAL.search(text):
        return text
    if NOT_XML.search(text):
        raise ValueError("the value contains characters XML cannot carry (control characters)")
    return (text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            .replace('"', "&quot;").replace("\r", "&#13;").replace("\n", "&#10;")
            .replace("\t", "&#9;"))


def _lxml_escape(text: str, *, attribute: bool) -> str:
    element = etree.Element("x")
    try:
        if attribute:
            element.set("a", text)
        else:
            element.text = text
    except ValueError:  # lxml's own check; UnicodeEncodeError (surrogates) is a ValueError
        raise ValueError(
            "the value contains characters XML cannot carry (control characters)"
        ) from None
    serialized = etree.tostring(element, encoding="unicode")
    return serialized[6:-3] if attribute else serialized[3:-4]  # <x a="…"/> or <x>…</x>


CHUNK_CHARS = 1 << 16


def chunked(pieces: Iterable[str]) -> list[bytes]:
    """``pieces`` of a document as UTF-8 chunks of about 64 K characters (a larger piece is
    encoded on its own): a 30 MB reply is held once, as bytes, not also as one Python string
    and a joined copy, and a server sends it in a few writes."""
    chunks: list[bytes] = []
    pending: list[str] = []
    size = 0
    for piece in pieces:
        if len(piece) >= CHUNK_CHARS:  # a long value: encoded alone, never joined
            if pending:
                chunks.append("".join(pending).encode("utf-8"))
                pending = []
                size = 0
            chunks.append(piece.encode("utf-8"))
            continue
        pending.append(piece)
        size += len(piece)
        if size >= CHUNK_CHARS:
            chunks.append("".join(pending).encode("utf-8"))
            pending = []
            size = 0
    if pending:
        chunks.append("".join(pending).encode("utf-8"))
    return chunks


class Columns(NamedTuple):
    """The wire names of a parameter record's fields, in the order they are written."""

    name: str
    data_type: str
    direction: str
    text: str
    numeric: str
    datetime: str
    file_name: str
    file_size: str
    file_content_type: str
    file_description: str
    file_original_path: str
    file_last_modified: str
    file_path: str


DateFormatter = Callable[[datetime], str]
Escaper = Callable[[str], str]


def field_error(name: str, column: str, exc: Exception) -> ContextError:
    """A ContextError naming the parameter and the wire field."""
    return ContextError(f"parameter {name!r}: {column} {exc}", parameter=name)


def record_to_parameter(record: dict[str, str], cols: Columns, index: int) -> Parameter:
    """Build a parameter from its text fields; the value is read from the data type's field."""
    name = record.get(cols.name)
    if not name:
        raise ContextError(f"parameter #{index} has no {cols.name}")
    try:
        data_type = values.parse_data_type(record.get(cols.data_type))
        direction = values.parse_direction(record.get(cols.direction))
    except ValueError as exc:
        raise ContextError(f"parameter {name!r}: {exc}", parameter=name) from None
    return Parameter(name, data_type, direction, _read_value(record, cols, name, data_type))


def add_record(ctx: Context, record: dict[str, str], cols: Columns) -> None:
    """Read a parameter record into ``ctx``; a second parameter of the same name is refused."""
    parameter = record_to_parameter(record, cols, len(ctx.parameters) + 1)
    if parameter.name in ctx.parameters:
        raise ContextError(f"duplicate parameter {parameter.name!r}", parameter=parameter.name)
    ctx.parameters[parameter.name] = parameter


def _read_value(record: dict[str, str], cols: Columns, name: str, data_type: DataType) -> Value:
    if data_type is DataType.TEXT:
        return record.get(cols.text) or None
    if data_type is DataType.NUMERIC:
        return _numeric(record, cols.numeric, name)
    if data_type is DataType.DATETIME:
        return _datetime(record, cols.datetime, name)
    return _read_file(record, cols, name)


def _numeric(record: dict[str, str], column: str, name: str) -> float | None:
    text = record.get(column)
    try:
        return values.parse_numeric(text) if text else None
    except ValueError as exc:
        raise field_error(name, column, exc) from None


def _datetime(record: dict[str, str], column: str, name: str) -> datetime | None:
    text = record.get(column)
    try:
        return values.parse_datetime(text) if text else None
    except ValueError as exc:
        raise field_error(name, column, exc) from None


def _read_file(record: dict[str, str], cols: Columns, name: str) -> FileRef | None:
    """A FILE value when any file field is filled; then ``filePath`` is required."""
    if not any(record.get(column) for column in cols[6:]):
        return None
    path = record.get(cols.file_path)
    if not path:
        raise ContextError(f"parameter {name!r}: the file has no {cols.file_path}", parameter=name)
    return FileRef(
        path=path,
        name=record.get(cols.file_name) or None,
        size=_numeric(record, cols.file_size, name),
        content_type=record.get(cols.file_content_type) or None,
        description=record.get(cols.file_description) or None,
        original_path=record.get(cols.file_original_path) or None,
        last_modified=_datetime(record, cols.file_last_modified, name),
    )


def parameter_to_record(
    parameter: Parameter, cols: Columns, format_date: DateFormatter, escape: Escaper
) -> list[tuple[str, str]]:
    """The (field, escaped text) pairs of a parameter in wire order; no value, no value field.

    :raises ContextError: a value of the wrong type for the data type, or one XML cannot carry.
    """
    name = parameter.name
    value = parameter.value
    try:
        # StrEnum members are str instances holding their value: no .value look-up needed.
        record = [(cols.name, escape(name)), (cols.data_type, parameter.data_type),
                  (cols.direction, parameter.direction)]
        if value is not None and value != "":
            fields = _value_fields(parameter.data_type, value, cols, format_date)
            record.extend((column, escape(text)) for column, text in fields)
    except (TypeError, ValueError, OverflowError) as exc:
        raise ContextError(f"parameter {name!r}: {exc}", parameter=name) from None
    return record


def _value_fields(
    data_type: DataType, value: object, cols: Columns, format_date: DateFormatter
) -> list[tuple[str, str]]:
    if data_type is DataType.TEXT:
        return [(cols.text, values.expect_type(value, str, "TEXT"))]
    if data_type is DataType.NUMERIC:
        return [(cols.numeric, values.format_numeric(values.expect_number(value)))]
    if data_type is DataType.DATETIME:
        return [(cols.datetime, format_date(values.expect_type(value, datetime, "DATETIME")))]
    file = values.expect_type(value, FileRef, "FILE")
    if not file.path:
        raise ValueError("the file has an empty path")
    optional = [
        (cols.file_name, file.name),
        (cols.file_size, None if file.size is None else values.format_numeric(file.size)),
        (cols.file_content_type, file.content_type),
        (cols.file_description, file.description),
        (cols.file_original_path, file.original_path),
        (cols.file_last_modified,
         None if file.last_modified is None else format_date(file.last_modified)),
        (cols.file_path, file.path),
    ]
    return [(column, text) for column, text in optional if text]

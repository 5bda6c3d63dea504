"""Contexts: what WorkflowGen posts to a workflow application and expects back.

Pure protocol code (no Flask, no network). :func:`read_context` sniffs the format by content,
as WorkflowGen's own library does (protocol notes §4.2), and :func:`write_context` answers in the
format the context was read from (``ctx.format``)::

    ctx = read_context(request_body)          # ContextError for anything unreadable
    ctx.parameters["RESULT"].value = "Bonjour !"
    body = write_context(ctx)                 # bytes, UTF-8, no BOM
    headers = {"Content-Type": content_type(ctx.format)}

Formats: :mod:`.dataset` (ADO.NET DataSet XML), :mod:`.recordset` (ADO rowset XML),
:mod:`.jsonctx` (JSON); value rules in :mod:`.values`.
"""

from __future__ import annotations

import codecs
import re

from lxml import etree

from workflowapp.context import _xml, dataset, jsonctx, recordset
from workflowapp.context.model import Context, DataType, Direction, FileRef, Format, Parameter
from workflowapp.errors import ContextError

__all__ = [
    "Context",
    "DataType",
    "Direction",
    "FileRef",
    "Format",
    "Parameter",
    "content_type",
    "detect_format",
    "read_context",
    "write_context",
    "write_context_parts",
]

_ROWSET = recordset.ROWSET_NAMESPACE
_LEADING_SPACE = re.compile(r"[\s\ufeff]*")
_CONTENT_TYPES = {
    Format.DATASET: "application/xml; charset=utf-8",
    Format.RECORDSET: "application/xml; charset=utf-8",
    Format.JSON: "application/json; charset=utf-8",
}


def detect_format(text: str) -> Format | None:
    """The context format of ``text``, by WorkflowGen's own rule, or ``None``.

    JSON if it starts with ``{`` or ``[`` (after BOM/whitespace); else Recordset if it contains
    the rowset namespace ``urn:schemas-microsoft-com:rowset``; else DataSet if it starts with
    ``<``. (Like the SDK, a DataSet whose text mentions that namespace is taken as Recordset.)
    """
    start = _LEADING_SPACE.match(text)
    first = text[start.end() : start.end() + 1] if start else text[:1]
    if first in ("{", "["):
        return Format.JSON
    if _ROWSET in text:
        return Format.RECORDSET
    if first == "<":
        return Format.DATASET
    return None


def read_context(body: bytes | str) -> Context:
    """Detect the format of ``body`` and parse it.

    Bytes are decoded as UTF-8 (a UTF-8 or UTF-16 BOM is honoured; XML in another declared
    encoding is left to the XML parser).

    :raises ContextError: for any input that is not a readable context, and nothing else.
    """
    try:
        if isinstance(body, str):
            return _read_text(body)
        return _read_bytes(body)
    except ContextError:
        raise
    except Exception as exc:  # last resort: the readers translate every failure they expect
        raise ContextError(f"the context cannot be read: {type(exc).__name__}: {exc}") from exc


def _read_text(text: str) -> Context:
    fmt = _require_format(text)
    if fmt is Format.JSON:
        return jsonctx.read(text)
    if fmt is Format.RECORDSET:
        return recordset.read(text)
    return dataset.read(text)


def _read_bytes(body: bytes) -> Context:
    if body.startswith((b"\xff\xfe", b"\xfe\xff")):
        return _read_text(_decode(body, "utf-16"))
    # No context starts with a NUL character: a NUL in the first two bytes means UTF-16.
    if body[:1] == b"\x00":
        return _read_text(_decode(body, "utf-16-be"))
    if body[1:2] == b"\x00":
        return _read_text(_decode(body, "utf-16-le"))
    if len(body) > _LARGE:
        return _read_large(body)
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        return _read_legacy(body, exc)
    fmt = _require_format(text)
    if fmt is Format.JSON:
        return jsonctx.read(text)
    # Parsing the original bytes skips a re-encode; lxml is told they are UTF-8, whatever the
    # declaration says (.NET writes encoding="utf-16" on strings later sent as UTF-8).
    return _from_root(_xml.parse_bytes(body, utf8=True), fmt is Format.RECORDSET)


_LARGE = 1 << 20
_HEAD = 4096


def _read_legacy(body: bytes, error: UnicodeDecodeError) -> Context:
    """A body that is not UTF-8: XML in a declared legacy encoding (lxml decodes it)."""
    if body.lstrip()[:1] == b"<":
        return _from_root(_xml.parse_bytes(body, utf8=False), _ROWSET.encode() in body)
    raise ContextError(
        f"the context is not UTF-8 text (invalid byte at position {error.start})"
    ) from None


def _read_large(body: bytes) -> Context:
    """A body over a megabyte, read without a decoded copy of it: UTF-8 checked a megabyte at
    a time, the format told from the head, the bytes parsed, and each DataSet parameter's
    elements freed once read (a 30 MB context is not held three times over)."""
    if not _is_utf8(body):
        try:
            body.decode("utf-8")
        except UnicodeDecodeError as exc:
            return _read_legacy(body, exc)
    fmt = _utf8_format(body)
    if fmt is Format.JSON:
        return jsonctx.read_bytes(body)
    root = _xml.parse_bytes(body, utf8=True)
    if fmt is Format.RECORDSET:
        return recordset.from_element(root)
    return dataset.from_element(root, consume=True)


def _is_utf8(body: bytes) -> bool:
    """Whether ``body`` is valid UTF-8, checked a megabyte at a time (no full decoded copy)."""
    if body.isascii():
        return True
    decoder = codecs.getincrementaldecoder("utf-8")()
    view = memoryview(body)
    try:
        for start in range(0, len(body), _LARGE):
            decoder.decode(view[start : start + _LARGE])
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    return True


def _utf8_format(body: bytes) -> Format:
    """:func:`detect_format` of a UTF-8 body from its head (and the rowset namespace searched
    in the bytes), without decoding all of it."""
    head = body[:_HEAD].decode("utf-8-sig", "ignore")
    if len(body) > _HEAD and not head.strip(" \t\r\n\ufeff"):
        head = body.decode("utf-8-sig")  # nothing but blanks so far: look at the whole text
    fmt = detect_format(head)
    if fmt is None:
        return _require_format(head)  # raises the error naming what the body starts with
    if fmt is Format.DATASET and _ROWSET.encode() in body:
        return Format.RECORDSET
    return fmt


def _decode(body: bytes, encoding: str) -> str:
    try:
        return body.decode(encoding)
    except UnicodeDecodeError as exc:
        raise ContextError(
            f"the context is not valid UTF-16 text (invalid byte at position {exc.start})"
        ) from None


def _from_root(root: etree._Element, is_recordset: bool) -> Context:
    return recordset.from_element(root) if is_recordset else dataset.from_element(root)


def _require_format(text: str) -> Format:
    fmt = detect_format(text)
    if fmt is not None:
        return fmt
    stripped = text.strip(" \t\r\n\ufeff")
    if not stripped:
        raise ContextError("the context is empty")
    raise ContextError(
        f"the context is neither JSON nor XML: it starts with {stripped[:20]!r}"
    )


def write_context(ctx: Context) -> bytes:
    """Serialise ``ctx`` in ``ctx.format`` (UTF-8, no BOM).

    :raises ContextError: a value the format cannot carry; the message names the parameter.
    """
    if ctx.format is Format.JSON:
        return jsonctx.write(ctx)
    if ctx.format is Format.RECORDSET:
        return recordset.write(ctx)
    return dataset.write(ctx)


def write_context_parts(ctx: Context) -> list[bytes]:
    """:func:`write_context` as pieces whose concatenation is the document: a large reply can
    be sent without first being joined into one more copy."""
    if ctx.format is Format.JSON:
        return jsonctx.write_parts(ctx)
    if ctx.format is Format.RECORDSET:
        return recordset.write_parts(ctx)
    return dataset.write_parts(ctx)


def content_type(fmt: Format) -> str:
    """The ``Content-Type`` of a reply in ``fmt``."""
    return _CONTENT_TYPES[fmt]

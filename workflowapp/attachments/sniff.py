"""What a file is, from its first bytes (never from its name alone).

Images (PNG, JPEG, GIF, WebP) and PDF by their signatures; a ZIP holding ``word/document.xml``
is a Word ``.docx``; anything else that decodes as text (UTF-8, UTF-16/32 with a BOM, else
Windows-1252) is text, its subtype (CSV, Markdown, JSON, XML, HTML, plain) told by the name's
extension or the content's first characters. The rest is ``None``: a type we do not send.
"""

from __future__ import annotations

import codecs
import io
import re
import zipfile

PNG, JPEG, GIF, WEBP = "image/png", "image/jpeg", "image/gif", "image/webp"
PDF = "application/pdf"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
IMAGE_TYPES = (PNG, JPEG, GIF, WEBP)
TEXT_SUBTYPES = {
    "csv": "text/csv", "tsv": "text/tab-separated-values", "md": "text/markdown",
    "markdown": "text/markdown", "json": "application/json", "xml": "application/xml",
    "html": "text/html", "htm": "text/html",
}
#: Byte-order marks, longest first (UTF-32 LE starts like UTF-16 LE).
BOMS = ((codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"),
        (codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"),
        (codecs.BOM_UTF16_BE, "utf-16"))
#: A PDF's header: readers take it anywhere in the first 1 KB, but always at the start of a
#: line and with its version (a text that merely mentions "%PDF-" is not a PDF).
_PDF_HEADER = re.compile(rb"(?:\A|[\r\n])%PDF-\d\.\d")
#: C0 controls other than tab, newline, carriage return and form feed: binary, not text.
_BINARY = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f]")


def binary_type(data: bytes) -> str | None:
    """The media type of an image, PDF or .docx by its signature, else None."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if data.startswith(b"\xff\xd8\xff"):
        return JPEG
    if data.startswith((b"GIF87a", b"GIF89a")):
        return GIF
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return WEBP
    if _PDF_HEADER.search(data, 0, 1024):
        return PDF
    if data.startswith(b"PK\x03\x04") and _is_docx(data):
        return DOCX
    return None


def decode_text(data: bytes) -> str | None:
    """The text of ``data`` (BOM, else UTF-8, else Windows-1252), or None if it is binary."""
    for bom, encoding in BOMS:
        if data.startswith(bom):
            try:
                text = data.decode(encoding)
            except UnicodeDecodeError:
                return None
            return text.lstrip("\ufeff") if not _BINARY.search(text) else None
    for encoding in ("utf-8", "cp1252"):
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        return None if _BINARY.search(text) else text
    return None


def text_type(name: str, text: str) -> str:
    """The text subtype: by the name's extension when it is a text one, else by the content."""
    extension = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    if extension in TEXT_SUBTYPES:
        return TEXT_SUBTYPES[extension]
    start = text[:256].lstrip().lower()
    if start.startswith(("<!doctype html", "<html")):
        return "text/html"
    if start.startswith("<?xml"):
        return "application/xml"
    return "text/plain"


def _is_docx(data: bytes) -> bool:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            return "word/document.xml" in archive.namelist()
    except (zipfile.BadZipFile, OSError, ValueError):
        return False

"""The text of PDFs and Word documents, for providers that cannot read the files themselves.

pypdf and python-docx are imported here, on first use, so a host that never receives such a
file never loads them. A ``.docx`` is a ZIP: its entries' declared sizes are checked before
python-docx inflates them (``zipfile`` never inflates past a declared size), so a ZIP bomb
is refused instead of filling the memory.
"""

from __future__ import annotations

import io
import logging
import re
import zipfile
from collections.abc import Iterator
from typing import Any

#: Largest total of a .docx's inflated entries (a 20 MiB document is mostly images; far less
#: than this is text); beyond it the file is refused as a possible ZIP bomb.
DOCX_MAX_INFLATED = 256 * 1024 * 1024
#: Largest inflated-to-compressed ratio of an entry over 1 MiB (XML deflates ~10:1, a bomb
#: ~1000:1); small entries may be anything, they cannot fill the memory.
DOCX_MAX_RATIO = 200
_RATIO_FROM = 1024 * 1024


#: Most text taken from one file: ~2.5 million tokens, beyond any model's context; more is a
#: decompression bomb or a mistake, refused before it fills the memory.
MAX_TEXT = 10_000_000


class Unreadable(Exception):
    """The file cannot be turned into text; the message says why (no content in it)."""


def pdf_text(data: bytes, name: str) -> str:
    """The PDF's text layer, headed by the file name, each page after a ``[page N]`` marker.

    :raises Unreadable: an encrypted, damaged or text-less PDF (a scan without OCR).
    """
    from pypdf import PdfReader

    logging.getLogger("pypdf").setLevel(logging.ERROR)  # its warnings quote the file's bytes
    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not reader.decrypt(""):
            raise Unreadable("it is protected by a password")
        pages: list[str] = []
        total = 0
        for page in reader.pages:
            pages.append(page.extract_text() or "")
            total += len(pages[-1])
            if total > MAX_TEXT:
                raise Unreadable(f"its text is over {MAX_TEXT} characters, more than a model "
                                 "takes")
    except Unreadable:
        raise
    except Exception as exc:  # pypdf raises many types on damaged files
        raise Unreadable(f"it is not a PDF pypdf can read ({type(exc).__name__})") from None
    if not any(text.strip() for text in pages):
        raise Unreadable(
            "it has no text layer (a scanned PDF?); use a provider that reads PDFs natively "
            "(OpenAI, Anthropic) or send a PDF with text (OCR it first)"
        )
    body = "\n".join(f"[page {number}]\n{text.strip()}"
                     for number, text in enumerate(pages, 1))
    return with_name(body, name)


def docx_text(data: bytes, name: str) -> str:
    """The document's paragraphs and tables (cells joined with `` | ``), in document order.

    :raises Unreadable: a damaged document, or one whose entries inflate beyond the bounds.
    """
    _check_zip(data)
    import docx
    from docx.table import Table
    from docx.text.paragraph import Paragraph

    try:
        document = docx.Document(io.BytesIO(data))
        lines = list(_blocks(document, Paragraph, Table))
    except Exception as exc:  # python-docx, lxml and zipfile errors alike
        raise Unreadable(f"it is not a Word document python-docx can read "
                         f"({type(exc).__name__})") from None
    text = "\n".join(lines).strip()
    if not text:
        raise Unreadable("it holds no text")
    if len(text) > MAX_TEXT:
        raise Unreadable(f"its text is over {MAX_TEXT} characters, more than a model takes")
    return with_name(text, name)


def with_name(text: str, name: str) -> str:
    """A text taken from a file, headed by the file's name (:data:`NAMED` finds the head)."""
    return f"[file: {name}]\n{text}"


#: The head :func:`with_name` puts on a text, at its start; group 1: the file's name.
NAMED = re.compile(r"\[file: (.{1,260}?)\]\n")


def _blocks(document: Any, paragraph: Any, table: Any) -> Iterator[str]:
    body = document.element.body
    for child in body.iterchildren():
        tag = child.tag.rsplit("}", 1)[-1]
        if tag == "p":
            yield paragraph(child, document).text
        elif tag == "tbl":
            for row in table(child, document).rows:
                cells: list[Any] = []
                for cell in row.cells:  # a merged cell comes once per grid column it spans
                    if not cells or cell._tc is not cells[-1]._tc:
                        cells.append(cell)
                yield " | ".join(cell.text.strip() for cell in cells)


def _check_zip(data: bytes) -> None:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            entries = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError):
        raise Unreadable("it is not a readable ZIP (a damaged .docx)") from None
    total = sum(entry.file_size for entry in entries)
    worst = max((entry.file_size / max(entry.compress_size, 1) for entry in entries
                 if entry.file_size > _RATIO_FROM), default=0)
    if total > DOCX_MAX_INFLATED or worst > DOCX_MAX_RATIO:
        raise Unreadable(
            f"its ZIP entries would inflate to {total} bytes (ratio up to {worst:.0f}:1), "
            f"beyond the {DOCX_MAX_INFLATED} bytes / {DOCX_MAX_RATIO}:1 a document may take"
        )

"""PDF and .docx text, headed by the file name; what cannot be read is refused with a reason."""

from __future__ import annotations

import pytest

from tests.attachments import samples
from workflowapp.attachments.extract import Unreadable, docx_text, pdf_text


def test_pdf_text_with_page_markers() -> None:
    text = pdf_text(samples.pdf(["Invoice INV-7\nTotal 99.00", "Due 2026-12-31"]), "inv.pdf")
    assert text == ("[file: inv.pdf]\n[page 1]\nInvoice INV-7\nTotal 99.00\n"
                    "[page 2]\nDue 2026-12-31")


@pytest.mark.parametrize(("data", "reason"), [
    (samples.scanned_pdf(), "no text layer"),
    (b"%PDF-1.4\nthis is not a PDF body", "not a PDF pypdf can read"),
])
def test_pdf_refusals(data: bytes, reason: str) -> None:
    with pytest.raises(Unreadable, match=reason):
        pdf_text(data, "scan.pdf")


def test_encrypted_pdf_is_refused() -> None:
    import io

    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(samples.pdf(["secret"]))))
    writer.encrypt("pw", algorithm="RC4-128")
    buffer = io.BytesIO()
    writer.write(buffer)
    with pytest.raises(Unreadable, match="password"):
        pdf_text(buffer.getvalue(), "locked.pdf")


def test_docx_paragraphs_and_tables_in_order() -> None:
    data = samples.docx(["Contract", "Between A and B"], [["Item", "Price"], ["Desk", "120"]])
    assert docx_text(data, "c.docx") == ("[file: c.docx]\nContract\nBetween A and B\n"
                                         "Item | Price\nDesk | 120")


@pytest.mark.parametrize(("data", "reason"), [
    (samples.zip_bomb_docx(), "inflate to 8388616 bytes"),
    (samples.docx([]), "holds no text"),
    (b"PK\x03\x04broken", "not a readable ZIP"),
    (samples.plain_zip(), "not a Word document"),
])
def test_docx_refusals(data: bytes, reason: str) -> None:
    with pytest.raises(Unreadable, match=reason):
        docx_text(data, "d.docx")


def test_text_beyond_any_model_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    from workflowapp.attachments import extract

    monkeypatch.setattr(extract, "MAX_TEXT", 20)
    with pytest.raises(Unreadable, match="over 20 characters"):
        pdf_text(samples.pdf(["0123456789", "0123456789", "0123456789"]), "long.pdf")
    with pytest.raises(Unreadable, match="over 20 characters"):
        docx_text(samples.docx(["0123456789" * 3]), "long.docx")

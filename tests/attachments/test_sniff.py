"""The type of a file comes from its bytes: signatures, .docx ZIPs, text encodings."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.attachments import samples
from workflowapp.attachments.sniff import (
    DOCX,
    GIF,
    JPEG,
    PDF,
    PNG,
    WEBP,
    binary_type,
    decode_text,
    text_type,
)


@pytest.mark.parametrize(("data", "expected"), [
    (samples.image("PNG"), PNG),
    (samples.image("JPEG"), JPEG),
    (samples.image("GIF"), GIF),
    (samples.image("WEBP"), WEBP),
    (samples.pdf(["x"]), PDF),
    (b"\r\n%PDF-1.7 junk before the header is allowed", PDF),
    (b"\x00" * 900 + b"\n%PDF-2.0\n", PDF),
    (b"A text that checks the %PDF-1.7 header of a file.\n", None),
    (b"\n" * 1100 + b"%PDF-1.4\n", None),  # beyond the first kilobyte
    (b"%PDF-draft notes\n", None),
    (samples.docx(["x"]), DOCX),
    (samples.plain_zip(), None),
    (b"PK\x03\x04 not really a zip", None),
    (b"name;amount\nA;1\n", None),
])
def test_binary_types_by_signature(data: bytes, expected: str | None) -> None:
    assert binary_type(data) == expected


@pytest.mark.parametrize(("data", "expected"), [
    ("Café ✓".encode(), "Café ✓"),
    ("\ufeffCafé".encode(), "Café"),  # UTF-8 with a BOM
    ("Café ✓".encode("utf-16"), "Café ✓"),  # with its BOM
    ("Café".encode("utf-16-be").join([b"\xfe\xff", b""]), "Café"),
    ("Café".encode("utf-32"), "Café"),
    ("Café – 10 €".encode("cp1252"), "Café – 10 €"),  # not UTF-8: Windows-1252
    (b"\x00\x01\x02binary", None),
    (b"\x89PNG-like\x00", None),
    ("no bom".encode("utf-16-le"), None),  # NULs without a BOM: binary
])
def test_decode_text(data: bytes, expected: str | None) -> None:
    assert decode_text(data) == expected


@given(st.text(alphabet=st.characters(blacklist_categories=("Cc", "Cs")), min_size=1))
def test_any_printable_text_round_trips_in_utf8_and_utf16(text: str) -> None:
    assert decode_text(text.encode("utf-8")) == text.removeprefix("\ufeff")
    assert decode_text(text.encode("utf-16")) == text.lstrip("\ufeff")


@given(st.binary())
def test_any_bytes_are_classified_without_error(data: bytes) -> None:
    binary_type(data)
    decode_text(data)


@pytest.mark.parametrize(("name", "text", "expected"), [
    ("a.csv", "x;y", "text/csv"),
    ("A.MD", "# t", "text/markdown"),
    ("d.json", "{}", "application/json"),
    ("page", "  <!DOCTYPE html><html>", "text/html"),
    ("feed", "<?xml version='1.0'?><a/>", "application/xml"),
    ("notes.txt", "hello", "text/plain"),
    ("invoice.pdf", "hello", "text/plain"),  # a name does not make text a PDF
])
def test_text_subtype(name: str, text: str, expected: str) -> None:
    assert text_type(name, text) == expected

"""Reading attachments: path map and allow-list, limits checked from stat, type by content."""

from __future__ import annotations

import hashlib
import logging
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.attachments import samples
from workflowapp.apps import files
from workflowapp.attachments import CALL_LIMIT, read_attachments
from workflowapp.attachments.read import identify
from workflowapp.context.model import FileRef
from workflowapp.errors import (
    ConfigurationError,
    FileNotAllowed,
    FileNotFound,
    FileTooLarge,
    ParameterError,
)
from workflowapp.settings import Settings

LOG = logging.getLogger("workflowapp.apps.OPENAICHAT")
MIB = 1024 * 1024


def host(tmp_path: Path, **extra: str) -> Settings:
    return Settings({"WorkflowAppPathMap": rf"\\wfgen\storage={tmp_path}",
                     "WorkflowAppAllowedFolders": str(tmp_path), **extra})


def ref(file: str, **kwargs: Any) -> FileRef:
    return FileRef(path=rf"\\wfgen\storage\{file}", **kwargs)


def test_reads_in_order_through_the_path_map(tmp_path: Path) -> None:
    png, pdf = samples.image("PNG", (20, 10)), samples.pdf(["hi"])
    (tmp_path / "a.png").write_bytes(png)
    (tmp_path / "b.pdf").write_bytes(pdf)
    (tmp_path / "c.csv").write_bytes("n;€\n1;2\n".encode("cp1252"))
    got = read_attachments([("ATTACHMENT", ref("a.png")), ("ATTACHMENT1", ref("b.pdf")),
                            ("ATTACHMENT2", ref("c.csv", name="Costs.csv"))], host(tmp_path), LOG)
    assert [(a.parameter, a.name, a.media_type, a.size) for a in got] == [
        ("ATTACHMENT", "a.png", "image/png", len(png)),
        ("ATTACHMENT1", "b.pdf", "application/pdf", len(pdf)),
        ("ATTACHMENT2", "Costs.csv", "text/csv", 8)]
    assert got[0].pixels == (20, 10) and got[0].sha256 == hashlib.sha256(png).hexdigest()
    assert got[1].text is None
    assert got[2].text == "[file: Costs.csv]\nn;€\n1;2\n"


def test_utf16_text_and_docx(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_bytes("Grüße\r\nline 2".encode("utf-16"))
    (tmp_path / "c.docx").write_bytes(samples.docx(["Terms"], [["a", "b"]]))
    notes, contract = read_attachments([("ATTACHMENT", ref("notes.txt")),
                                        ("ATTACHMENT1", ref("c.docx"))], host(tmp_path), LOG)
    assert (notes.media_type, notes.text) == ("text/plain", "[file: notes.txt]\nGrüße\r\nline 2")
    assert contract.media_type.endswith("wordprocessingml.document")
    assert contract.text == "[file: c.docx]\nTerms\na | b"


def test_the_content_wins_over_the_name_and_the_declared_type(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    (tmp_path / "photo.pdf").write_bytes(samples.image("JPEG"))
    with caplog.at_level(logging.INFO, LOG.name):
        declared = ref("photo.pdf", content_type="application/pdf")
        [photo] = read_attachments([("ATTACHMENT", declared)], host(tmp_path), LOG)
    assert photo.media_type == "image/jpeg"
    assert "photo.pdf is declared application/pdf but its content is image/jpeg" in caplog.text
    assert f"sha256 {photo.sha256}" in caplog.text


@pytest.mark.parametrize("declared", [None, "application/octet-stream", "image/jpg",
                                      "image/jpeg; charset=binary"])
def test_agreeing_or_generic_declared_types_are_not_logged(
        tmp_path: Path, caplog: pytest.LogCaptureFixture, declared: str | None) -> None:
    (tmp_path / "p.jpg").write_bytes(samples.image("JPEG"))
    with caplog.at_level(logging.INFO, LOG.name):
        read_attachments([("ATTACHMENT", ref("p.jpg", content_type=declared))], host(tmp_path),
                         LOG)
    assert "declared" not in caplog.text


def test_logs_name_type_size_and_hash_never_content(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    (tmp_path / "s.txt").write_text("TOP-SECRET-CONTENT")
    with caplog.at_level(logging.DEBUG, LOG.name):
        [text] = read_attachments([("ATTACHMENT", ref("s.txt"))], host(tmp_path), LOG)
    assert "s.txt, text/plain, 18 bytes" in caplog.text and text.sha256 in caplog.text
    assert "TOP-SECRET" not in caplog.text


@pytest.mark.parametrize(("content", "error", "message"), [
    (b"MZ\x90\x00\x03\x00\x00\x00 an executable", ParameterError,
     re.escape(f"Parameter ATTACHMENT: the file {ref('f').path!r} cannot be given to the "
               "model: ")
     + r"it is not an image \(PNG, JPEG, GIF, WebP\), a PDF, a Word .docx or a text file"),
    (b"", ParameterError, "is empty"),
    (b" \r\n\t ", ParameterError, "holds only white space"),
    (samples.plain_zip(), ParameterError, "is not an image"),
    (samples.zip_bomb_docx(), ParameterError, "inflate to"),
    (b"\x89PNG\r\n\x1a\n broken", ParameterError, "not an image Pillow can read"),
])
def test_refusals_name_the_parameter_and_file(tmp_path: Path, content: bytes,
                                              error: type[Exception], message: str) -> None:
    (tmp_path / "f").write_bytes(content)
    with pytest.raises(error, match=message) as caught:
        read_attachments([("ATTACHMENT", ref("f"))], host(tmp_path), LOG)
    assert getattr(caught.value, "parameter", None) == "ATTACHMENT"


def test_missing_outside_and_unconfigured(tmp_path: Path) -> None:
    inside, outside = tmp_path / "in", tmp_path / "out"
    inside.mkdir()
    outside.mkdir()
    (outside / "x.txt").write_text("x")
    settings = Settings({"WorkflowAppPathMap": rf"\\wfgen\storage={inside}",
                         "WorkflowAppAllowedFolders": str(inside)})
    with pytest.raises(FileNotFound, match="does not exist on this host"):
        read_attachments([("ATTACHMENT1", ref("nope.txt"))], settings, LOG)
    (inside / "link.txt").symlink_to(outside / "x.txt")
    with pytest.raises(FileNotAllowed, match="WorkflowAppAllowedFolders") as caught:
        read_attachments([("ATTACHMENT2", ref("link.txt"))], settings, LOG)
    assert caught.value.parameter == "ATTACHMENT2"
    with pytest.raises(FileNotFound, match="WorkflowAppPathMap"):
        read_attachments([("ATTACHMENT", FileRef(path=r"D:\elsewhere\x.txt"))], settings, LOG)
    with pytest.raises(ConfigurationError, match="WorkflowAppAllowedFolders"):
        read_attachments([("ATTACHMENT", FileRef(path=str(inside / "x.txt")))], Settings({}),
                         LOG)


def sparse(path: Path, size: int) -> None:
    with open(path, "wb") as handle:
        handle.truncate(size)


@pytest.fixture
def no_reading(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any open() by files.py fails the test: limits must be enforced from stat alone."""
    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the file was opened")
    monkeypatch.setattr(files, "open", refuse, raising=False)


def test_per_file_limit_from_stat(tmp_path: Path, no_reading: None) -> None:
    sparse(tmp_path / "big.pdf", 20 * MIB + 1)
    with pytest.raises(FileTooLarge, match=r"is 20971521 bytes, over the limit of 20971520 bytes "
                       r"per attachment \(setting WorkflowAppMaxAttachmentBytes\)"):
        read_attachments([("ATTACHMENT", ref("big.pdf"))], host(tmp_path), LOG)
    with pytest.raises(FileTooLarge, match="over the limit of 1000 bytes per attachment"):
        read_attachments([("ATTACHMENT", ref("big.pdf"))],
                         host(tmp_path, WorkflowAppMaxAttachmentBytes="1000"), LOG)


def test_per_call_limit_from_stat_before_any_file_is_read(tmp_path: Path,
                                                           no_reading: None) -> None:
    for name in ("a.pdf", "b.pdf"):
        sparse(tmp_path / name, 17 * MIB)
    left = CALL_LIMIT - 17 * MIB
    with pytest.raises(FileTooLarge, match=f"the file '.*b.pdf' is {17 * MIB} bytes, over the "
                       f"{left} bytes left of the {CALL_LIMIT} bytes all attachments of a call "
                       "may hold together") as caught:
        read_attachments([("ATTACHMENT", ref("a.pdf")), ("ATTACHMENT1", ref("b.pdf"))],
                         host(tmp_path), LOG)
    assert caught.value.parameter == "ATTACHMENT1"


@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.binary(min_size=1, max_size=600))
def test_any_content_is_an_attachment_or_a_400(data: bytes) -> None:
    try:
        attachment = identify("ATTACHMENT", FileRef(path="/x/f.bin"), data, LOG)
    except ParameterError as exc:
        assert exc.parameter == "ATTACHMENT" and exc.status == 400
    else:
        assert attachment.size == len(data)


def test_the_file_libraries_are_imported_only_when_a_file_needs_them() -> None:
    import subprocess
    import sys

    code = ("import sys; from workflowapp import create_app; create_app(); "
            "import workflowapp.apps.chat; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('PIL', 'pypdf', 'docx')))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True, cwd=Path(__file__).resolve().parents[2], timeout=60)
    assert result.stdout.strip() == "[]"

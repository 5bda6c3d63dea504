"""Attachments as OpenAI-shaped parts for what a provider takes; placeholders for histories."""

from __future__ import annotations

import base64
import hashlib
import json
import logging

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.attachments import samples
from workflowapp.attachments import (
    ANTHROPIC_IMAGES,
    Accepts,
    ImageLimits,
    conceal_file_texts,
    content_part,
    placeholder,
)
from workflowapp.attachments.read import Attachment, identify
from workflowapp.context.model import FileRef
from workflowapp.errors import ParameterError

LOG = logging.getLogger("workflowapp.apps.OPENAICHAT")
PDF_NATIVE, TEXT_ONLY = Accepts(pdf=True), Accepts()


def attach(data: bytes, name: str) -> Attachment:
    return identify("ATTACHMENT", FileRef(path=f"/x/{name}"), data, LOG)


def decoded(url: str, prefix: str) -> bytes:
    assert url.startswith(prefix)
    return base64.b64decode(url[len(prefix):], validate=True)


@pytest.mark.parametrize("accepts", [PDF_NATIVE, TEXT_ONLY])
def test_image_part_is_a_data_url_with_detail(accepts: Accepts) -> None:
    png = samples.image("PNG")
    part = content_part(attach(png, "a.png"), accepts, detail="low", log=LOG)
    assert part["type"] == "image_url" and part["image_url"]["detail"] == "low"
    assert decoded(part["image_url"]["url"], "data:image/png;base64,") == png


def test_pdf_as_a_file_part_where_the_provider_reads_pdfs() -> None:
    pdf = samples.pdf(["Total 5"])
    part = content_part(attach(pdf, "inv.pdf"), PDF_NATIVE, detail="auto", log=LOG)
    assert part["type"] == "file" and part["file"]["filename"] == "inv.pdf"
    assert decoded(part["file"]["file_data"], "data:application/pdf;base64,") == pdf


def test_pdf_as_text_elsewhere(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, LOG.name):
        part = content_part(attach(samples.pdf(["Total 5"]), "inv.pdf"), TEXT_ONLY,
                            detail="auto", log=LOG)
    assert part == {"type": "text", "text": "[file: inv.pdf]\n[page 1]\nTotal 5"}
    assert "inv.pdf sent as its text" in caplog.text and "Total 5" not in caplog.text


def test_scanned_pdf_where_text_is_needed_is_a_400() -> None:
    scan = attach(samples.scanned_pdf(), "scan.pdf")
    assert content_part(scan, PDF_NATIVE, detail="auto", log=LOG)["type"] == "file"
    with pytest.raises(ParameterError, match="Parameter ATTACHMENT: the PDF 'scan.pdf' cannot be "
                       "given to this provider, which takes PDFs only as text: it has no text "
                       "layer") as caught:
        content_part(scan, TEXT_ONLY, detail="auto", log=LOG)
    assert caught.value.parameter == "ATTACHMENT"


@pytest.mark.parametrize(("data", "name"), [
    (b"a,b\n1,2\n", "t.csv"), (samples.docx(["Hello"]), "d.docx")])
def test_text_kinds_are_text_parts(data: bytes, name: str) -> None:
    part = content_part(attach(data, name), PDF_NATIVE, detail="auto", log=LOG)
    assert part["type"] == "text" and part["text"].startswith(f"[file: {name}]\n")


def test_oversized_image_is_downscaled_and_logged(caplog: pytest.LogCaptureFixture) -> None:
    big = attach(samples.image("JPEG", (2400, 1200)), "wide.jpg")
    with caplog.at_level(logging.INFO, LOG.name):
        part = content_part(big, Accepts(images=ANTHROPIC_IMAGES), detail="auto", log=LOG)
    url = part["image_url"]["url"]
    assert url.startswith("data:image/jpeg;base64,")
    assert "wide.jpg downscaled from 2400x1200 px" in caplog.text
    assert "to 1568x784 px" in caplog.text and url[23:80] not in caplog.text


def test_image_that_cannot_fit_is_a_400() -> None:
    photo = attach(samples.noisy_jpeg((64, 64)), "n.jpg")
    with pytest.raises(ParameterError, match="Parameter ATTACHMENT: the image 'n.jpg' cannot be "
                       "given to the model"):
        content_part(photo, Accepts(images=ImageLimits(max_bytes=10)), detail="auto", log=LOG)


def test_placeholder_names_file_type_and_size() -> None:
    pdf = samples.pdf(["x"])
    assert placeholder(attach(pdf, "inv.pdf")) == {
        "type": "text", "text": f"[attachment: inv.pdf, application/pdf, {len(pdf)} bytes]"}
    assert attach(pdf, "inv.pdf").sha256 == hashlib.sha256(pdf).hexdigest()


def test_text_from_files_never_reaches_the_logs(caplog: pytest.LogCaptureFixture) -> None:
    from workflowapp.context._xml import escape_text
    from workflowapp.logs import RedactingFilter, call_secrets

    content = 'Line "one" & <two>\nCONFIDENTIAL-CLAUSE'
    with call_secrets(), caplog.at_level(logging.DEBUG, LOG.name):
        LOG.addFilter(RedactingFilter())
        try:
            text = content_part(attach(content.encode(), "c.txt"), TEXT_ONLY, detail="auto",
                                log=LOG)["text"]
            as_json = json.dumps({"content": [{"type": "text", "text": text}]})
            LOG.debug("body %s | history %s | xml %s | b64 %s", as_json,
                      json.dumps(as_json), escape_text(json.dumps(text)),
                      base64.b64encode(content.encode() * 20).decode())
        finally:
            LOG.filters.clear()
    assert "CONFIDENTIAL" not in caplog.text and "[attachment: c.txt, text/plain" in caplog.text
    assert "[base64: 1016 characters]" in caplog.text


@given(st.text(min_size=1, max_size=40).filter(lambda n: "\n" not in n),
       st.text(min_size=8).map(lambda t: "SECRET-" + t), st.integers(0, 3))
def test_file_texts_in_a_history_are_concealed_by_name(name: str, body: str, depth: int) -> None:
    """A history holding an earlier call's file text: logged as its name, in any nesting."""
    from workflowapp.logs import call_secrets, redact

    text = f"[file: {name}]\n{body}"
    history: object = [{"role": "user", "content": [{"type": "text", "text": text}]}]
    for _ in range(depth):
        history = {"nested": [history]}
    with call_secrets():
        conceal_file_texts(json.dumps(history, ensure_ascii=False))
        logged = redact(json.dumps(json.dumps(history, ensure_ascii=False), ensure_ascii=False))
    assert body not in logged and f"[file text: {name}, {len(text)} characters]" in logged


@pytest.mark.parametrize("value", ["[file: x]\n not json", "[" * 100_000 + '"[file: x]\nA"',
                                   '["[file: no new line"]', '{"a": "[file: x] inline"}'])
def test_conceal_file_texts_passes_over_what_is_not_a_file_text(value: str) -> None:
    from workflowapp.logs import call_secrets, redact

    with call_secrets():
        conceal_file_texts(value)  # never raises
        assert redact(value) == value


def test_an_image_for_a_provider_without_images_is_a_400() -> None:
    with pytest.raises(ParameterError, match="'a.png' is an image and this provider takes no "
                       "images"):
        content_part(attach(samples.image("PNG"), "a.png"), Accepts(image=False),
                     detail="auto", log=LOG)

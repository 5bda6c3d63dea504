"""OPENAICHAT with attachments end to end: FILE parameters in DataSet and JSON contexts ->
Flask app -> the loopback fake (which validates every part against OpenAI's schema)."""

from __future__ import annotations

import base64
import io
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from werkzeug.test import Client as WebClient

from tests.attachments import samples
from tests.fakes import anthropic_replies as areplies
from tests.fakes import replies
from tests.fakes.server import FakeOpenAI
from tests.helpers import FORMATS, SECRET_KEY, Reply, out, param, post
from workflowapp.context.model import FileRef, Format

STORAGE = r"C:\wfgen\storage"
PNG = samples.image("PNG", (64, 48))
INVOICE = samples.pdf(["INVOICE INV-2026-0042\nAcme Corp\nTotal: 1,234.50 EUR\n"
                       "Due date: 2026-12-31"])
DOCX = samples.docx(["Terms of payment"], [["Net", "30 days"]])
CSV = "item;amount\nchairs;120\n".encode("cp1252")
INVOICE_SCHEMA = {
    "name": "invoice",
    "strict": True,
    "schema": {"type": "object", "additionalProperties": False,
               "required": ["invoice_number", "total", "due_date"],
               "properties": {"invoice_number": {"type": "string"},
                              "total": {"type": "number"},
                              "due_date": {"type": "string", "format": "date"}}},
}


@pytest.fixture
def storage(tmp_path: Path) -> Path:
    """WorkflowGen's storage as this host sees it, holding one file of each kind."""
    root = tmp_path / "storage"
    (root / "42").mkdir(parents=True)
    files = {"photo.png": PNG, "invoice.pdf": INVOICE, "terms.docx": DOCX, "costs.csv": CSV,
             "scan.pdf": samples.scanned_pdf(), "notes.txt": "Grüße".encode("utf-16"),
             "empty.txt": b"", "big.txt": b"x" * 6000,
             "program.exe": b"MZ\x90\x00\x03\x00\x00\x00\x04"}
    for name, data in files.items():
        (root / "42" / name).write_bytes(data)
    return root


@pytest.fixture
def app_client(make_client: Callable[..., WebClient], storage: Path) -> WebClient:
    return make_client(WorkflowAppPathMap=rf"{STORAGE}={storage}",
                       WorkflowAppAllowedFolders=str(storage))


def ref(name: str, **kwargs: Any) -> FileRef:
    return FileRef(path=rf"{STORAGE}\42\{name}", name=name, **kwargs)


def chat(client: WebClient, *params: Any, fmt: Format = Format.DATASET) -> Reply:
    """OPENAICHAT as OpenAI (the fake is on a loopback URL: PROVIDER says what it stands for),
    unless the test names another PROVIDER."""
    provider = [] if any(p.name == "PROVIDER" for p in params) \
        else [param("PROVIDER", "openai")]
    return post(client, "OPENAICHAT", param("MODEL", "gpt-4o"), param("API_KEY", SECRET_KEY),
                *provider, *params, out("APP_RESPONSE_STATUS"), out("APP_RESPONSE_CONTENT"),
                fmt=fmt)


def last_user(fake: FakeOpenAI) -> list[dict[str, Any]]:
    body = fake.requests_for("chat")[-1].json
    assert isinstance(body, dict)
    message = body["messages"][-1]
    assert message["role"] == "user"
    content = message["content"]
    assert isinstance(content, list)
    return content


def data_of(url: str, media_type: str) -> bytes:
    prefix = f"data:{media_type};base64,"
    assert url.startswith(prefix), url[:40]
    return base64.b64decode(url[len(prefix):], validate=True)


@pytest.mark.parametrize("fmt", FORMATS)
def test_openai_gets_text_first_then_each_file_in_parameter_order(
        app_client: WebClient, fake_openai: FakeOpenAI, fmt: Format) -> None:
    reply = chat(app_client, param("USER_MESSAGE", "Check these."),
                 param("ATTACHMENT10", ref("notes.txt")), param("ATTACHMENT2", ref("costs.csv")),
                 param("ATTACHMENT1", ref("invoice.pdf", content_type="application/pdf")),
                 param("ATTACHMENT", ref("photo.png")), param("ATTACHMENT3", ref("terms.docx")),
                 param("IMAGE_DETAIL", "High"), param("MESSAGE_HISTORY", "[]", "INOUT"), fmt=fmt)
    assert reply.status == 200, reply.text
    text, image, pdf, csv, docx, notes = last_user(fake_openai)
    assert text == {"type": "text", "text": "Check these."}
    assert image["type"] == "image_url" and image["image_url"]["detail"] == "high"
    assert data_of(image["image_url"]["url"], "image/png") == PNG
    assert pdf["type"] == "file" and pdf["file"]["filename"] == "invoice.pdf"
    assert data_of(pdf["file"]["file_data"], "application/pdf") == INVOICE
    assert csv == {"type": "text", "text": "[file: costs.csv]\nitem;amount\nchairs;120\n"}
    assert docx == {"type": "text", "text": "[file: terms.docx]\nTerms of payment\nNet | 30 days"}
    assert notes == {"type": "text", "text": "[file: notes.txt]\nGrüße"}
    assert fake_openai.invalid == []  # every part matched OpenAI's schema
    history = json.loads(reply["MESSAGE_HISTORY"])
    assert history[0]["content"] == [
        {"type": "text", "text": "Check these."},
        {"type": "text", "text": f"[attachment: photo.png, image/png, {len(PNG)} bytes]"},
        {"type": "text", "text": f"[attachment: invoice.pdf, application/pdf, {len(INVOICE)} "
                                 "bytes]"},
        {"type": "text", "text": f"[attachment: costs.csv, text/csv, {len(CSV)} bytes]"},
        {"type": "text", "text": f"[attachment: terms.docx, application/vnd.openxmlformats-"
                                 f"officedocument.wordprocessingml.document, {len(DOCX)} bytes]"},
        {"type": "text", "text": "[attachment: notes.txt, text/plain, 12 bytes]"}]
    assert history[1]["role"] == "assistant"


def test_a_big_photo_travels_whole(app_client: WebClient, fake_openai: FakeOpenAI,
                                   storage: Path) -> None:
    photo = samples.noisy_jpeg((400, 300))  # ~200 KB: spliced into the body, not re-encoded
    (storage / "42" / "big.jpg").write_bytes(photo)
    reply = chat(app_client, param("USER_MESSAGE", "What is it?"),
                 param("ATTACHMENT", ref("big.jpg")))
    assert reply.status == 200, reply.text
    assert data_of(last_user(fake_openai)[1]["image_url"]["url"], "image/jpeg") == photo
    assert fake_openai.invalid == []


def test_without_user_message_the_files_are_a_user_message_of_their_own(
        app_client: WebClient, fake_openai: FakeOpenAI) -> None:
    reply = chat(app_client, param("SYSTEM_MESSAGE", "Describe the image."),
                 param("MESSAGE_JSON", '[{"role": "user", "content": "Hello"}]'),
                 param("ATTACHMENT", ref("photo.png")))
    assert reply.status == 200, reply.text
    messages = fake_openai.requests_for("chat")[-1].json["messages"]
    assert [m["role"] for m in messages] == ["user", "system", "user"]
    assert [p["type"] for p in messages[-1]["content"]] == ["image_url"]
    assert messages[-1]["content"][0]["image_url"]["detail"] == "auto"


def test_history_keeps_the_full_parts_on_request_and_sends_them_on_as_is(
        app_client: WebClient, fake_openai: FakeOpenAI) -> None:
    first = chat(app_client, param("USER_MESSAGE", "What is it?"),
                 param("ATTACHMENT", ref("photo.png")), param("ATTACHMENTS_IN_HISTORY", "Y"),
                 param("MESSAGE_HISTORY", None, "INOUT"))
    assert first.status == 200, first.text
    history = first["MESSAGE_HISTORY"]
    assert data_of(json.loads(history)[0]["content"][1]["image_url"]["url"], "image/png") == PNG
    second = chat(app_client, param("USER_MESSAGE", "And its colours?"),
                  param("MESSAGE_HISTORY", history, "INOUT"))
    assert second.status == 200, second.text
    messages = fake_openai.requests_for("chat")[-1].json["messages"]
    assert messages[:2] == json.loads(history)  # the earlier image part, byte for byte
    assert messages[2] == {"role": "user", "content": "And its colours?"}


@pytest.mark.parametrize("provider", ["azure", "compatible"])
def test_providers_without_pdf_input_get_its_text_and_images_as_parts(
        make_client: Callable[..., WebClient], fake_openai: FakeOpenAI, storage: Path,
        provider: str) -> None:
    client = make_client(WorkflowAppPathMap=rf"{STORAGE}={storage}",
                         WorkflowAppAllowedFolders=str(storage),
                         OpenAIChatApiUrl=fake_openai.azure_chat_url() if provider == "azure"
                         else fake_openai.chat_url)
    reply = chat(client, param("USER_MESSAGE", "Read."), param("PROVIDER", provider),
                 param("ATTACHMENT", ref("invoice.pdf")), param("ATTACHMENT1", ref("photo.png")),
                 param("MESSAGE_HISTORY", None, "INOUT"))
    assert reply.status == 200, reply.text
    _, pdf, image = last_user(fake_openai)
    assert pdf == {"type": "text", "text": "[file: invoice.pdf]\n[page 1]\nINVOICE INV-2026-0042"
                                           "\nAcme Corp\nTotal: 1,234.50 EUR\nDue date: 2026-12-31"}
    assert data_of(image["image_url"]["url"], "image/png") == PNG
    kept = json.loads(reply["MESSAGE_HISTORY"])[0]["content"]
    assert kept[1]["text"].startswith("[attachment: invoice.pdf, application/pdf")


REFUSALS = [
    ("program.exe", None, "invalid_parameter", "is not an image (PNG, JPEG, GIF, WebP), a PDF"),
    ("empty.txt", None, "invalid_parameter", "is empty"),
    ("missing.pdf", None, "file_not_found", "does not exist on this host"),
    ("..\\..\\etc\\passwd", None, "file_not_allowed", "contains '..'"),
    ("link.pdf", None, "file_not_allowed", "outside the folders this host may read"),
    ("big.txt", "5000", "file_too_large", "is 6000 bytes, over the limit of 5000 bytes per "
                                          "attachment (setting WorkflowAppMaxAttachmentBytes)"),
    ("scan.pdf", "azure", "invalid_parameter", "takes PDFs only as text: it has no text layer"),
]


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize(("name", "variant", "code", "fragment"), REFUSALS)
@pytest.mark.parametrize("ignore", [False, True])
def test_refusals_send_nothing_upstream(
        make_client: Callable[..., WebClient], fake_openai: FakeOpenAI, storage: Path,
        fmt: Format, name: str, variant: str | None, code: str, fragment: str,
        ignore: bool) -> None:
    settings = {"WorkflowAppPathMap": rf"{STORAGE}={storage}",
                "WorkflowAppAllowedFolders": str(storage)}
    provider = "openai"
    if variant == "azure":
        settings["OpenAIChatApiUrl"], provider = fake_openai.azure_chat_url(), "azure"
    elif variant:
        settings["WorkflowAppMaxAttachmentBytes"] = variant
    if name == "link.pdf":
        outside = storage.parent / "outside"
        outside.mkdir()
        (outside / "secret.pdf").write_bytes(INVOICE)
        (storage / "42" / "link.pdf").symlink_to(outside / "secret.pdf")
    reply = chat(make_client(**settings), param("USER_MESSAGE", "Read."),
                 param("PROVIDER", provider),
                 param("ATTACHMENT", ref("photo.png")), param("ATTACHMENT1", ref(name)),
                 param("APP_RESPONSE_IGNORE_ERROR", "Y" if ignore else "N"), fmt=fmt)
    if ignore:
        assert reply.status == 200, reply.text
        assert reply["APP_RESPONSE_STATUS"] == code
        message = reply["APP_RESPONSE_CONTENT"]
    else:
        assert reply.status == 400, reply.text
        message = reply.text
    assert fragment in message and "ATTACHMENT1" in message
    assert name.rsplit("\\", 1)[-1] in message
    assert fake_openai.requests == []


@pytest.mark.parametrize("ignore", [False, True])
def test_over_the_per_call_total(make_client: Callable[..., WebClient],
                                 fake_openai: FakeOpenAI, storage: Path, ignore: bool) -> None:
    for name in ("a.pdf", "b.pdf"):
        with open(storage / "42" / name, "wb") as handle:
            handle.truncate(17 * 1024 * 1024)  # sparse: never read, refused from its size
    client = make_client(WorkflowAppPathMap=rf"{STORAGE}={storage}",
                         WorkflowAppAllowedFolders=str(storage))
    reply = chat(client, param("USER_MESSAGE", "Read."), param("ATTACHMENT", ref("a.pdf")),
                 param("ATTACHMENT1", ref("b.pdf")),
                 param("APP_RESPONSE_IGNORE_ERROR", "Y" if ignore else "N"))
    if ignore:
        assert reply.status == 200 and reply["APP_RESPONSE_STATUS"] == "file_too_large"
        message = reply["APP_RESPONSE_CONTENT"]
    else:
        assert reply.status == 400
        message = reply.text
    assert "ATTACHMENT1" in message and "b.pdf" in message
    assert "all attachments of a call may hold together" in message
    assert fake_openai.requests == []


def test_image_detail_is_checked(app_client: WebClient, fake_openai: FakeOpenAI) -> None:
    reply = chat(app_client, param("USER_MESSAGE", "x"), param("ATTACHMENT", ref("photo.png")),
                 param("IMAGE_DETAIL", "ultra"))
    assert reply.status == 400 and "IMAGE_DETAIL must be one of auto, low, high" in reply.text
    assert fake_openai.requests == []


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("name", ["openai", "anthropic", "azure", "mistral", "gemini",
                                  "compatible"])
def test_invoice_example_end_to_end(request: pytest.FixtureRequest,
                                    make_client: Callable[..., WebClient], storage: Path,
                                    name: str, fmt: Format) -> None:
    """The README's worked example: an invoice PDF and a schema -> three OUT parameters."""
    client, fake = provider_client(request, make_client, storage, name)
    fields = {"invoice_number": "INV-2026-0042", "total": 1234.5, "due_date": "2026-12-31"}
    fake.push(areplies.structured_reply(fields) if name == "anthropic"
              else replies.chat_reply(json.dumps(fields)))
    reply = chat(client, param("PROVIDER", name),
                 param("SYSTEM_MESSAGE", "Extract the invoice fields."),
                 param("ATTACHMENT", ref("invoice.pdf", content_type="application/pdf")),
                 param("RESPONSE_FORMAT", "json_schema"),
                 param("RESPONSE_FORMAT_JSON_SCHEMA", json.dumps(INVOICE_SCHEMA)),
                 out("invoice_number"), out("total", "NUMERIC"), out("due_date", "DATETIME"),
                 fmt=fmt)
    assert reply.status == 200, reply.text
    assert reply["invoice_number"] == "INV-2026-0042"
    assert reply["total"] == 1234.5
    assert reply["due_date"].isoformat().startswith("2026-12-31")
    body = fake.requests[-1].json
    content = body["messages"][-1]["content"]
    if name == "anthropic":
        [pdf] = content
        assert body["output_config"]["format"]["type"] == "json_schema"
        assert pdf["type"] == "document" and pdf["title"] == "invoice.pdf"
    else:
        assert body["response_format"]["json_schema"]["name"] == "invoice"
        if name == "compatible":  # text-only parts go to compatible servers as one string
            assert content.startswith(PDF_TEXT)
        else:
            [pdf] = content
            expected = {"type": "file", "file": pdf.get("file")} if name == "openai" \
                else {"type": "text", "text": PDF_TEXT}
            assert pdf == expected
    assert fake.invalid == []


def test_attachments_with_tools(app_client: WebClient, fake_openai: FakeOpenAI) -> None:
    fake_openai.push(replies.chat_reply(tool_calls=[("LOOKUP_SUPPLIER", {"name": "Acme Corp"})]))
    tools = [{"name": "LOOKUP_SUPPLIER", "description": "Find a supplier by name.",
              "parameters": {"type": "object", "properties": {"name": {"type": "string"}},
                             "required": ["name"]}}]
    reply = chat(app_client, param("USER_MESSAGE", "Who sent this invoice?"),
                 param("ATTACHMENT", ref("invoice.pdf")), param("TOOLS", json.dumps(tools)),
                 out("SELECTED_TOOLS"), param("MESSAGE_HISTORY", None, "INOUT"))
    assert reply.status == 200, reply.text
    assert reply["SELECTED_TOOLS"] == "LOOKUP_SUPPLIER"
    assert fake_openai.requests_for("chat")[-1].json["tools"][0]["function"]["name"] \
        == "LOOKUP_SUPPLIER"
    assert [p["type"] for p in last_user(fake_openai)] == ["text", "file"]
    history = json.loads(reply["MESSAGE_HISTORY"])
    assert history[0]["content"][1]["text"].startswith("[attachment: invoice.pdf")
    assert history[1]["tool_calls"][0]["function"]["name"] == "LOOKUP_SUPPLIER"


def test_logs_hold_no_file_content(make_client: Callable[..., WebClient],
                                   fake_openai: FakeOpenAI, storage: Path,
                                   tmp_path: Path) -> None:
    client = make_client(WorkflowAppPathMap=rf"{STORAGE}={storage}",
                         WorkflowAppAllowedFolders=str(storage), OpenAIChatLogLevel="3",
                         WorkflowAppLogLevel="3", OpenAIChatApiUrl=fake_openai.azure_chat_url())
    reply = chat(client, param("USER_MESSAGE", "Read."), param("PROVIDER", "azure"),
                 param("ATTACHMENT", ref("photo.png")), param("ATTACHMENT1", ref("invoice.pdf")),
                 param("ATTACHMENT2", ref("costs.csv")),
                 param("ATTACHMENTS_IN_HISTORY", "Y"), param("MESSAGE_HISTORY", None, "INOUT"))
    assert reply.status == 200, reply.text
    logged = "".join(p.read_text() for p in (tmp_path / "logs").glob("*.log"))
    assert "request body" in logged and "reply context" in logged  # level 3 was on
    image = base64.b64encode(PNG).decode()
    for content in (image[:60], image[-60:], "INV-2026-0042", "chairs;120"):
        assert content not in logged
    assert "[attachment: invoice.pdf, application/pdf" in logged
    assert "[base64: " in logged and "photo.png, image/png" in logged


@pytest.mark.parametrize("fmt", FORMATS)
def test_file_texts_an_earlier_call_kept_in_the_history_stay_out_of_the_logs(
        make_client: Callable[..., WebClient], fake_openai: FakeOpenAI, storage: Path,
        tmp_path: Path, fmt: Format) -> None:
    """With ATTACHMENTS_IN_HISTORY=Y the files' texts travel on in MESSAGE_HISTORY: the next
    OPENAICHAT and OPENAIADDMESSAGE calls log them by name, not their content."""
    client = make_client(WorkflowAppPathMap=rf"{STORAGE}={storage}",
                         WorkflowAppAllowedFolders=str(storage), OpenAIChatLogLevel="3",
                         OpenAIAddMessageLogLevel="3", WorkflowAppLogLevel="3",
                         OpenAIChatApiUrl=fake_openai.azure_chat_url())
    first = chat(client, param("USER_MESSAGE", "Read."), param("PROVIDER", "azure"),
                 param("ATTACHMENT", ref("invoice.pdf")), param("ATTACHMENT1", ref("terms.docx")),
                 param("ATTACHMENTS_IN_HISTORY", "Y"), param("MESSAGE_HISTORY", None, "INOUT"),
                 fmt=fmt)
    assert first.status == 200, first.text
    history = first["MESSAGE_HISTORY"]
    assert "INV-2026-0042" in history and "30 days" in history  # the texts are in it
    for log in (tmp_path / "logs").glob("*.log"):
        log.write_text("")  # what follows is the later calls' logging alone
    added = post(client, "OPENAIADDMESSAGE", param("ROLE", "user"), param("CONTENT", "More?"),
                 param("MESSAGE_HISTORY", history, "INOUT"), fmt=fmt)
    assert added.status == 200, added.text
    second = chat(client, param("USER_MESSAGE", "And the terms?"), param("PROVIDER", "azure"),
                  param("MESSAGE_HISTORY", added["MESSAGE_HISTORY"], "INOUT"), fmt=fmt)
    assert second.status == 200, second.text
    assert "INV-2026-0042" in json.dumps(fake_openai.requests_for("chat")[-1].json)  # sent on
    logged = "".join(p.read_text() for p in (tmp_path / "logs").glob("*.log"))
    assert "request body" in logged and "reply context" in logged  # level 3 was on
    for content in ("INV-2026-0042", "Acme Corp", "Terms of payment", "30 days"):
        assert content not in logged
    assert "[file text: invoice.pdf, " in logged and "[file text: terms.docx, " in logged


# --- every provider adapter ---------------------------------------------------------------


def provider_client(request: pytest.FixtureRequest, make_client: Callable[..., WebClient],
                    storage: Path, name: str) -> tuple[WebClient, Any]:
    """A client whose PROVIDER ``name`` points at that provider's fake, and the fake."""
    files = {"WorkflowAppPathMap": rf"{STORAGE}={storage}",
             "WorkflowAppAllowedFolders": str(storage)}
    if name == "anthropic":
        fake = request.getfixturevalue("fake_anthropic")
        return make_client(**files, AnthropicApiKey=SECRET_KEY,
                           AnthropicChatApiUrl=fake.messages_url), fake
    if name in ("mistral", "gemini"):
        fake = request.getfixturevalue(f"fake_{name}")
        return make_client(**files, **{f"{name.capitalize()}ApiKey": SECRET_KEY,
                                       f"{name.capitalize()}ChatApiUrl": fake.chat_url}), fake
    fake = request.getfixturevalue("fake_openai")
    url = fake.azure_chat_url() if name == "azure" else fake.chat_url
    return make_client(**files, OpenAIChatApiUrl=url), fake


PDF_TEXT = ("[file: invoice.pdf]\n[page 1]\nINVOICE INV-2026-0042\nAcme Corp\n"
            "Total: 1,234.50 EUR\nDue date: 2026-12-31")
CSV_TEXT = "[file: costs.csv]\nitem;amount\nchairs;120\n"


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("name", ["openai", "anthropic", "mistral", "gemini", "azure",
                                  "compatible"])
def test_each_provider_receives_its_own_parts(
        request: pytest.FixtureRequest, make_client: Callable[..., WebClient], storage: Path,
        name: str, fmt: Format) -> None:
    client, fake = provider_client(request, make_client, storage, name)
    reply = chat(client, param("PROVIDER", name), param("USER_MESSAGE", "Read these."),
                 param("ATTACHMENT", ref("photo.png")), param("ATTACHMENT1", ref("invoice.pdf")),
                 param("ATTACHMENT2", ref("costs.csv")), param("IMAGE_DETAIL", "low"),
                 param("MESSAGE_HISTORY", None, "INOUT"), fmt=fmt)
    assert reply.status == 200, reply.text
    assert fake.invalid == []  # the fakes check parts against OpenAI's schema / the SDK types
    [message] = fake.requests[-1].json["messages"][-1:]
    assert message["role"] == "user"
    text, image, pdf, csv = message["content"]
    assert text == {"type": "text", "text": "Read these."}
    assert csv == {"type": "text", "text": CSV_TEXT}
    if name == "anthropic":
        assert image == {"type": "image", "source": {
            "type": "base64", "media_type": "image/png",
            "data": base64.b64encode(PNG).decode()}}
        assert pdf == {"type": "document", "title": "invoice.pdf", "source": {
            "type": "base64", "media_type": "application/pdf",
            "data": base64.b64encode(INVOICE).decode()}}
    else:
        assert image == {"type": "image_url", "image_url": {
            "url": "data:image/png;base64," + base64.b64encode(PNG).decode(), "detail": "low"}}
        if name == "openai":
            assert pdf == {"type": "file", "file": {
                "filename": "invoice.pdf",
                "file_data": "data:application/pdf;base64," + base64.b64encode(INVOICE).decode()}}
        else:
            assert pdf == {"type": "text", "text": PDF_TEXT}
    history = json.loads(reply["MESSAGE_HISTORY"])
    assert history[0] == {"role": "user", "content": [
        {"type": "text", "text": "Read these."},
        {"type": "text", "text": f"[attachment: photo.png, image/png, {len(PNG)} bytes]"},
        {"type": "text", "text": f"[attachment: invoice.pdf, application/pdf, {len(INVOICE)} "
                                 "bytes]"},
        {"type": "text", "text": f"[attachment: costs.csv, text/csv, {len(CSV)} bytes]"}]}
    assert history[1]["role"] == "assistant" and len(history) == 2


def test_anthropic_gets_big_photos_downscaled(
        request: pytest.FixtureRequest, make_client: Callable[..., WebClient],
        storage: Path) -> None:
    (storage / "42" / "wide.jpg").write_bytes(samples.image("JPEG", (3000, 1500)))
    client, fake = provider_client(request, make_client, storage, "anthropic")
    reply = chat(client, param("PROVIDER", "anthropic"), param("USER_MESSAGE", "What is it?"),
                 param("ATTACHMENT", ref("wide.jpg")))
    assert reply.status == 200, reply.text
    image = fake.requests[-1].json["messages"][-1]["content"][1]
    assert image["source"]["media_type"] == "image/jpeg"
    with Image.open(io.BytesIO(base64.b64decode(image["source"]["data"]))) as sent:
        assert sent.size == (1500, 750)  # decoded at half scale, 4 % under 1568: sent as is


def test_a_history_with_parts_from_an_earlier_call_goes_on_to_anthropic(
        request: pytest.FixtureRequest, make_client: Callable[..., WebClient],
        storage: Path) -> None:
    client, fake = provider_client(request, make_client, storage, "anthropic")
    earlier = [{"role": "user", "content": [
        {"type": "text", "text": "Keep this."},
        {"type": "image_url", "image_url": {
            "url": "data:image/png;base64," + base64.b64encode(PNG).decode()}}]},
        {"role": "assistant", "content": "Kept."}]
    reply = chat(client, param("PROVIDER", "anthropic"), param("USER_MESSAGE", "Still there?"),
                 param("MESSAGE_HISTORY", json.dumps(earlier), "INOUT"))
    assert reply.status == 200, reply.text
    first = fake.requests[-1].json["messages"][0]["content"]
    assert first[1]["source"]["data"] == base64.b64encode(PNG).decode()
    assert json.loads(reply["MESSAGE_HISTORY"])[:2] == earlier

"""OPENAITRANSCRIPTION end to end: a file WorkflowGen names -> Flask app -> fake OpenAI -> reply."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from werkzeug.test import Client as WebClient

from tests.fakes import replies
from tests.fakes.server import FakeOpenAI
from tests.helpers import FORMATS, SECRET_KEY, Reply, out, param, post
from workflowapp.context.model import FileRef, Format

AUDIO = b"RIFF\x24\x00\x00\x00WAVEfmt fake audio bytes"
WINDOWS_PATH = r"C:\wfgen\storage\1\a.wav"
OUTS = (out("TEXT"), out("RESULT"), out("RESULT_LANGUAGE"), out("RESULT_DURATION", "NUMERIC"),
        out("RESULT_WORDS"), out("RESULT_SEGMENTS"), out("APP_RESPONSE_STATUS"),
        out("APP_RESPONSE_CONTENT"), out("RESULT_RETRIES", "NUMERIC"))


@pytest.fixture
def storage(tmp_path: Path) -> Path:
    """WorkflowGen's storage folder as this host sees it, holding 1/a.wav."""
    root = tmp_path / "storage"
    (root / "1").mkdir(parents=True)
    (root / "1" / "a.wav").write_bytes(AUDIO)
    return root


@pytest.fixture
def app_client(make_client: Callable[..., WebClient], storage: Path) -> WebClient:
    return make_client(WorkflowAppPathMap=rf"C:\wfgen\storage={storage}",
                       WorkflowAppAllowedFolders=str(storage))


def transcribe(client: WebClient, file: FileRef | None, *params: Any,
               fmt: Format = Format.DATASET) -> Reply:
    given = [param("FILE", file)] if file is not None else []
    return post(client, "OPENAITRANSCRIPTION", *given, *params, *OUTS, fmt=fmt)


@pytest.mark.parametrize("fmt", FORMATS)
def test_windows_path_is_mapped_and_uploaded(app_client: WebClient, fake_openai: FakeOpenAI,
                                             fmt: Format) -> None:
    fake_openai.push(replies.transcription_reply("Bonjour tout le monde."))
    ref = FileRef(path=WINDOWS_PATH, name="a.wav", content_type="audio/wav", size=len(AUDIO))
    reply = transcribe(app_client, ref, param("API_KEY", SECRET_KEY), fmt=fmt)
    assert reply.status == 200, reply.text
    assert reply["TEXT"] == "Bonjour tout le monde."
    assert json.loads(reply["RESULT"])["text"] == "Bonjour tout le monde."
    assert reply["APP_RESPONSE_STATUS"] == "200"
    assert reply["RESULT_LANGUAGE"] is None and reply["RESULT_SEGMENTS"] is None
    assert reply["API_KEY"] is None and SECRET_KEY not in reply.text
    request = fake_openai.requests_for("transcriptions")[-1]
    assert request.file is not None
    assert (request.file.filename, request.file.content_type, request.file.data) == (
        "a.wav", "audio/wav", AUDIO)
    assert request.form_items == [("model", "whisper-1"), ("response_format", "json")]
    fake_openai.assert_secret_only_in_auth(SECRET_KEY)


@pytest.mark.parametrize("fmt", FORMATS)
def test_verbose_output_and_options(app_client: WebClient, fake_openai: FakeOpenAI,
                                    fmt: Format) -> None:
    fake_openai.push(replies.transcription_reply("Salut.", language="french", duration=2.5))
    reply = transcribe(app_client, FileRef(path=WINDOWS_PATH), param("VERBOSE_OUTPUT", "Y"),
                       param("LANGUAGE", "fr"), param("PROMPT", "Réunion d'équipe"),
                       param("TEMPERATURE", 0.2), fmt=fmt)
    assert reply.status == 200, reply.text
    assert reply["RESULT_LANGUAGE"] == "french"
    assert reply["RESULT_DURATION"] == 2.5
    segments = json.loads(reply["RESULT_SEGMENTS"])
    assert segments[0]["text"] == "Salut."
    assert reply["RESULT_WORDS"] is None
    form = fake_openai.last_request.form
    assert form["response_format"] == "verbose_json"
    assert (form["language"], form["prompt"], form["temperature"]) == (
        "fr", "Réunion d'équipe", 0.2)
    assert "timestamp_granularities" not in form


@pytest.mark.parametrize("fmt", FORMATS)
def test_words_output_implies_verbose(app_client: WebClient, fake_openai: FakeOpenAI,
                                      fmt: Format) -> None:
    fake_openai.push(replies.transcription_reply(
        "one two three", words=[("one", 0.0, 0.4), ("two", 0.4, 0.8), (" three", 0.8, 1.2)]))
    reply = transcribe(app_client, FileRef(path=WINDOWS_PATH), param("WORDS_OUTPUT", "Y"),
                       param("RESULT_WORDS_SEPARATOR", "|"), fmt=fmt)
    assert reply.status == 200, reply.text
    assert reply["RESULT_WORDS"] == "one|two|three"
    assert reply["RESULT_SEGMENTS"] is not None
    form = fake_openai.last_request.form
    assert form["response_format"] == "verbose_json"
    assert form["timestamp_granularities"] == ["word", "segment"]


def test_default_word_separator(app_client: WebClient, fake_openai: FakeOpenAI) -> None:
    fake_openai.push(replies.transcription_reply("a b"))
    reply = transcribe(app_client, FileRef(path=WINDOWS_PATH), param("WORDS_OUTPUT", "Y"))
    assert reply["RESULT_WORDS"] == "a,b"


def test_json_only_model_without_verbose(app_client: WebClient,
                                         fake_openai: FakeOpenAI) -> None:
    reply = transcribe(app_client, FileRef(path=WINDOWS_PATH),
                       param("MODEL", "gpt-4o-mini-transcribe"))
    assert reply.status == 200, reply.text
    assert fake_openai.last_request.form["model"] == "gpt-4o-mini-transcribe"


@pytest.mark.parametrize(("model", "switch"), [
    ("gpt-4o-transcribe", "VERBOSE_OUTPUT"),
    ("gpt-4o-mini-transcribe-2025-12-15", "WORDS_OUTPUT"),
    ("gpt-transcribe", "VERBOSE_OUTPUT"),
])
def test_json_only_models_refuse_verbose(app_client: WebClient, fake_openai: FakeOpenAI,
                                         model: str, switch: str) -> None:
    reply = transcribe(app_client, FileRef(path=WINDOWS_PATH), param("MODEL", model),
                       param(switch, "Y"))
    assert reply.status == 400
    assert f"{switch} is Y but model {model} only answers plain json" in reply.text
    assert fake_openai.requests == []


@pytest.mark.parametrize("fmt", FORMATS)
def test_unc_path_and_guessed_content_type(make_client: Callable[..., WebClient],
                                           fake_openai: FakeOpenAI, tmp_path: Path,
                                           fmt: Format) -> None:
    share = tmp_path / "share"
    (share / "audio").mkdir(parents=True)
    (share / "audio" / "call.mp3").write_bytes(b"ID3 fake mp3")
    client = make_client(WorkflowAppPathMap=rf"\\fs01\wfgen={share}",
                         WorkflowAppAllowedFolders=str(share))
    reply = transcribe(client, FileRef(path=r"\\FS01\wfgen\audio\call.mp3"), fmt=fmt)
    assert reply.status == 200, reply.text
    upload = fake_openai.last_request.file
    assert upload is not None
    assert (upload.filename, upload.content_type, upload.data) == (
        "call.mp3", "audio/mpeg", b"ID3 fake mp3")


def test_local_path_without_mapping(make_client: Callable[..., WebClient],
                                    fake_openai: FakeOpenAI, storage: Path) -> None:
    client = make_client(WorkflowAppAllowedFolders=str(storage))
    reply = transcribe(client, FileRef(path=str(storage / "1" / "a.wav")))
    assert reply.status == 200, reply.text


def escape_link(storage: Path) -> str:
    outside = storage.parent / "outside"
    outside.mkdir()
    (outside / "secret.wav").write_bytes(b"secret")
    os.symlink(outside / "secret.wav", storage / "1" / "link.wav")
    return r"C:\wfgen\storage\1\link.wav"


FILE_ERRORS = [
    (r"C:\wfgen\storage\..\outside\secret.wav", 400, "file_not_allowed", "contains '..'"),
    ("symlink", 400, "file_not_allowed", "outside the folders this host may read"),
    (r"C:\wfgen\storage\1\missing.wav", 400, "file_not_found", "does not exist on this host"),
    (r"D:\elsewhere\a.wav", 400, "file_not_found", "WorkflowAppPathMap"),
    ("large", 400, "file_too_large", "over the limit of 16 bytes"),
]


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize(("path", "status", "code", "fragment"), FILE_ERRORS)
@pytest.mark.parametrize("ignore", [False, True])
def test_file_refusals_before_any_upload(
    make_client: Callable[..., WebClient], fake_openai: FakeOpenAI, storage: Path,
    fmt: Format, path: str, status: int, code: str, fragment: str, ignore: bool,
) -> None:
    limit = "16" if path == "large" else "26214400"
    client = make_client(WorkflowAppPathMap=rf"C:\wfgen\storage={storage}",
                         WorkflowAppAllowedFolders=str(storage), WorkflowAppMaxFileBytes=limit)
    if path == "symlink":
        path = escape_link(storage)
    elif path == "large":
        path = WINDOWS_PATH
    reply = transcribe(client, FileRef(path=path), param("API_KEY", SECRET_KEY),
                       param("APP_RESPONSE_IGNORE_ERROR", "Y" if ignore else "N"), fmt=fmt)
    if ignore:
        assert reply.status == 200
        assert reply["APP_RESPONSE_STATUS"] == code
        assert fragment in reply["APP_RESPONSE_CONTENT"]
        assert "Parameter FILE" in reply["APP_RESPONSE_CONTENT"]
    else:
        assert reply.status == status
        assert fragment in reply.text and "FILE" in reply.text
    assert SECRET_KEY not in reply.text
    assert fake_openai.requests == []


def test_no_allowed_folder_reads_nothing(make_client: Callable[..., WebClient],
                                         fake_openai: FakeOpenAI, storage: Path) -> None:
    client = make_client(WorkflowAppPathMap=rf"C:\wfgen\storage={storage}")
    reply = transcribe(client, FileRef(path=WINDOWS_PATH))
    assert reply.status == 500
    assert "WorkflowAppAllowedFolders" in reply.text
    ignored = transcribe(client, FileRef(path=WINDOWS_PATH),
                         param("APP_RESPONSE_IGNORE_ERROR", "Y"))
    assert ignored["APP_RESPONSE_STATUS"] == "missing_setting"
    assert fake_openai.requests == []


@pytest.mark.parametrize("fmt", FORMATS)
def test_input_errors(app_client: WebClient, fake_openai: FakeOpenAI, fmt: Format) -> None:
    missing = transcribe(app_client, None, fmt=fmt)
    assert missing.status == 400 and "Parameter FILE is required" in missing.text
    hot = transcribe(app_client, FileRef(path=WINDOWS_PATH), param("TEMPERATURE", 1.5), fmt=fmt)
    assert hot.status == 400 and "TEMPERATURE must be between 0 and 1" in hot.text
    flag = transcribe(app_client, FileRef(path=WINDOWS_PATH), param("VERBOSE_OUTPUT", "maybe"),
                      fmt=fmt)
    assert flag.status == 400 and "VERBOSE_OUTPUT must be Y or N" in flag.text
    assert fake_openai.requests == []


def test_upstream_error_is_502_with_its_body(app_client: WebClient,
                                             fake_openai: FakeOpenAI) -> None:
    error = replies.openai_error(400, "Audio file might be corrupted or unsupported",
                                 param="file", code="invalid_value")
    fake_openai.push(error, error)
    failed = transcribe(app_client, FileRef(path=WINDOWS_PATH))
    assert failed.status == 502 and "400" in failed.text
    ignored = transcribe(app_client, FileRef(path=WINDOWS_PATH),
                         param("APP_RESPONSE_IGNORE_ERROR", "Y"))
    assert ignored["APP_RESPONSE_STATUS"] == "400"
    assert "corrupted" in ignored["APP_RESPONSE_CONTENT"]
    assert ignored["TEXT"] is None


def test_timeout_is_504(app_client: WebClient, fake_openai: FakeOpenAI) -> None:
    fake_openai.push(replies.delay_reply(3.0))
    reply = transcribe(app_client, FileRef(path=WINDOWS_PATH), param("TIMEOUT", 1),
                       param("MAX_RETRIES", 0))
    assert reply.status == 504


def test_answer_without_text_is_502(app_client: WebClient, fake_openai: FakeOpenAI) -> None:
    fake_openai.push(replies.json_reply({"language": "en"}))
    reply = transcribe(app_client, FileRef(path=WINDOWS_PATH))
    assert reply.status == 502 and "no text" in reply.text


def test_azure_deployment_url(app_client: WebClient, fake_openai: FakeOpenAI) -> None:
    url = fake_openai.azure_transcriptions_url()
    reply = transcribe(app_client, FileRef(path=WINDOWS_PATH), param("URL", url),
                       param("PROVIDER", "azure"))
    assert reply.status == 200, reply.text
    request = fake_openai.last_request
    assert (request.flavor, request.auth) == ("azure", "api-key")


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("ignore", [False, True])
def test_501_is_never_retried(app_client: WebClient, fake_openai: FakeOpenAI,
                              sleeps: list[float], fmt: Format, ignore: bool) -> None:
    # llama.cpp's llama-server answers 501 on /audio/transcriptions without an audio model.
    fake_openai.push(replies.error_reply(501, replies.error_body(
        "This server does not support audio transcription.", "not_supported_error")),
        endpoint="transcriptions")
    reply = transcribe(app_client, FileRef(path=WINDOWS_PATH), param("MAX_RETRIES", 3),
                       param("APP_RESPONSE_IGNORE_ERROR", "Y" if ignore else "N"), fmt=fmt)
    assert len(fake_openai.requests_for("transcriptions")) == 1 and sleeps == []
    if ignore:
        assert reply.status == 200
        assert reply["APP_RESPONSE_STATUS"] == "501"
        assert reply["RESULT_RETRIES"] == 0
        assert "does not support audio" in reply["APP_RESPONSE_CONTENT"]
        assert reply["TEXT"] is None
    else:
        assert reply.status == 502
        assert "501" in reply.text and "retries" not in reply.text

"""Logs: levels per application, daily files, redaction."""

from __future__ import annotations

import io
import logging
from pathlib import Path

from workflowapp import logs
from workflowapp.errors import REDACTED
from workflowapp.settings import Settings


def test_levels_map_workflowgen_values() -> None:
    settings = Settings({"A": "0", "B": "1", "C": "2", "D": "3", "E": "junk", "F": "9"})
    assert logs.level_of(settings, "A") > logging.CRITICAL
    assert logs.level_of(settings, "B") == logging.ERROR
    assert logs.level_of(settings, "C") == logging.INFO
    assert logs.level_of(settings, "D") == logging.DEBUG
    assert logs.level_of(settings, "E") > logging.CRITICAL
    assert logs.level_of(settings, "F") == logging.DEBUG
    assert logs.level_of(settings, "missing") > logging.CRITICAL


def test_redact_removes_secrets_and_credential_shapes() -> None:
    text = (
        'Authorization: Bearer abc.def-123 {"api-key": "azkey123456"} sk-proj-ABCDEFGH1234 '
        "password=hunter22 my-own-secret"
    )
    cleaned = logs.redact(text, ["my-own-secret"])
    for secret in ("abc.def-123", "azkey123456", "sk-proj-ABCDEFGH1234", "hunter22",
                   "my-own-secret"):
        assert secret not in cleaned
    assert cleaned.count(REDACTED) >= 5


def test_handlers_write_stderr_and_a_daily_file(tmp_path: Path) -> None:
    stream = io.StringIO()
    settings = Settings({"WorkflowAppLogPath": str(tmp_path), "OpenAIApiKey": "sk-configured-999",
                         "OpenAIChatLogLevel": "2"})
    logs.configure(settings, stream=stream, app_levels={"OPENAICHAT": "OpenAIChatLogLevel"})
    log = logs.app_logger("OPENAICHAT")
    with logs.call_secrets("per-call-key-777"):
        log.info("using %s and %s", "sk-configured-999", "per-call-key-777")
    log.debug("not at level 2")
    files = list(tmp_path.glob("workflowapp-*.log"))
    assert len(files) == 1
    for text in (stream.getvalue(), files[0].read_text()):
        assert "using [REDACTED] and [REDACTED]" in text
        assert "not at level 2" not in text


def test_exception_text_is_redacted(tmp_path: Path) -> None:
    stream = io.StringIO()
    settings = Settings({"WorkflowAppLogPath": str(tmp_path), "OpenAIApiKey": "sk-in-trace-42",
                         "EchoLogLevel": "1"})
    logs.configure(settings, stream=stream, to_file=False, app_levels={"ECHO": "EchoLogLevel"})
    log = logs.app_logger("ECHO")
    try:
        raise RuntimeError("failed with sk-in-trace-42")
    except RuntimeError:
        log.exception("boom")
    assert "sk-in-trace-42" not in stream.getvalue()
    assert "RuntimeError" in stream.getvalue()


def test_base64_runs_are_logged_by_their_length_only() -> None:
    run = "iVBORw0KGgo" + "A" * 300 + "=="
    assert logs.redact(f'{{"url": "data:image/png;base64,{run}"}}') \
        == '{"url": "data:image/png;base64,[base64: 313 characters]"}'
    short = "sha256 " + "ab" * 32  # a hash, a key or an id stays readable
    assert logs.redact(short) == short


def test_concealed_texts_are_forgotten_when_the_call_ends() -> None:
    with logs.call_secrets():
        logs.conceal("[attachment: a.txt]", "the file's words", "the file\\u2019s words")
        assert logs.redact("x the file's words y") == "x [attachment: a.txt] y"
    assert logs.redact("x the file's words y") == "x the file's words y"

"""Logs: levels per application, daily files, redaction."""

from __future__ import annotations

import io
import logging
import re
import unicodedata
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from werkzeug.test import Client as WebClient

from tests.helpers import FORMATS, out, param, post
from workflowapp import logs
from workflowapp.context.model import Format
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


# --- log forging: one record, one line, no control characters ------------------------------

RECORD_START = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} [A-Z]+ workflowapp")


def _configured(tmp_path: Path, **values: str) -> io.StringIO:
    stream = io.StringIO()
    settings = Settings({"WorkflowAppLogPath": str(tmp_path), "EchoLogLevel": "3", **values})
    logs.configure(settings, stream=stream, app_levels={"ECHO": "EchoLogLevel"})
    return stream


def _lines(stream: io.StringIO, folder: Path) -> list[str]:
    files = "".join(p.read_text(encoding="utf-8") for p in folder.glob("*.log"))
    return (stream.getvalue() + files).splitlines(keepends=True)


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text(alphabet=st.characters(codec="utf-8") | st.characters(min_codepoint=0xD800,
                                                                     max_codepoint=0xDFFF),
               max_size=60).map(
    lambda t: t + "\n2026-01-01 00:00:00,000 ERROR workflowapp.host [1] forged\r\x1b[2J\x00"))
def test_no_logged_value_starts_a_line_or_writes_control_characters(
    tmp_path: Path, value: str
) -> None:
    folder = tmp_path / f"logs-{abs(hash(value))}"
    stream = _configured(folder)
    log = logs.app_logger("ECHO")
    for level in (logging.DEBUG, logging.INFO, logging.ERROR):
        log.log(level, "value %s", value)
    try:
        raise ValueError(value)
    except ValueError:
        log.exception("failed on %r", value)
    lines = _lines(stream, folder)
    for line in lines:
        body = line.removesuffix("\n")
        assert not any(unicodedata.category(c) in ("Cc", "Cs") or c in "\u2028\u2029\x85"
                       for c in body)  # Cs: half a surrogate pair, which UTF-8 cannot write
        assert RECORD_START.match(body) or body.startswith(("  | ", "Traceback")), body
    records = [line for line in lines if RECORD_START.match(line)]
    assert len(records) == 2 * 4  # stderr and file, four records each


def test_tool_call_id_cannot_forge_a_line(
    make_client: Callable[..., WebClient], tmp_path: Path
) -> None:
    """The probe's example: OPENAIADDMESSAGE at level 1 with a newline in TOOL_CALL_ID."""
    client = make_client(OpenAIAddMessageLogLevel="1", WorkflowAppLogLevel="1")
    forged = "x\n2026-12-01 10:00:00,000 ERROR workflowapp.host [1] forged\x1b[31m"
    reply = post(client, "OPENAIADDMESSAGE", param("ROLE", "tool"),
                 param("TOOL_CALL_ID", forged), param("CONTENT", "c"), out("MESSAGE_HISTORY"),
                 fmt=Format.JSON)
    assert reply.status == 400
    text = "".join(p.read_text() for p in (tmp_path / "logs").glob("*.log"))
    assert "\\n2026-12-01 10:00:00,000 ERROR workflowapp.host [1] forged\\x1b[31m" in text
    assert all(RECORD_START.match(line) for line in text.splitlines())
    assert "\x1b" not in text


# --- WorkflowAppLogMaxBytes ----------------------------------------------------------------


@pytest.mark.parametrize("value", ["é" * 100_000, "\n" * 100_000, "\x1b" * 3000])
def test_long_messages_are_cut_with_a_note(tmp_path: Path, value: str) -> None:
    """Cut to the limit as written: control characters, escaped, take no more room."""
    stream = _configured(tmp_path, WorkflowAppLogMaxBytes="4096")
    logs.app_logger("ECHO").debug("dump: %s", value)
    line = stream.getvalue()
    assert len(line.encode()) < 4096 + 200
    assert "more characters not logged: WorkflowAppLogMaxBytes]" in line


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_context_of_many_parameters_is_logged_up_to_the_limit_and_counted(
        make_client: Callable[..., WebClient], tmp_path: Path, fmt: Format) -> None:
    """Level 3 renders the parameters that fit WorkflowAppLogMaxBytes, not all 5,000 (a 25 MB
    context of small parameters took seconds of the event loop and 12x its size)."""
    client = make_client(EchoLogLevel="3", WorkflowAppLogMaxBytes="4096")
    params = [param(f"P{i}", f"value {i} é") for i in range(5000)]
    assert post(client, "ECHO", *params, fmt=fmt).status == 200
    text = "".join(p.read_text() for p in (tmp_path / "logs").glob("*.log"))
    [request] = [line for line in text.splitlines() if "request context:" in line]
    assert len(request.encode()) < 4096 + 300
    assert "P0" in request and "P4999" not in request
    left = re.search(r"request context: \[(\d+) of 5000 parameters not logged: "
                     r"WorkflowAppLogMaxBytes\] ", request)
    assert left and 4800 < int(left.group(1)) < 5000, request[:200]


@given(st.integers(0, 40), st.sampled_from(["sk-proj-ABCDEFGH12345678", "AIzaSyD-secret_value_99",
                                             "pass word;with:odd=chars"]))
def test_a_secret_cut_by_the_limit_leaves_no_part_of_itself(offset: int, secret: str) -> None:
    text = "x" * (200 - offset) + " " + secret + " tail"
    clipped = logs.redact(logs.clip(text, 200, [secret]), [secret])
    assert all(secret[:size] not in clipped.replace("x" * 10, "") for size in range(4, len(secret)))
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


@given(st.integers(0, 300))
def test_a_concealed_text_cut_by_the_limit_leaves_no_part_of_itself(offset: int) -> None:
    """An attachment's text registered with conceal() and cut by the limit: no piece stays."""
    concealed = "Confidential invoice line " * 40
    with logs.call_secrets():
        logs.conceal("[attachment text]", concealed)
        text = "x " * (500 - offset) + concealed + " end"
        clipped = logs.redact(logs.clip(text, 1000), ())
    assert "Confidential" not in clipped and "invoice" not in clipped

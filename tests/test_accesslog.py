"""The access log: one line per call, with figures and never content or secrets."""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from werkzeug.test import Client as WebClient

from tests.fakes.openai_fake import FakeOpenAI, error_reply
from tests.helpers import SECRET_KEY, out, param, post
from workflowapp.accesslog import AccessLog, format_line, open_access_log
from workflowapp.errors import ConfigurationError
from workflowapp.events import CallEnded

LINE = re.compile(
    r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z client=\S+ app=\S+ status=\d{3} code=\S+ "
    r"duration_ms=\d+\.\d upstream=(-|\d{3}) retries=\d+ tokens=\S+$"
)


def test_one_line_per_call_with_its_figures(tmp_path: Path,
                                            make_client: Callable[..., WebClient]) -> None:
    path = tmp_path / "access.log"
    client = make_client(WorkflowAppAccessLog=str(path))
    post(client, "ECHO", param("A", "x"), out("A_OUT"))
    post(client, "OPENAICHAT", param("MODEL", "m"), param("USER_MESSAGE", "hi"),
         param("API_KEY", SECRET_KEY))
    post(client, "OPENAIMODERATION", param("MODEL", "m"))
    lines = path.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 3 and all(LINE.match(line) for line in lines), lines
    assert "client=127.0.0.1 app=ECHO status=200 code=ok" in lines[0]
    assert "app=OPENAICHAT status=200 code=ok" in lines[1] and "upstream=200" in lines[1]
    assert "app=OPENAIMODERATION status=400 code=missing_parameter" in lines[2]
    assert "upstream=-" in lines[2]


@pytest.mark.parametrize(("body", "content_type"), [
    (b'{"MODEL": "gpt-4o", "USER_MESSAGE": "hi"}', "application/json"),  # a flat object
    (b"<NewDataSet><Table1><MODEL>", "application/xml"),  # malformed XML
    (b"", "application/json"),  # no context at all
])
def test_a_context_that_cannot_be_read_leaves_a_line_and_a_count(
        tmp_path: Path, make_client: Callable[..., WebClient], body: bytes,
        content_type: str) -> None:
    """Refused before the application runs, yet a failed call of it: the access log's line and
    the calls metric, at every log level's default."""
    path = tmp_path / "access.log"
    client = make_client(WorkflowAppAccessLog=str(path))
    response = client.post("/openaichat", data=body, content_type=content_type)
    assert response.status_code == 400
    code = response.headers["X-WorkflowApp-Error"]
    [line] = path.read_text(encoding="utf-8").splitlines()
    assert LINE.match(line) and f"app=OPENAICHAT status=400 code={code} " in line, line
    metrics = client.get("/metrics").get_data(as_text=True)
    assert f'workflowapp_calls_total{{app="OPENAICHAT",code="{code}",outcome="error"}} 1.0' \
        in metrics
    assert 'workflowapp_in_flight_calls{app="OPENAICHAT"} 0.0' in metrics


def test_never_content_or_secrets(tmp_path: Path,
                                  make_client: Callable[..., WebClient]) -> None:
    path = tmp_path / "access.log"
    client = make_client(WorkflowAppAccessLog=str(path))
    post(client, "OPENAICHAT", param("MODEL", "m"), param("USER_MESSAGE", "my-salary-is-x"),
         param("API_KEY", SECRET_KEY), out("RESULT_CONTENT"))
    post(client, "ECHO", param("A", "confidential-text"), param("API_KEY", SECRET_KEY))
    text = path.read_text(encoding="utf-8")
    for leaked in (SECRET_KEY, "my-salary-is-x", "confidential-text", "Hello!"):
        assert leaked not in text


def test_on_writes_to_stderr_and_off_writes_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    stream = io.StringIO()
    monkeypatch.setattr("sys.stderr", stream)
    observer = open_access_log("on")
    assert observer is not None and open_access_log(None) is not None
    observer(CallEnded("ECHO", "ok", "ok", 200, 0.001))
    assert stream.getvalue().count("\n") == 1 and "app=ECHO" in stream.getvalue()
    assert open_access_log("off") is None


def test_an_unwritable_path_is_a_clear_configuration_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="WorkflowAppAccessLog"):
        open_access_log(str(tmp_path / "no" / "such" / "folder" / "access.log"))


@given(st.text(), st.text(), st.dictionaries(st.text(), st.integers(0, 10**9), max_size=3))
def test_a_line_is_always_one_line(client: str, code: str, tokens: dict[str, int]) -> None:
    """Whatever a field holds (a forged address, a code with a newline), one line comes out."""
    line = format_line(CallEnded("ECHO", "error", code, 400, 0.5, client=client, tokens=tokens),
                       datetime(2026, 1, 2, 3, 4, 5, 678000, UTC).timestamp())
    assert "\n" not in line and "\r" not in line and LINE.match(line), line
    assert line.startswith("2026-01-02T03:04:05.678Z ")


@given(st.floats(0, 4102444800, allow_nan=False), st.floats(0, 3, allow_nan=False))
def test_timestamps_are_utc_to_the_millisecond_across_seconds(first: float, later: float
                                                              ) -> None:
    """The second's text is kept between calls: a line a second or more later has its own."""
    for now in (first, first + later):
        stamp = format_line(CallEnded("ECHO", "ok", "ok", 200, 0.1), now).split(" ")[0]
        millis = round(now * 1000)
        expected = datetime.fromtimestamp(millis // 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S")
        assert stamp == f"{expected}.{millis % 1000:03d}Z"


def test_the_observer_ignores_other_events() -> None:
    stream = io.StringIO()
    AccessLog(stream)(object())  # type: ignore[arg-type]
    assert stream.getvalue() == ""


def test_an_upstream_401_shows_its_status_in_both_logs(
    tmp_path: Path, make_client: Callable[..., WebClient], fake_openai: FakeOpenAI
) -> None:
    """Not "(upstream None, 0 retries)": the status upstream answered is in the log line."""
    path = tmp_path / "access.log"
    client = make_client(WorkflowAppAccessLog=str(path), OpenAIChatLogLevel="2")
    fake_openai.push(error_reply(401, {"error": {"message": "Incorrect API key provided",
                                                 "type": "invalid_request_error",
                                                 "code": "invalid_api_key"}}))
    reply = post(client, "OPENAICHAT", param("MODEL", "m"), param("USER_MESSAGE", "hi"))
    assert reply.status == 502
    line = path.read_text(encoding="utf-8")
    assert "status=502 code=upstream_error" in line and "upstream=401" in line
    logged = "".join(p.read_text() for p in (tmp_path / "logs").iterdir())
    assert "OPENAICHAT failed: upstream_error in" in logged
    assert "(upstream 401, 0 retries)" in logged and "upstream None" not in logged

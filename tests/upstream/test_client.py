"""The client against ``responses``: retries, deadline, allow-list, auth, adaptations, secrets."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
import requests
import responses
from responses import matchers

from workflowapp.errors import (
    BadUpstreamAnswer,
    ParameterError,
    QuotaExhausted,
    RateLimited,
    UpstreamConnectionError,
    UpstreamError,
    UpstreamTimeout,
    UrlNotAllowed,
)
from workflowapp.upstream import USER_AGENT, CallOptions, Client, Provider, safe_url

KEY = "sk-test-SECRET-0123456789abcdef"
OPENAI_URL = "https://api.openai.com/v1/chat/completions"
AZURE_URL = "https://res.openai.azure.com/openai/deployments/my-o3/chat/completions"
LOCAL_URL = "http://localhost:11434/v1/chat/completions"
OK = {"id": "chatcmpl-1", "object": "chat.completion", "choices": []}
OPTIONS = CallOptions()


class FakeTime:
    """A monotonic clock that only moves when slept on (or advanced by a test)."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def fake_time() -> FakeTime:
    return FakeTime()


@pytest.fixture
def client(fake_time: FakeTime) -> Client:
    return Client(
        sleep=fake_time.sleep, clock=fake_time.clock, rng=lambda: 0.0, wallclock=lambda: 1.7e9
    )


@pytest.fixture
def mock() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        yield rsps


def error_body(message: str, type_: str, code: Any, param: str | None = None) -> dict[str, Any]:
    return {"error": {"message": message, "type": type_, "param": param, "code": code}}


def post(client: Client, url: str = OPENAI_URL, **kwargs: Any) -> Any:
    kwargs.setdefault("api_key", KEY)
    kwargs.setdefault("provider", Provider.OPENAI)
    kwargs.setdefault("options", OPTIONS)
    return client.post_json(url, {"model": "gpt-4o", "messages": []}, **kwargs)


def raw_body(mock: responses.RequestsMock, index: int) -> bytes:
    body = mock.calls[index].request.body
    assert isinstance(body, bytes)
    return body


def sent_json(mock: responses.RequestsMock, index: int) -> Any:
    return json.loads(raw_body(mock, index))


def timeout_of(mock: responses.RequestsMock, index: int) -> Any:
    """The ``timeout`` the client passed (responses keeps the send kwargs on the request)."""
    return getattr(mock.calls[index].request, "req_kwargs")["timeout"]  # noqa: B009


# --- success and headers -------------------------------------------------------------------


def test_success_and_headers(client: Client, mock: responses.RequestsMock) -> None:
    mock.post(OPENAI_URL, json=OK, headers={"x-request-id": "req_1"})
    response = post(client)
    assert (response.status, response.data, response.request_id, response.retries) == (
        200,
        OK,
        "req_1",
        0,
    )
    assert response.duration_ms == 0.0  # the fake clock did not move
    headers = mock.calls[0].request.headers
    assert headers["Authorization"] == f"Bearer {KEY}"
    assert headers["Content-Type"] == "application/json"
    assert headers["Accept"] == "application/json"
    assert headers["User-Agent"] == USER_AGENT and USER_AGENT.startswith("workflowapp/")
    assert "x-retry-count" not in headers
    assert timeout_of(mock, 0) == (5.0, 600.0)


def test_azure_header_and_api_version(client: Client, mock: responses.RequestsMock) -> None:
    mock.post(
        AZURE_URL, json=OK, match=[matchers.query_param_matcher({"api-version": "2024-10-21"})]
    )
    post(client, AZURE_URL, provider=Provider.AZURE)
    request = mock.calls[0].request
    assert request.headers["api-key"] == KEY
    assert "Authorization" not in request.headers


def test_azure_v1_gets_no_api_version(client: Client, mock: responses.RequestsMock) -> None:
    url = "https://res.openai.azure.com/openai/v1/chat/completions"
    mock.post(url, json=OK)
    post(client, url, provider=Provider.AZURE)
    assert mock.calls[0].request.url == url


def test_non_json_answer_has_no_data(client: Client, mock: responses.RequestsMock) -> None:
    mock.post(OPENAI_URL, body="hello there", content_type="text/plain; charset=utf-8")
    assert post(client).data is None
    mock.post(LOCAL_URL, body='{"a": 1}', content_type="text/plain")
    assert post(client, LOCAL_URL, provider=Provider.COMPATIBLE).data == {"a": 1}


def test_multipart(client: Client, mock: responses.RequestsMock) -> None:
    url = "https://api.openai.com/v1/audio/transcriptions"
    mock.post(url, json={"text": "hi"})
    response = client.post_multipart(
        url,
        fields=[("model", "whisper-1"), ("timestamp_granularities[]", "word")],
        files={"file": ("call.wav", b"RIFF....", "audio/wav")},
        api_key=KEY,
        provider=Provider.OPENAI,
        options=OPTIONS,
    )
    assert response.data == {"text": "hi"}
    request = mock.calls[0].request
    assert request.headers["Content-Type"].startswith("multipart/form-data; boundary=")
    assert b'name="timestamp_granularities[]"' in raw_body(mock, 0)
    assert b'filename="call.wav"' in raw_body(mock, 0)


def test_multipart_is_resent_on_retry(client: Client, mock: responses.RequestsMock) -> None:
    url = "https://api.openai.com/v1/audio/transcriptions"
    mock.post(url, status=503)
    mock.post(url, json={"text": "hi"})
    response = client.post_multipart(
        url,
        fields=[("model", "whisper-1")],
        files={"file": ("a.mp3", b"ID3data", "audio/mpeg")},
        api_key=KEY,
        provider=Provider.OPENAI,
        options=OPTIONS,
    )
    assert response.retries == 1
    assert b"ID3data" in raw_body(mock, 1)


# --- retries -------------------------------------------------------------------------------


def test_429_retry_after_then_success(
    client: Client, mock: responses.RequestsMock, fake_time: FakeTime
) -> None:
    mock.post(
        OPENAI_URL,
        status=429,
        json=error_body("slow down", "requests", "rate_limit_exceeded"),
        headers={"Retry-After": "1"},
    )
    mock.post(OPENAI_URL, json=OK)
    response = post(client)
    assert response.status == 200 and response.retries == 1
    assert fake_time.sleeps == [1.0]
    assert response.duration_ms == pytest.approx(1000.0)
    assert mock.calls[1].request.headers["x-retry-count"] == "1"


def test_503_three_times_gives_up_after_two_retries(
    client: Client, mock: responses.RequestsMock, fake_time: FakeTime
) -> None:
    mock.post(OPENAI_URL, status=503, json=error_body("overloaded", "server_error", None))
    with pytest.raises(UpstreamError) as caught:
        post(client)
    error = caught.value
    assert type(error) is UpstreamError
    assert (error.http_status, error.retries, len(mock.calls)) == (503, 2, 3)
    assert fake_time.sleeps == [0.5, 1.0]  # backoff with rng() == 0
    assert error.message == (
        "OpenAI answered 503 (server_error): overloaded (gave up after 2 retries)"
    )
    assert error.duration_ms == pytest.approx(1500.0)
    assert error.response_status == "503"


def test_quota_is_not_retried(client: Client, mock: responses.RequestsMock) -> None:
    body = error_body("You exceeded your current quota", "insufficient_quota", "insufficient_quota")
    mock.post(OPENAI_URL, status=429, json=body, headers={"Retry-After": "1"})
    with pytest.raises(QuotaExhausted) as caught:
        post(client)
    assert len(mock.calls) == 1 and caught.value.retries == 0
    assert "quota exhausted (billing), not a rate limit" in caught.value.message


def test_x_should_retry_false(client: Client, mock: responses.RequestsMock) -> None:
    mock.post(OPENAI_URL, status=503, headers={"x-should-retry": "false"})
    with pytest.raises(UpstreamError) as caught:
        post(client)
    assert len(mock.calls) == 1
    assert "x-should-retry: false" in caught.value.message


def test_x_should_retry_true_on_a_400(client: Client, mock: responses.RequestsMock) -> None:
    mock.post(OPENAI_URL, status=400, headers={"x-should-retry": "true"})
    mock.post(OPENAI_URL, json=OK)
    assert post(client).retries == 1


def test_retry_after_ms(client: Client, mock: responses.RequestsMock, fake_time: FakeTime) -> None:
    mock.post(OPENAI_URL, status=429, headers={"retry-after-ms": "250", "Retry-After": "9"})
    mock.post(OPENAI_URL, json=OK)
    post(client)
    assert fake_time.sleeps == [0.25]


def test_retry_after_above_cap_is_not_waited_for(
    client: Client, mock: responses.RequestsMock, fake_time: FakeTime
) -> None:
    mock.post(
        OPENAI_URL,
        status=429,
        json=error_body("slow", "requests", "rate_limit_exceeded"),
        headers={"Retry-After": "300"},
    )
    with pytest.raises(RateLimited) as caught:
        post(client)
    assert len(mock.calls) == 1 and fake_time.sleeps == []
    assert "Retry-After of 300 s is above the 120 s limit" in caught.value.message


def test_rate_limited_after_retries(client: Client, mock: responses.RequestsMock) -> None:
    mock.post(OPENAI_URL, status=429, json=error_body("slow", "requests", "rate_limit_exceeded"))
    with pytest.raises(RateLimited) as caught:
        post(client)
    assert caught.value.retries == 2
    assert "rate limited; gave up after 2 retries" in caught.value.message


def test_max_retries_zero(client: Client, mock: responses.RequestsMock) -> None:
    mock.post(OPENAI_URL, status=500)
    with pytest.raises(UpstreamError):
        post(client, options=CallOptions(max_retries=0))
    assert len(mock.calls) == 1


def test_connection_error_is_retried(
    client: Client, mock: responses.RequestsMock, fake_time: FakeTime
) -> None:
    refused = requests.ConnectionError(
        "Failed to establish a new connection: [Errno 111] Connection refused"
    )
    mock.post(LOCAL_URL, body=refused)
    with pytest.raises(UpstreamConnectionError) as caught:
        post(client, LOCAL_URL, provider=Provider.COMPATIBLE)
    error = caught.value
    assert len(mock.calls) == 3 and error.retries == 2
    assert error.message == (
        "cannot connect to localhost:11434: [Errno 111] Connection refused "
        "(gave up after 2 retries)"
    )
    assert isinstance(error.__cause__, requests.ConnectionError)
    assert error.response_status == "connection_error"


def test_connection_error_then_success(client: Client, mock: responses.RequestsMock) -> None:
    mock.post(OPENAI_URL, body=requests.exceptions.ChunkedEncodingError("dropped"))
    mock.post(OPENAI_URL, json=OK)
    assert post(client).retries == 1


@pytest.mark.parametrize(
    "exc",
    [
        requests.exceptions.InvalidHeader("bad header"),
        requests.exceptions.SSLError("[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed"),
    ],
)
def test_hopeless_transport_errors_are_not_retried(
    client: Client, mock: responses.RequestsMock, exc: requests.RequestException
) -> None:
    mock.post(OPENAI_URL, body=exc)
    with pytest.raises(UpstreamConnectionError) as caught:
        post(client)
    assert len(mock.calls) == 1 and caught.value.retries == 0
    assert "gave up" not in caught.value.message


def test_read_timeout(client: Client, mock: responses.RequestsMock) -> None:
    mock.post(OPENAI_URL, body=requests.ReadTimeout("read timed out"))
    with pytest.raises(UpstreamTimeout) as caught:
        post(client, options=CallOptions(read_timeout=30, max_retries=1))
    assert len(mock.calls) == 2
    assert caught.value.message == (
        "OpenAI did not answer within 30 s (read timeout) (gave up after 1 retry)"
    )
    assert (caught.value.status, caught.value.response_status) == (504, "timeout")


def test_connect_timeout(client: Client, mock: responses.RequestsMock) -> None:
    mock.post(OPENAI_URL, body=requests.ConnectTimeout("x"))
    with pytest.raises(UpstreamTimeout, match=r"connect to api.openai.com within 5 s"):
        post(client, options=CallOptions(max_retries=0))


# --- deadline ------------------------------------------------------------------------------


def slow_503(fake_time: FakeTime, seconds: float) -> Any:
    def answer(request: Any) -> tuple[int, dict[str, str], str]:
        fake_time.now += min(seconds, request.req_kwargs["timeout"][1])
        return 503, {}, "busy"

    return answer


def test_deadline_stops_retries(
    client: Client, mock: responses.RequestsMock, fake_time: FakeTime
) -> None:
    mock.add_callback(responses.POST, OPENAI_URL, callback=slow_503(fake_time, 4.0))
    options = CallOptions(deadline=10.0, max_retries=5, read_timeout=600)
    with pytest.raises(UpstreamError) as caught:
        post(client, options=options)
    # tries at 0-4 s and 4.5-8.5 s; the third starts at 9.5 s with its timeouts cut to the
    # 0.5 s left; a fourth (2 s backoff) would end past the deadline, so it is not started.
    assert len(mock.calls) == 3 and fake_time.sleeps == [0.5, 1.0]
    assert "deadline left no time for a retry" in caught.value.message
    timeouts = [timeout_of(mock, i) for i in range(len(mock.calls))]
    assert timeouts[0] == (5.0, 10.0)
    assert timeouts[1] == (5.0, pytest.approx(5.5))
    assert timeouts[2] == (pytest.approx(0.5), pytest.approx(0.5))
    assert caught.value.retries == 2


def test_deadline_cut_read_timeout_reports_the_deadline(
    client: Client, mock: responses.RequestsMock, fake_time: FakeTime
) -> None:
    def timeout(request: Any) -> tuple[int, dict[str, str], str]:
        fake_time.now += request.req_kwargs["timeout"][1]
        raise requests.ReadTimeout("timed out")

    mock.add_callback(responses.POST, OPENAI_URL, callback=timeout)
    with pytest.raises(UpstreamTimeout) as caught:
        post(client, options=CallOptions(deadline=20.0, read_timeout=600))
    assert len(mock.calls) == 1
    assert "within the deadline of 20 s" in caught.value.message


# --- allow-list and URL checks -------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "https://evil.example/v1/chat/completions",
        "https://api.openai.com.evil.example/v1",
        "https://azure.com/openai",  # "*.azure.com" does not cover the bare domain
    ],
)
def test_allow_list_refuses_before_sending(url: str, mock: responses.RequestsMock) -> None:
    client = Client(allowed_hosts=["api.openai.com", "*.azure.com"], sleep=lambda s: None)
    with pytest.raises(UrlNotAllowed) as caught:
        post(client, url)
    assert len(mock.calls) == 0
    assert "WorkflowAppAllowedHosts" in caught.value.message
    assert caught.value.parameter == "URL"


ENTRIES = ["api.openai.com", "*.azure.com", "LOCALHOST:11434", "http://llm.lan:8000",
           "https://gw.example:8443"]


@pytest.mark.parametrize(
    "url",
    [
        "https://API.OPENAI.COM/v1/chat/completions",
        "https://api.openai.com:443/v1/chat/completions",
        "https://res.openai.azure.com/openai/v1/chat/completions",
        "http://localhost:11434/v1/chat/completions",
        "http://llm.lan:8000/v1/chat/completions",
        "https://gw.example:8443/v1/chat/completions",
    ],
)
def test_allow_list_accepts(url: str, mock: responses.RequestsMock) -> None:
    client = Client(allowed_hosts=ENTRIES)
    mock.post(url, json=OK)
    post(client, url)
    assert len(mock.calls) == 1


@pytest.mark.parametrize(
    "url",
    [
        "http://api.openai.com/v1/chat/completions",  # the key would travel in clear text
        "https://api.openai.com:9/v1/chat/completions",  # another port than the entry's
        "http://localhost:9999/v1/chat/completions",
        "https://llm.lan:8000/v1/chat/completions",  # the entry says http
        "http://gw.example:8443/v1/chat/completions",
        "http://res.openai.azure.com/openai/v1/chat/completions",
    ],
)
def test_allow_list_checks_scheme_and_port(url: str, mock: responses.RequestsMock) -> None:
    with pytest.raises(UrlNotAllowed, match="WorkflowAppAllowedHosts"):
        post(Client(allowed_hosts=ENTRIES), url)
    assert len(mock.calls) == 0


def test_allow_list_star_and_empty(mock: responses.RequestsMock) -> None:
    mock.post(OPENAI_URL, json=OK)
    post(Client(allowed_hosts=["*"]))
    with pytest.raises(UrlNotAllowed):
        post(Client(allowed_hosts=[]))


@pytest.mark.parametrize(
    ("url", "cls"),
    [
        ("ftp://api.openai.com/v1", UrlNotAllowed),
        ("file:///etc/passwd", UrlNotAllowed),
        (f"https://user:{KEY}@api.openai.com/v1", UrlNotAllowed),
        ("https:///v1/chat", ParameterError),
        ("https://api.openai.com:99999/v1", ParameterError),
        ("https://api.openai.com/v1\r\nX: y", ParameterError),
        ("not a url", ParameterError),
    ],
)
def test_bad_urls_are_refused(
    client: Client, mock: responses.RequestsMock, url: str, cls: type[ParameterError]
) -> None:
    with pytest.raises(cls) as caught:
        post(client, url)
    assert caught.value.parameter == "URL"
    assert KEY not in caught.value.message
    assert len(mock.calls) == 0


def test_bad_key_characters_are_refused(client: Client, mock: responses.RequestsMock) -> None:
    for bad in ("sk-abc\r\nX-Evil: 1", "sk-abc\u00e9\u4e2d"):
        with pytest.raises(ParameterError) as caught:
            post(client, api_key=bad)
        assert caught.value.parameter == "API_KEY" and "sk-abc" not in caught.value.message
    assert len(mock.calls) == 0


def test_redirects_are_not_followed(client: Client, mock: responses.RequestsMock) -> None:
    mock.post(OPENAI_URL, status=307, headers={"Location": "https://evil.example/steal"})
    with pytest.raises(UpstreamError, match="redirect to evil.example not followed"):
        post(client)
    assert len(mock.calls) == 1


def test_cookies_are_not_carried_between_calls(
    client: Client, mock: responses.RequestsMock
) -> None:
    mock.post(OPENAI_URL, json={"ok": 1}, headers={"Set-Cookie": "affinity=tenant-a; Path=/"})
    post(client)
    post(client)
    assert len(mock.calls) == 2
    assert "Cookie" not in mock.calls[1].request.headers


def test_netrc_credentials_never_replace_the_key(
    client: Client, mock: responses.RequestsMock, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    netrc = tmp_path / "netrc"
    netrc.write_text("machine api.openai.com login someone password other-secret\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    mock.post(OPENAI_URL, json={"ok": 1})
    post(client)
    assert mock.calls[0].request.headers["Authorization"] == f"Bearer {KEY}"


def test_compressed_answers_are_accepted(client: Client, mock: responses.RequestsMock) -> None:
    mock.post(OPENAI_URL, json={"ok": 1})
    post(client)
    assert mock.calls[0].request.headers["Accept-Encoding"] == "gzip, deflate"


def test_safe_url() -> None:
    url = f"https://h/x?api-version=2024-10-21&key={KEY}"
    assert safe_url(url) == "https://h/x?api-version=2024-10-21&key=[REDACTED]"


# --- translations through the client -------------------------------------------------------


def test_html_error_page(client: Client, mock: responses.RequestsMock) -> None:
    page = "<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>"
    mock.post(LOCAL_URL, status=502, body=page, content_type="text/html")
    with pytest.raises(UpstreamError) as caught:
        post(client, LOCAL_URL, provider=Provider.COMPATIBLE, options=CallOptions(max_retries=0))
    assert caught.value.message == (
        "The server at localhost:11434 answered 502: 502 Bad Gateway (not retried: retries are off)"
    )
    assert caught.value.body == page


def test_llama_cpp_integer_code(client: Client, mock: responses.RequestsMock) -> None:
    mock.post(LOCAL_URL, status=400, json=error_body("bad input", "invalid_request_error", 400))
    with pytest.raises(UpstreamError) as caught:
        post(client, LOCAL_URL, provider=Provider.COMPATIBLE)
    assert caught.value.upstream_code == "invalid_request_error"
    assert "(invalid_request_error): bad input" in caught.value.message


def test_truncated_json_error(client: Client, mock: responses.RequestsMock) -> None:
    mock.post(
        OPENAI_URL,
        status=500,
        body='{"error": {"message": "The server had an err',
        content_type="application/json",
    )
    with pytest.raises(UpstreamError) as caught:
        post(client, options=CallOptions(max_retries=0))
    assert "The server had an err" in caught.value.message


def test_invalid_json_2xx(client: Client, mock: responses.RequestsMock) -> None:
    mock.post(OPENAI_URL, body='{"id": "chatcmpl-1", "choi', content_type="application/json")
    with pytest.raises(BadUpstreamAnswer) as caught:
        post(client)
    assert len(mock.calls) == 1
    assert caught.value.response_status == "invalid_response"
    assert isinstance(caught.value.__cause__, ValueError)


# --- secrets -------------------------------------------------------------------------------


def test_key_never_leaks(
    client: Client, mock: responses.RequestsMock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    echo = error_body(
        f"Incorrect API key provided: {KEY}", "invalid_request_error", "invalid_api_key"
    )
    mock.post(OPENAI_URL, status=500, json=echo, headers={"x-echo": KEY})
    mock.post(OPENAI_URL, status=401, json=echo)
    with pytest.raises(UpstreamError) as caught:
        client.post_json(
            OPENAI_URL + f"?key={KEY}",
            {"model": "gpt-4o", "messages": [{"role": "user", "content": f"my key is {KEY}"}]},
            api_key=KEY,
            provider=Provider.OPENAI,
            options=OPTIONS,
            log=logging.getLogger("workflowapp.apps.TEST"),
        )
    error = caught.value
    texts = [error.message, str(error), error.body or "", repr(error), error.response_content]
    texts += [record.getMessage() for record in caplog.records]
    assert caplog.records, "expected log records"
    assert any("response body" in t for t in texts) and any("request body" in t for t in texts)
    for text in texts:
        assert KEY not in text
    assert "[REDACTED]" in (error.body or "")


def test_pool_configuration() -> None:
    client = Client(pool_size=7)
    adapter = client._session.get_adapter("https://api.openai.com")
    assert adapter._pool_maxsize == 7  # type: ignore[attr-defined]
    assert adapter._pool_block is False  # type: ignore[attr-defined]
    assert adapter.max_retries.total == 0  # type: ignore[attr-defined]
    client.close()


def test_call_options_validation() -> None:
    with pytest.raises(ParameterError):
        CallOptions(read_timeout=0)
    with pytest.raises(ParameterError):
        CallOptions(max_retries=-1)
    with pytest.raises(ParameterError):
        CallOptions(deadline=-5)


def test_proxy_and_ca_environment_resolved_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.corp:3128")
    monkeypatch.setenv("NO_PROXY", "internal.corp")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/etc/ssl/corp.pem")
    client = Client()
    assert client._proxies_for("https://api.openai.com/v1/x")["https"] == "http://proxy.corp:3128"
    assert "https" not in client._proxies_for("https://llm.internal.corp/v1/x")
    monkeypatch.setenv("HTTPS_PROXY", "http://changed:1")
    assert client._proxies_for("https://api.openai.com/v1/y")["https"] == "http://proxy.corp:3128"
    assert client._verify == "/etc/ssl/corp.pem"
    assert client._session.trust_env is False


def test_urls_are_sent_as_requests_would_send_them(
    client: Client, mock: responses.RequestsMock
) -> None:
    url = "https://bücher.example/v1/chat/ä"
    mock.post("https://xn--bcher-kva.example/v1/chat/%C3%A4", json={"ok": 1})
    post(client, url, provider=Provider.COMPATIBLE)
    assert mock.calls[0].request.url == "https://xn--bcher-kva.example/v1/chat/%C3%A4"

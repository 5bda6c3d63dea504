"""Translation of upstream answers and requests exceptions into the error tree."""

from __future__ import annotations

import json

import pytest
import requests
from hypothesis import given
from hypothesis import strategies as st
from urllib3.exceptions import ProtocolError, ReadTimeoutError

from workflowapp.errors import (
    BadUpstreamAnswer,
    ContentFiltered,
    DeploymentNotFound,
    QuotaExhausted,
    RateLimited,
    UpstreamConnectionError,
    UpstreamError,
    UpstreamTimeout,
)
from workflowapp.upstream.errors import (
    ErrorInfo,
    Failure,
    bad_json_error,
    deadline_error,
    parse_error_body,
    redact,
    request_id,
    shorten,
    status_error,
    transport_error,
)
from workflowapp.upstream.providers import Provider

KEY = "sk-test-SECRET-0123456789abcdef"
OPENAI = Failure(Provider.OPENAI, "https://api.openai.com/v1/chat/completions", KEY)
AZURE = Failure(
    Provider.AZURE,
    "https://res.openai.azure.com/openai/deployments/gpt4o-prod/chat/completions?api-version=1",
    KEY,
)
LOCAL = Failure(Provider.COMPATIBLE, "http://localhost:11434/v1/chat/completions", KEY)


def openai_error(message: str, type_: str, code: str | None, param: str | None = None) -> str:
    return json.dumps({"error": {"message": message, "type": type_, "param": param, "code": code}})


@pytest.mark.parametrize(
    ("text", "content_type", "expected"),
    [
        (
            openai_error("Bad key", "invalid_request_error", "invalid_api_key"),
            "application/json",
            ErrorInfo("Bad key", "invalid_api_key", "invalid_request_error", None),
        ),
        (  # llama.cpp: integer code
            '{"error":{"code":400,"message":"bad grammar","type":"invalid_request_error"}}',
            "application/json",
            ErrorInfo("bad grammar", "400", "invalid_request_error", None),
        ),
        (  # no "error" wrapper
            '{"message":"model not found","type":"not_found_error","code":"model_not_found"}',
            "application/json",
            ErrorInfo("model not found", "model_not_found", "not_found_error", None),
        ),
        (  # Ollama native
            '{"error":"model \'llama9\' not found"}',
            "application/json",
            ErrorInfo("model 'llama9' not found"),
        ),
        (  # Gemini-style list wrapper
            '[{"error":{"code":400,"message":"Invalid arg","status":"INVALID_ARGUMENT"}}]',
            "application/json",
            ErrorInfo("Invalid arg", "400"),
        ),
        (  # FastAPI validation
            '{"detail":[{"loc":["body","x"],"msg":"field required"},{"msg":"bad y"}]}',
            "application/json",
            ErrorInfo("body.x: field required; bad y"),
        ),
        ('{"detail":"Not Found"}', "application/json", ErrorInfo("Not Found")),
        (
            "<html><head><title>502 Bad Gateway</title></head><body><h1>nginx</h1></body></html>",
            "text/html",
            ErrorInfo("502 Bad Gateway"),
        ),
        (
            "<html><body><script>x()</script><h1>Service\n  Unavailable</h1></body></html>",
            None,
            ErrorInfo("Service Unavailable"),
        ),
        ("<title>A &amp; B</title>", "text/html", ErrorInfo("A & B")),
        (
            "upstream connect error or disconnect",
            "text/plain",
            ErrorInfo("upstream connect error or disconnect"),
        ),
        ("", "application/json", ErrorInfo()),
        ("   ", None, ErrorInfo()),
        ('"just a string"', "application/json", ErrorInfo("just a string")),
        ("42", "application/json", ErrorInfo("42")),
    ],
)
def test_parse_error_body(text: str, content_type: str | None, expected: ErrorInfo) -> None:
    assert parse_error_body(text, content_type) == expected


def test_parse_truncated_json() -> None:
    cut = (
        '{"error": {"code": "rate_limit_exceeded", "message": "Rate limit reached for gpt-4o in org'
    )
    info = parse_error_body(cut, "application/json")
    assert info.code == "rate_limit_exceeded"
    assert info.message == "Rate limit reached for gpt-4o in org"
    info = parse_error_body('{"error": {"code": 500, "mess', "application/json")
    assert info.code == "500" and info.message is not None


def test_parse_handles_escapes() -> None:
    info = parse_error_body('{"error": {"message": "say \\"hi\\"\\n', None)
    assert info.message == 'say "hi"'


def test_error_info_properties() -> None:
    assert ErrorInfo(code="400", type="invalid_request_error").label == "invalid_request_error"
    assert ErrorInfo(code="invalid_api_key", type="x").label == "invalid_api_key"
    assert ErrorInfo(type="insufficient_quota").is_quota
    assert ErrorInfo(code="insufficient_quota").retry_code == "insufficient_quota"
    assert (
        ErrorInfo(code="rate_limit_exceeded", type="requests").retry_code == "rate_limit_exceeded"
    )
    assert ErrorInfo().label is None


def test_shorten() -> None:
    assert shorten(" a \n\t b ") == "a b"
    long = shorten("x" * 1000)
    assert len(long) == 300 and long.endswith("…")


def test_redact() -> None:
    assert redact(f"key {KEY}!", KEY) == "key [REDACTED]!"
    assert redact("ollama", "x") == "ollama"  # placeholder keys are not replaced
    assert redact("abc", None) == "abc"


def test_request_id_headers() -> None:
    assert request_id({"X-Request-Id": "req_1"}) == "req_1"
    assert request_id({"apim-request-id": "az"}) == "az"
    assert request_id({}) is None


def test_401_message_and_body_without_key() -> None:
    body = openai_error(
        f"Incorrect API key provided: {KEY}.", "invalid_request_error", "invalid_api_key"
    )
    error = status_error(OPENAI, 401, body, {"x-request-id": "req_9"})
    assert type(error) is UpstreamError
    assert error.message == (
        "OpenAI answered 401 (invalid_api_key): Incorrect API key provided: [REDACTED]."
    )
    assert KEY not in (error.body or "") and "[REDACTED]" in (error.body or "")
    assert (error.http_status, error.upstream_code, error.request_id) == (
        401,
        "invalid_api_key",
        "req_9",
    )
    assert error.response_status == "401"


def test_quota_exhausted() -> None:
    body = openai_error(
        "You exceeded your current quota", "insufficient_quota", "insufficient_quota"
    )
    error = status_error(OPENAI, 429, body, {})
    assert isinstance(error, QuotaExhausted)
    assert "quota exhausted (billing), not a rate limit" in error.message


def test_rate_limited_mentions_the_retries() -> None:
    body = openai_error("Rate limit reached", "requests", "rate_limit_exceeded")
    failure = Failure(OPENAI.provider, OPENAI.url, KEY, retries=2, note="gave up after 2 retries")
    error = status_error(failure, 429, body, {})
    assert isinstance(error, RateLimited)
    assert error.message == (
        "OpenAI answered 429 (rate_limit_exceeded): rate limited; gave up "
        "after 2 retries: Rate limit reached"
    )
    assert error.retries == 2


def test_azure_deployment_not_found() -> None:
    body = json.dumps(
        {
            "error": {
                "code": "DeploymentNotFound",
                "message": "The API deployment for this resource does not exist.",
            }
        }
    )
    error = status_error(AZURE, 404, body, {})
    assert isinstance(error, DeploymentNotFound)
    assert "'gpt4o-prod'" in error.message
    assert "name given to the deployment in Azure, not the model name" in error.message


def test_azure_other_404_hints_at_the_url() -> None:
    error = status_error(AZURE, 404, '{"error":{"code":"404","message":"Resource not found"}}', {})
    assert type(error) is UpstreamError
    assert "api-version" in error.message


def test_azure_content_filter() -> None:
    body = openai_error(
        "The response was filtered due to the prompt triggering Azure OpenAI's "
        "content management policy.",
        "invalid_request_error",
        "content_filter",
        "prompt",
    )
    error = status_error(AZURE, 400, body, {})
    assert isinstance(error, ContentFiltered)
    assert error.message.startswith("Azure OpenAI answered 400 (content_filter): blocked by")


def test_compatible_html_page_and_llama_cpp_code() -> None:
    page = "<html><head><title>503 Service Temporarily Unavailable</title></head></html>"
    failure = Failure(LOCAL.provider, LOCAL.url, KEY, retries=2, note="gave up after 2 retries")
    error = status_error(failure, 503, page, {"content-type": "text/html"})
    assert error.message == (
        "The server at localhost:11434 answered 503: 503 Service "
        "Temporarily Unavailable (gave up after 2 retries)"
    )
    assert error.body == page
    llama = '{"error":{"code":400,"message":"context too long","type":"exceed_context_size_error"}}'
    error = status_error(LOCAL, 400, llama, {})
    assert error.message == (
        "The server at localhost:11434 answered 400 (exceed_context_size_error): context too long"
    )
    assert error.upstream_code == "exceed_context_size_error"


def test_empty_body_uses_the_reason_phrase() -> None:
    error = status_error(OPENAI, 500, "", {}, reason="Internal Server Error")
    assert error.message == "OpenAI answered 500: Internal Server Error"


def test_redirect_is_reported() -> None:
    error = status_error(OPENAI, 307, "", {"location": "https://evil.example/x"})
    assert "redirect to evil.example not followed" in error.message


def test_bad_json() -> None:
    error = bad_json_error(OPENAI, 200, '{"id": "chatcmpl-1", "choi', {"x-request-id": "r"})
    assert isinstance(error, BadUpstreamAnswer)
    assert error.response_status == "invalid_response"
    assert error.request_id == "r" and "invalid JSON" in error.message


@pytest.mark.parametrize(
    ("exc", "cls", "phrase"),
    [
        (requests.ConnectTimeout("x"), UpstreamTimeout, "within 5 s (connect timeout)"),
        (requests.ReadTimeout("x"), UpstreamTimeout, "within 600 s (read timeout)"),
        (  # a read timeout while reading the body: requests says ConnectionError
            requests.ConnectionError(ReadTimeoutError(None, "/", "Read timed out.")),  # type: ignore[arg-type]
            UpstreamTimeout,
            "read timeout",
        ),
        (requests.exceptions.ChunkedEncodingError("x"), UpstreamConnectionError, "dropped"),
        (
            requests.ConnectionError(ProtocolError("Connection aborted.", OSError())),
            UpstreamConnectionError,
            "dropped",
        ),
        (
            requests.ConnectionError(
                "HTTPConnectionPool(host='localhost', port=11434): Max retries exceeded with url: "
                f"/v1?key={KEY} (Caused by NewConnectionError('<obj>: Failed to establish a new "
                "connection: [Errno 111] Connection refused'))"
            ),
            UpstreamConnectionError,
            "cannot connect to api.openai.com: [Errno 111] Connection refused",
        ),
        (requests.exceptions.InvalidHeader("x"), UpstreamConnectionError, "InvalidHeader"),
    ],
)
def test_transport_errors(exc: requests.RequestException, cls: type, phrase: str) -> None:
    error = transport_error(OPENAI, exc, connect=5.0, read=600.0)
    assert type(error) is cls
    assert phrase in error.message
    assert KEY not in error.message
    assert error.http_status is None


def test_timeout_status_and_code() -> None:
    error = transport_error(OPENAI, requests.ReadTimeout(), connect=5, read=600)
    assert (error.status, error.code, error.response_status) == (504, "timeout", "timeout")
    assert "deadline of 30 s" in deadline_error(OPENAI, 30).message


@given(
    text=st.text(max_size=400),
    content_type=st.sampled_from([None, "text/html", "application/json"]),
)
def test_parse_never_raises(text: str, content_type: str | None) -> None:
    info = parse_error_body(text, content_type)
    assert info.message is None or len(info.message) <= 300


@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=20),
        lambda inner: (
            st.lists(inner, max_size=3)
            | st.dictionaries(
                st.sampled_from(["error", "message", "code", "type", "param", "detail"]),
                inner,
                max_size=4,
            )
        ),
        max_leaves=12,
    )
)
def test_parse_any_json_shape(value: object) -> None:
    parse_error_body(json.dumps(value), "application/json")

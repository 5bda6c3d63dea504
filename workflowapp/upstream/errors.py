"""The one boundary where upstream answers and ``requests`` exceptions become our errors.

Every failure of a call leaves the client as the most specific :class:`~workflowapp.errors.
UpstreamError` leaf, chained (``raise … from exc``) to the ``requests`` exception if there was
one; nothing above this package sees a ``requests`` exception. Bodies are parsed leniently
because servers differ (§2.1, §5.6 of ``docs/openai-api.md``): OpenAI's ``{"error": {…}}``, a
missing wrapper, a list wrapper, llama.cpp's integer ``code``, HTML error pages from proxies,
plain text and truncated JSON all give a readable message.

Messages read "<who> answered <status> (<code>): <upstream message>", e.g.
"OpenAI answered 401 (invalid_api_key): Incorrect API key provided: sk-abc***xyz.". The API key
is replaced by ``[REDACTED]`` in every message and body built here.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Mapping
from typing import Any, NamedTuple
from urllib.parse import urlsplit

import requests
from urllib3.exceptions import ProtocolError, ReadTimeoutError

from ..errors import (
    REDACTED,
    BadUpstreamAnswer,
    ContentFiltered,
    DeploymentNotFound,
    QuotaExhausted,
    RateLimited,
    UpstreamConnectionError,
    UpstreamError,
    UpstreamTimeout,
)
from .policy import QUOTA_CODE, SPEND_LIMIT_CODE, header
from .providers.base import LABELS, Provider, azure_deployment

#: Longest upstream message quoted in our messages (the full body stays in ``body``).
MESSAGE_LIMIT = 300
# Shorter keys are placeholders ("x", "-", "sk") that local servers ignore; replacing them
# would mangle every body without protecting anything.
_MIN_SECRET = 4

_TITLE = re.compile(r"<title[^>]*>(.*?)</title>", re.IGNORECASE | re.DOTALL)
_TAGS = re.compile(r"<(script|style)\b.*?</\1>|<[^>]+>", re.IGNORECASE | re.DOTALL)
_SPACE = re.compile(r"\s+")
_ERRNO = re.compile(r"\[Errno -?\d+\] [^'\"()\]]+")
_TLS = re.compile(r"CERTIFICATE_VERIFY_FAILED[^'\")]*|SSL: [A-Z_]+")
_REQUEST_ID_HEADERS = ("x-request-id", "apim-request-id", "x-ms-request-id", "request-id")


def redact(text: str, api_key: str | None) -> str:
    """``text`` with ``api_key`` replaced by ``[REDACTED]``."""
    if api_key and len(api_key) >= _MIN_SECRET:
        return text.replace(api_key, REDACTED)
    return text


def request_id(headers: Mapping[str, str]) -> str | None:
    """The upstream request id (``x-request-id``, or Azure's ``apim-request-id``)."""
    for name in _REQUEST_ID_HEADERS:
        value = header(headers, name)
        if value:
            return value
    return None


class ErrorInfo(NamedTuple):
    """What an error body says, as far as it could be read."""

    message: str | None = None
    code: str | None = None
    type: str | None = None
    param: str | None = None
    detail_code: str | None = None  # Anthropic's error.details.error_code

    @property
    def is_spend_limit(self) -> bool:
        """Whether a spend limit was reached (Anthropic: a 429 that waiting does not fix)."""
        return self.detail_code == "enforced_spend_limit_reached" or \
            "spend limit" in (self.message or "").lower()

    @property
    def label(self) -> str | None:
        """The most telling name: a textual code, else the type (llama.cpp codes are numbers)."""
        if self.code and not self.code.isdigit():
            return self.code
        return self.type or None

    @property
    def is_quota(self) -> bool:
        """Whether this is a billing problem (``insufficient_quota`` as code or type)."""
        return QUOTA_CODE in (self.code, self.type)

    @property
    def retry_code(self) -> str | None:
        """The code the retry policy looks at."""
        if self.is_quota:
            return QUOTA_CODE
        return SPEND_LIMIT_CODE if self.is_spend_limit else self.code


def parse_error_body(text: str, content_type: str | None = None) -> ErrorInfo:
    """Read an error body of any shape; never raises."""
    stripped = text.strip()
    if not stripped:
        return ErrorInfo()
    try:
        data = json.loads(stripped)
    except ValueError:
        data = None
    else:
        return _from_json(data)
    if stripped.startswith(("{", "[")):
        return _from_truncated_json(stripped)
    if "html" in (content_type or "").lower() or stripped[:1] == "<":
        return ErrorInfo(message=_html_text(stripped))
    return ErrorInfo(message=shorten(stripped))


def _from_json(data: Any) -> ErrorInfo:
    if isinstance(data, list):  # Gemini's layer may wrap the error object in a list
        first = next((item for item in data if isinstance(item, dict)), None)
        return _from_json(first) if first is not None else ErrorInfo(shorten(json.dumps(data)))
    if not isinstance(data, dict):
        return ErrorInfo(message=shorten(str(data)))
    error = data.get("error", data)
    if isinstance(error, str):  # Ollama's native {"error": "model 'x' not found"}
        return ErrorInfo(message=shorten(error), code=_text(data.get("code")))
    if not isinstance(error, dict):
        error = data
    message = error.get("message") or error.get("detail") or error.get("error_description")
    details = error.get("details")
    return ErrorInfo(
        message=shorten(_flatten(message)) if message else None,
        code=_text(error.get("code")),
        type=_text(error.get("type")) or _status_name(error.get("status")),
        param=_text(error.get("param")),
        detail_code=_text(details.get("error_code")) if isinstance(details, dict) else None,
    )


def _flatten(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, list):  # FastAPI's {"detail": [{"msg": …}, …]}
        return "; ".join(_detail(v) for v in value)
    if isinstance(value, dict):  # Mistral's {"message": {"detail": [...]}}
        inner = value.get("detail") or value.get("message")
        if inner:
            return _flatten(inner)
    return json.dumps(value)


def _status_name(value: Any) -> str | None:
    """Gemini's ``status`` (``INVALID_ARGUMENT``, ``RESOURCE_EXHAUSTED``) where OpenAI has a
    ``type``; a numeric status says nothing the HTTP status does not."""
    return value if isinstance(value, str) and value and not value.isdigit() else None


def _detail(item: Any) -> str:
    """One validation problem: "body.max_completion_tokens: Extra inputs are not permitted"."""
    if not isinstance(item, dict):
        return str(item)
    message = str(item.get("msg", json.dumps(item)))
    where = item.get("loc")
    if isinstance(where, list) and where:
        return f"{'.'.join(str(part) for part in where)}: {message}"
    return message


def _text(value: Any) -> str | None:
    if value is None or value == "" or isinstance(value, dict | list):
        return None
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)


def _from_truncated_json(text: str) -> ErrorInfo:
    """Pick the fields out of a body cut mid-way (a proxy limit, a dropped stream)."""

    def field(name: str) -> str | None:
        found = re.search(rf'"{name}"\s*:\s*(?:"((?:[^"\\]|\\.)*)"?|(-?\d+))', text)
        if not found:
            return None
        if found.group(2) is not None:
            return found.group(2)
        return _unescape(found.group(1)) or None

    message = field("message")
    return ErrorInfo(
        message=shorten(message or text),
        code=field("code"),
        type=field("type"),
        param=field("param"),
    )


def _unescape(fragment: str) -> str:
    try:
        return str(json.loads(f'"{fragment}"'))
    except ValueError:
        return fragment


def _html_text(page: str) -> str:
    title = _TITLE.search(page)
    if title and title.group(1).strip():
        return shorten(html.unescape(title.group(1)))
    return shorten(html.unescape(_TAGS.sub(" ", page)))


def shorten(text: str, limit: int = MESSAGE_LIMIT) -> str:
    """``text`` on one line, cut to ``limit`` characters with an ellipsis."""
    line = _SPACE.sub(" ", text).strip()
    return line if len(line) <= limit else line[: limit - 1].rstrip() + "…"


class Failure(NamedTuple):
    """Where a failed call went and what we know of it, for building the error."""

    provider: Provider
    url: str
    api_key: str | None
    retries: int = 0
    note: str | None = None

    @property
    def who(self) -> str:
        """How messages name the upstream: "OpenAI", "Anthropic"… or "The server at host"."""
        return LABELS.get(self.provider) or f"The server at {self.host}"

    @property
    def host(self) -> str:
        return urlsplit(self.url).netloc.rpartition("@")[2]

    def finish(self, text: str) -> str:
        """A message ending in the note (e.g. "gave up after 2 retries"), redacted."""
        suffix = f" ({self.note})" if self.note else ""
        return redact(f"{text}{suffix}", self.api_key)


def status_error(
    failure: Failure,
    status: int,
    text: str,
    headers: Mapping[str, str],
    *,
    info: ErrorInfo | None = None,
    reason: str | None = None,
) -> UpstreamError:
    """The error for a non-2xx answer (after retries), of the most specific class."""
    info = info or parse_error_body(text, header(headers, "content-type"))
    cls, lead, keep_note = _classify(failure, status, info, headers)
    label = f" ({info.label})" if info.label else ""
    said = info.message or reason or "no error message"
    message = f"{failure.who} answered {status}{label}: {lead}{said}"
    return cls(
        failure.finish(message) if keep_note else redact(message, failure.api_key),
        http_status=status,
        body=redact(text, failure.api_key),
        upstream_code=info.label,
        request_id=request_id(headers),
        retries=failure.retries,
    )


def _classify(
    failure: Failure, status: int, info: ErrorInfo, headers: Mapping[str, str]
) -> tuple[type[UpstreamError], str, bool]:
    """(class, lead-in, keep the retry note) for a non-2xx answer."""
    code = (info.code or "").lower()
    if status == 429 and info.is_quota:
        return QuotaExhausted, "quota exhausted (billing), not a rate limit: ", False
    if status == 429 and info.is_spend_limit and not header(headers, "retry-after"):
        return QuotaExhausted, "spend limit reached (billing), not a rate limit: ", False
    if status == 429:
        note = failure.note or f"gave up after {failure.retries} retries"
        return RateLimited, f"rate limited; {note}: ", False
    if code == "content_filter" or (info.type or "").lower() == "content_filter":
        return ContentFiltered, "blocked by the provider's content filter: ", True
    if status == 404 and failure.provider is Provider.AZURE:
        return _azure_404(failure, code)
    if status == 404 and "model" not in code and "model" not in (info.message or "").lower():
        return UpstreamError, (
            f"no such endpoint: {_endpoint(failure.url)} was not found (the server may not "
            "offer this API; check the URL): "), True
    if status in (401, 403) and failure.provider is Provider.COMPATIBLE and not failure.api_key:
        return UpstreamError, (
            "the server wants an API key: fill the API_KEY parameter or the OpenAIApiKey "
            "setting: "), True
    if 300 <= status < 400:
        target = urlsplit(header(headers, "location") or "").netloc or "elsewhere"
        return UpstreamError, f"redirect to {target} not followed, check the URL: ", True
    return UpstreamError, "", True


def _endpoint(url: str) -> str:
    """``url`` without its query (which may hold a key) for a message."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}{parts.path}"


def _azure_404(failure: Failure, code: str) -> tuple[type[UpstreamError], str, bool]:
    name = azure_deployment(failure.url)
    if code == "deploymentnotfound":
        named = f"deployment {name!r}" if name else "the deployment"
        return (
            DeploymentNotFound,
            f"{named} does not exist; the deployment name in the URL is the name given to the "
            "deployment in Azure, not the model name: ",
            True,
        )
    return UpstreamError, "check the resource, deployment name and api-version in the URL: ", True


def transport_error(
    failure: Failure, exc: requests.RequestException, *, connect: float, read: float
) -> UpstreamError:
    """The error for a ``requests`` exception (no answer, or an answer cut short)."""
    if isinstance(exc, requests.ConnectTimeout):
        text = f"could not connect to {failure.host} within {connect:g} s (connect timeout)"
        return UpstreamTimeout(failure.finish(text), retries=failure.retries)
    if is_timeout(exc):
        text = f"{failure.who} did not answer within {read:g} s (read timeout)"
        return UpstreamTimeout(failure.finish(text), retries=failure.retries)
    if isinstance(
        exc, requests.exceptions.ChunkedEncodingError | requests.exceptions.ContentDecodingError
    ) or (_caused_by(exc, ProtocolError)):
        text = f"the connection to {failure.host} was dropped before the answer was complete"
        return UpstreamConnectionError(failure.finish(text), retries=failure.retries)
    if isinstance(exc, requests.ConnectionError):
        text = f"cannot connect to {failure.host}: {_exception_reason(exc)}"
        return UpstreamConnectionError(failure.finish(text), retries=failure.retries)
    text = f"the request to {failure.host} failed: {_exception_reason(exc)}"
    return UpstreamConnectionError(failure.finish(text), retries=failure.retries)


def is_transient(exc: requests.RequestException) -> bool:
    """Whether another attempt may succeed: connection trouble and timeouts, not a bad request
    (invalid URL or header) nor a certificate the server will keep presenting."""
    if isinstance(exc, requests.exceptions.SSLError):
        return "CERTIFICATE_VERIFY_FAILED" not in str(exc)
    return isinstance(
        exc,
        requests.ConnectionError
        | requests.Timeout
        | requests.exceptions.ChunkedEncodingError
        | requests.exceptions.ContentDecodingError,
    )


def is_timeout(exc: requests.RequestException) -> bool:
    """Whether ``exc`` is a timeout, including one requests reports as a ConnectionError."""
    return isinstance(exc, requests.Timeout) or _caused_by(exc, ReadTimeoutError)


def deadline_error(failure: Failure, deadline: float) -> UpstreamTimeout:
    """The error for a call that ran out of its overall deadline."""
    text = f"{failure.who} gave no answer within the deadline of {deadline:g} s"
    return UpstreamTimeout(failure.finish(text), retries=failure.retries)


def bad_json_error(
    failure: Failure, status: int, text: str, headers: Mapping[str, str]
) -> BadUpstreamAnswer:
    """The error for a 2xx answer that says JSON but is not valid JSON."""
    said = shorten(text, 120) or "an empty body"
    message = f"{failure.who} answered {status} with invalid JSON: {said}"
    return BadUpstreamAnswer(
        failure.finish(message),
        http_status=status,
        body=redact(text, failure.api_key),
        request_id=request_id(headers),
        retries=failure.retries,
    )


def _caused_by(exc: BaseException, kind: type[BaseException]) -> bool:
    """Whether ``kind`` is among the wrapped causes (requests wraps urllib3 errors in ``args``)."""
    seen: set[int] = set()
    stack: list[Any] = [exc]
    while stack:
        item = stack.pop()
        if not isinstance(item, BaseException) or id(item) in seen:
            continue
        seen.add(id(item))
        if isinstance(item, kind):
            return True
        stack.extend([*item.args, item.__cause__, item.__context__, getattr(item, "reason", None)])
    return False


def _exception_reason(exc: BaseException) -> str:
    """A short cause ("[Errno 111] Connection refused") without the URL requests puts in."""
    text = str(exc)
    for pattern in (_ERRNO, _TLS):
        found = pattern.search(text)
        if found:
            return found.group(0).strip()
    if "Name or service not known" in text or "getaddrinfo failed" in text:
        return "host name not found"
    return type(exc).__name__

"""The fake Anthropic Messages API server (API version 2023-06-01, ``anthropic`` SDK 0.125.0).

Routes match on the path suffix, so any base URL works: ``POST …/v1/messages``. Every other
path is a 404 ``not_found_error`` and recorded as invalid.

Admission, in order: the path, ``POST``, a key (``x-api-key``, or ``Authorization: Bearer``;
a missing key is a 401 *and* an invalid request, a wrong key only a 401), ``anthropic-version``
(one of :attr:`FakeAnthropic.api_versions`), the size (``max_request_bytes``, 32 MB: 413
``request_too_large``), ``content-type: application/json``, then the body
(:func:`tests.fakes.anthropic_spec.check_request`). Refusals are answered like the API:
``{"type": "error", "error": {"type": "invalid_request_error", "message": "…"},
"request_id": "req_…"}`` with a ``request-id`` header.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Literal

from werkzeug.wrappers import Request

from tests.fakes import anthropic_spec
from tests.fakes.anthropic_replies import default_message_reply, error_body
from tests.fakes.base import FakeServer, Refusal, Route
from tests.fakes.records import RecordedRequest
from tests.fakes.replies import Reply
from tests.fakes.spec import InvalidReply, Problem

__all__ = ["FakeAnthropic"]


class FakeAnthropic(FakeServer):
    """A loopback Anthropic Messages API with recording, scripting and request validation.

    Same public API as :class:`~tests.fakes.server.FakeOpenAI` (``push``, ``requests``,
    ``last_request``, ``wait_for_requests``, ``invalid``, ``errors``, ``expect_invalid``,
    ``teardown_problems``, ``assert_secret_only_in_auth``, ``reset``, ``delay``, ``validate``,
    ``api_key``, ``require_auth``, ``start``/``stop``/``with``, ``serve_forever``).

    :param api_versions: the ``anthropic-version`` values accepted (default ``2023-06-01``).

    ``api_versions`` and ``max_request_bytes`` (default 32 MB, answered 413
    ``request_too_large``) are settings restored by :meth:`reset`.
    """

    ENDPOINTS = ("messages",)
    REQUEST_ID_HEADER = "request-id"
    NAME = "anthropic-fake"

    def __init__(self, host: str = "127.0.0.1", port: int = 0, *, delay: float = 0.0,
                 validate: bool = True, api_key: str | None = None, require_auth: bool = True,
                 api_versions: Iterable[str] = (anthropic_spec.API_VERSION,),
                 record_limit: int | None = None,
                 server: Literal["threaded", "gevent"] = "threaded") -> None:
        super().__init__(host, port, delay=delay, validate=validate, api_key=api_key,
                         require_auth=require_auth, record_limit=record_limit, server=server)
        self.api_versions: frozenset[str] = frozenset()
        self._setting("api_versions", frozenset(api_versions))
        self.max_request_bytes: int = 0
        self._setting("max_request_bytes", anthropic_spec.MAX_REQUEST_BYTES)

    @property
    def base_url(self) -> str:
        """What the SDK calls ``base_url``: ``http://host:port`` (the SDK appends ``/v1/…``)."""
        return self.url

    @property
    def messages_url(self) -> str:
        """``http://host:port/v1/messages``."""
        return f"{self.url}/v1/messages"

    # -- hooks ---------------------------------------------------------------------------------

    def _new_request_id(self) -> str:
        return f"req_01Fake{next(self._ids):018d}"

    def _route(self, path: str) -> Route:
        if path.rstrip("/").endswith("/v1/messages"):
            return Route("messages", "anthropic")
        return Route(None, "anthropic")

    def _admit(self, request: Request, record: RecordedRequest, route: Route) -> None:
        if route.endpoint is None or request.method != "POST":
            raise self._refusal(404, "Not Found", f"{request.method} {request.path}: "
                                "not an endpoint of the Anthropic fake", record)
        self._authenticate(record)
        if not self.validate:
            return
        version = record.headers.get("anthropic-version")
        if not version:
            raise self._refusal(400, "anthropic-version: header is required",
                                "anthropic-version header missing", record)
        if version not in self.api_versions:
            raise self._refusal(400, f"anthropic-version: invalid version '{version}'",
                                f"anthropic-version {version!r} not in "
                                f"{sorted(self.api_versions)}", record)
        if len(record.body) > self.max_request_bytes:
            raise self._refusal(413, "Request exceeds the maximum allowed number of bytes.",
                                f"body of {len(record.body)} bytes > {self.max_request_bytes}",
                                record)
        if request.mimetype != "application/json":
            raise self._refusal(400, f"content-type: Invalid content type "
                                f"'{request.mimetype or '(none)'}': expected application/json",
                                "content-type is not application/json", record)
        if record.json is None:
            raise self._refusal(400, "There was an error parsing the body of your request. "
                                "Please ensure it is valid JSON.", "body is not JSON", record)
        try:
            anthropic_spec.check_request(record.json)
        except Problem as problem:
            raise self._refusal(problem.status, problem.message, problem.message,
                                record) from None

    def _authenticate(self, record: RecordedRequest) -> None:
        header = record.headers.get("authorization", "")
        bearer = header[7:].strip() if header.lower().startswith("bearer ") else None
        key, record.auth = (record.headers.get("x-api-key"), "x-api-key")
        if not key and bearer:
            key, record.auth = bearer, "bearer"
        record.api_key = key or None
        if not key:
            record.auth = None
        if not self.require_auth:
            return
        if not key:
            raise self._refusal(401, "x-api-key header is required",
                                "no x-api-key or Authorization: Bearer header", record,
                                type_="authentication_error")
        if self.api_key is not None and key != self.api_key:
            raise self._refusal(401, "invalid x-api-key", None, record,
                                type_="authentication_error")

    def _refusal(self, status: int, message: str, note: str | None, record: RecordedRequest,
                 *, type_: str | None = None) -> Refusal:
        """An API-shaped refusal; ``note`` (set for client bugs) records it as invalid."""
        body = error_body(status, message, type_, request_id=record.request_id)
        return Refusal(status, body, note)

    def _default_reply(self, endpoint: str, record: RecordedRequest) -> Reply:
        return default_message_reply()

    def _check_reply(self, kind: str, body: Any, record: RecordedRequest) -> None:
        if kind != "messages":
            raise InvalidReply(f"a {kind} reply is not an Anthropic message")
        anthropic_spec.check_message(body)

    def _failure_body(self, message: str, request_id: str | None = None) -> Any:
        return error_body(500, message, "api_error", request_id=request_id)

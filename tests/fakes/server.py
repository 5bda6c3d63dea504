"""The fake OpenAI-compatible server: a WSGI app with scripted answers and a server wrapper.

Routes match on the path suffix, so any base URL works:

- ``POST …/chat/completions``, ``POST …/moderations``, ``POST …/audio/transcriptions``,
  ``GET …/models``;
- Azure deployment form ``/openai/deployments/{d}/chat/completions?api-version=…`` (also
  ``audio/transcriptions``) with an ``api-key`` header, and the Azure v1 form
  ``/openai/v1/chat/completions`` (``api-key`` or Bearer);
- ``GET /_fake/stats`` (counters, for benchmarks) and ``POST /_fake/reset``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Literal

from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.wrappers import Request

from tests.fakes import compat_spec as compat
from tests.fakes import spec as specs
from tests.fakes.base import FakeServer, Refusal, Route
from tests.fakes.compat_replies import default_mistral_reply
from tests.fakes.records import FileInfo, RecordedRequest
from tests.fakes.replies import Reply, default_reply, error_body
from tests.fakes.spec import Problem

__all__ = ["ENDPOINTS", "MODES", "FakeOpenAI", "Mode"]

ENDPOINTS = ("chat", "moderations", "transcriptions")
Mode = Literal["openai", "mistral", "gemini"]
MODES: tuple[Mode, ...] = ("openai", "mistral", "gemini")
_SUFFIXES = (("/chat/completions", "chat"), ("/moderations", "moderations"),
             ("/audio/transcriptions", "transcriptions"), ("/models", "models"))
_AZURE = re.compile(r"/openai/deployments/(?P<deployment>[^/]+)(?P<rest>/.*)$")
_AZURE_V1 = re.compile(r"/openai/v1(?P<rest>/.*)$")


class FakeOpenAI(FakeServer):
    """A loopback OpenAI-compatible server with recording, scripting and request validation.

    Settings (``api_key``, ``require_auth``, ``deployments``, ``delay``, ``validate``) are plain
    attributes; :meth:`reset` restores the constructor's values and empties queues and records.

    :param delay: seconds to wait before every *default* answer (benchmarks).
    :param validate: check requests and answers against the spec (off: benchmark mode).
    :param api_key: the only key accepted; ``None`` accepts any non-empty key.
    :param require_auth: ``False`` accepts requests without a key.
    :param deployments: Azure deployments that exist; ``None`` = any name.
    :param record_limit: keep only the last N recorded requests (``None``: all).
    :param spec_dir: spec folder (default ``$WORKFLOWAPP_OPENAI_SPEC`` or ``<repo>/../shared``).
    :param server: ``threaded`` (werkzeug) or ``gevent`` (``gevent.pywsgi``, for
        :meth:`serve_forever` in a monkey-patched process).
    :param mode: ``openai``; ``mistral`` or ``gemini`` enforce that provider's rules and error
        shapes on top of the OpenAI checks (see :mod:`tests.fakes.compat_spec`); only chat
        (and models) exist in those modes. ``mode`` and ``gemini_keywords`` (the JSON-schema
        keywords Gemini refuses, default ``{"$schema"}``) are settings like ``api_key``.
    """

    ENDPOINTS = ENDPOINTS
    NAME = "openai-fake"

    def __init__(self, host: str = "127.0.0.1", port: int = 0, *, delay: float = 0.0,
                 validate: bool = True, api_key: str | None = None, require_auth: bool = True,
                 deployments: Iterable[str] | None = None, record_limit: int | None = None,
                 spec_dir: str | Path | None = None,
                 server: Literal["threaded", "gevent"] = "threaded",
                 mode: Mode = "openai") -> None:
        super().__init__(host, port, delay=delay, validate=validate, api_key=api_key,
                         require_auth=require_auth, record_limit=record_limit, server=server)
        self.spec, self.schema_skipped_reason = specs.load_spec(spec_dir)
        self.deployments: frozenset[str] | None = None
        self._setting("deployments", None if deployments is None else frozenset(deployments))
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}")
        self.mode: Mode = mode
        self._setting("mode", mode)
        self.gemini_keywords: frozenset[str] = frozenset()
        self._setting("gemini_keywords", frozenset({"$schema"}))

    # -- URLs ----------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """``http://host:port`` (no path)."""
        return f"http://{self.host}:{self.port}"

    @property
    def base_url(self) -> str:
        """The base URL: ``http://host:port/v1`` (Gemini mode: ``…/v1beta/openai``)."""
        return f"{self.url}/v1beta/openai" if self.mode == "gemini" else f"{self.url}/v1"

    @property
    def chat_url(self) -> str:
        return f"{self.base_url}/chat/completions"

    @property
    def moderations_url(self) -> str:
        return f"{self.base_url}/moderations"

    @property
    def transcriptions_url(self) -> str:
        return f"{self.base_url}/audio/transcriptions"

    def azure_chat_url(self, deployment: str = "gpt-4o-mini",
                       api_version: str | None = "2024-10-21") -> str:
        """Azure deployment URL; ``api_version=None`` leaves the query out."""
        query = f"?api-version={api_version}" if api_version is not None else ""
        return f"{self.url}/openai/deployments/{deployment}/chat/completions{query}"

    def azure_transcriptions_url(self, deployment: str = "whisper",
                                 api_version: str | None = "2024-10-21") -> str:
        query = f"?api-version={api_version}" if api_version is not None else ""
        return f"{self.url}/openai/deployments/{deployment}/audio/transcriptions{query}"

    @property
    def azure_v1_base_url(self) -> str:
        return f"{self.url}/openai/v1"

    @property
    def azure_v1_chat_url(self) -> str:
        return f"{self.azure_v1_base_url}/chat/completions"

    def _admit(self, request: Request, record: RecordedRequest, route: Route) -> None:
        if self.mode == "openai":
            self._admit_openai(request, record, route)
            return
        try:
            if route.flavor != "openai" or route.endpoint not in ("chat", "models", None):
                raise Refusal(404, _invalid_url(request),
                              f"the {self.mode} mode has no {request.path} endpoint")
            self._admit_openai(request, record, route)
        except Refusal as refusal:
            if refusal.shaped:
                raise
            raise self._in_mode(refusal, record) from None

    def _in_mode(self, refusal: Refusal, record: RecordedRequest) -> Refusal:
        """An OpenAI-shaped refusal in the Mistral or Gemini error shape."""
        error = refusal.body.get("error") if isinstance(refusal.body, dict) else None
        message = str(error.get("message")) if isinstance(error, dict) else str(refusal.body)
        status = refusal.status
        if self.mode == "mistral":
            body: Any = ({"message": "Unauthorized", "request_id": record.request_id}
                         if status == 401 else compat.mistral_error_body(message, status))
        elif status == 401 and record.api_key:
            status, body = 400, compat.gemini_error_body(
                400, "API key not valid. Please pass a valid API key.", details=[{
                    "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                    "reason": "API_KEY_INVALID", "domain": "googleapis.com"}])
        elif status == 401:
            body = compat.gemini_error_body(
                401, "Request is missing required authentication credential. Expected OAuth 2 "
                "access token, login cookie or other valid authentication credential.")
        else:
            body = compat.gemini_error_body(status, message)
        return Refusal(status, body, refusal.invalid, refusal.headers, shaped=True)

    def _admit_openai(self, request: Request, record: RecordedRequest, route: Route) -> None:
        """URL, method, auth, deployment and body checks, in the order OpenAI applies them."""
        if route.endpoint is None or (route.flavor == "azure" and route.endpoint == "models"):
            raise Refusal(404, _invalid_url(request), f"unknown path {request.path}")
        wanted = "GET" if route.endpoint == "models" else "POST"
        if request.method != wanted:
            raise Refusal(404, _invalid_url(request), f"{request.method} not allowed here")
        if route.flavor == "azure" and not record.api_version:
            raise Refusal(404, {"error": {"code": "404", "message": "Resource not found"}},
                           "Azure deployment URL without api-version")
        self._authenticate(record, route)
        if route.flavor != "openai" and route.endpoint == "moderations":
            raise Refusal(404, {"error": {"code": "404", "message": "Resource not found"}},
                           "Azure OpenAI has no /moderations endpoint")
        deployment = route.deployment if route.flavor == "azure" else (
            record.model if route.flavor == "azure_v1" else None)
        if (deployment is not None and self.deployments is not None
                and deployment not in self.deployments):
            raise Refusal(404, {"error": {
                "code": "DeploymentNotFound",
                "message": "The API deployment for this resource does not exist. If you created "
                           "the deployment within the last 5 minutes, please wait a moment and "
                           "try again."}})
        if record.invalid is not None:
            raise Refusal(413, error_body(record.invalid), record.invalid)
        if self.validate and route.endpoint != "models":
            try:
                self._check_body(request, record, route)
            except Problem as problem:
                where = problem.param
                note = problem.message if not where or where in problem.message else (
                    f"{where}: {problem.message}")
                if problem.body is not None:
                    raise Refusal(problem.status, problem.body, note, shaped=True) from None
                raise Refusal(problem.status, error_body(
                    problem.message, "invalid_request_error", where, problem.code), note
                ) from None

    def _authenticate(self, record: RecordedRequest, route: Route) -> None:
        header = record.headers.get("authorization", "")
        bearer = header[7:].strip() if header.lower().startswith("bearer ") else None
        azure_key = record.headers.get("api-key")
        if route.flavor == "azure" or (route.flavor == "azure_v1" and azure_key is not None):
            key, record.auth = azure_key, "api-key"
        else:
            key, record.auth = bearer, "bearer"
        record.api_key = key
        if not key:
            record.auth = None
        if not self.require_auth:
            return
        azure = route.flavor != "openai"
        if not key:
            raise Refusal(401, _azure_401() if azure else error_body(
                "You didn't provide an API key. You need to provide your API key in an "
                "Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY), "
                "or as the password field (with blank username) if you're accessing the API "
                "from your browser and are prompted for a username and password. You can "
                "obtain an API key from https://platform.openai.com/account/api-keys."))
        if self.api_key is not None and key != self.api_key:
            raise Refusal(401, _azure_401() if azure else error_body(
                f"Incorrect API key provided: {_mask(key)}. You can find your API key at "
                "https://platform.openai.com/account/api-keys.", code="invalid_api_key"))

    def _check_body(self, request: Request, record: RecordedRequest, route: Route) -> None:
        if route.endpoint == "transcriptions":
            if request.mimetype != "multipart/form-data":
                raise Problem(f"Invalid Content-Type {request.mimetype or '(none)'}: "
                              "audio/transcriptions takes multipart/form-data")
            upload = record.file
            specs.check_transcription(record.form, upload.filename if upload else None,
                                      upload.size if upload else 0, self.spec)
            return
        if request.mimetype != "application/json":
            raise Problem(f"Invalid Content-Type {request.mimetype or '(none)'}: the OpenAI API "
                          "expects application/json")
        if record.json is None:
            raise Problem("We could not parse the JSON body of your request. (HINT: This likely "
                          "means you aren't using your HTTP library correctly. The OpenAI API "
                          "expects a JSON payload, but what was sent was not valid JSON.)")
        if route.endpoint == "chat" and self.mode == "mistral":
            compat.check_mistral_chat(record.json, self.spec)
        elif route.endpoint == "chat" and self.mode == "gemini":
            compat.check_gemini_chat(record.json, self.spec, self.gemini_keywords)
        elif route.endpoint == "chat":
            specs.check_chat(record.json, self.spec,
                             deployment=route.deployment if route.flavor == "azure" else None)
        else:
            specs.check_moderation(record.json, self.spec)

    def _route(self, path: str) -> Route:
        return _route(path)

    def _parse_body(self, request: Request, record: RecordedRequest) -> None:
        if request.mimetype != "multipart/form-data":
            super()._parse_body(request, record)
            return
        try:
            record.form_items = list(request.form.items(multi=True))
            for name, storage in request.files.items():
                data = storage.read()
                record.files[name] = FileInfo(name, storage.filename or "",
                                              storage.mimetype or "", len(data), data)
        except RequestEntityTooLarge:
            record.invalid = "a multipart text field exceeds 500 kB"
        upload = record.files.get("file")
        record.form = specs.transcription_fields(
            record.form_items, upload.filename if upload else None, self.spec)

    def _default_reply(self, endpoint: str, record: RecordedRequest) -> Reply:
        if self.mode == "mistral" and endpoint == "chat":
            return default_mistral_reply()
        return default_reply(endpoint)

    def _check_reply(self, kind: str, body: Any, record: RecordedRequest) -> None:
        if self.mode == "mistral" and kind == "chat":
            compat.check_mistral_reply(body, self.spec)
            return
        specs.check_reply(kind, body, self.spec, str(record.form.get("response_format", "json")))

    def _failure_body(self, message: str, request_id: str | None = None) -> Any:
        if self.mode == "mistral":
            return compat.mistral_error_body(message, 500, type_="internal_server_error")
        if self.mode == "gemini":
            return compat.gemini_error_body(500, message)
        return error_body(message, "server_error")

    def _request_id_header(self) -> str | None:
        """``x-request-id``; Mistral sends ``mistral-correlation-id``, Gemini none."""
        return {"mistral": "mistral-correlation-id", "gemini": None}.get(
            self.mode, self.REQUEST_ID_HEADER)


def _route(path: str) -> Route:
    flavor, deployment, rest = "openai", None, path
    if match := _AZURE.search(path):
        flavor, deployment, rest = "azure", match["deployment"], match["rest"]
    elif match := _AZURE_V1.search(path):
        flavor, rest = "azure_v1", match["rest"]
    for suffix, endpoint in _SUFFIXES:
        if rest.rstrip("/").endswith(suffix):
            if flavor == "azure" and rest.rstrip("/") != suffix:
                break
            return Route(endpoint, flavor, deployment)
    return Route(None, flavor, deployment)


def _invalid_url(request: Request) -> dict[str, Any]:
    return error_body(f"Invalid URL ({request.method} {request.path})")


def _azure_401() -> dict[str, Any]:
    return {"error": {"code": "401", "message": "Access denied due to invalid subscription key "
                      "or wrong API endpoint. Make sure to provide a valid key for an active "
                      "subscription and use a correct regional API endpoint for your resource."}}


def _mask(key: str) -> str:
    return f"{key[:3]}{'*' * max(len(key) - 7, 0)}{key[-4:]}" if len(key) > 8 else "****"



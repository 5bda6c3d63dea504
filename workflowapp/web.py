"""The HTTP face of the host. This module and :mod:`workflowapp.lean` (which serves
``POST /<APP>`` through :func:`answer` without Flask's request dispatch) are the only ones that
import Flask.

``POST /<APP>`` runs an application on the posted context; ``GET /apps`` and
``GET /apps/<APP>`` describe the applications; ``GET /healthz`` answers load balancers.
The context is found by content, whatever the transport WorkflowGen used: the raw body, one
``application/x-www-form-urlencoded`` field, or a ``multipart/form-data`` field or file part.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import io
import json
import logging
from functools import partial
from urllib.parse import parse_qsl

from flask import Flask, Request, Response, request
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge
from werkzeug.formparser import FormDataParser

from .apps import registry
from .apps.call import Services, execute
from .context import content_type, read_context, write_context
from .errors import REDACTED, AppError, AuthenticationRequired, ContextError, RequestTooLarge
from .lean import LeanPost
from .logs import app_logger
from .settings import Settings

SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
    "Referrer-Policy": "no-referrer",
}

host_log = logging.getLogger("workflowapp.host")


def create_app(services: Services) -> Flask:
    """The Flask application serving every registered workflow application."""
    app = Flask("workflowapp")
    app.url_map.strict_slashes = False
    limit = services.settings.max_request_bytes
    app.config.update(MAX_CONTENT_LENGTH=limit, MAX_FORM_MEMORY_SIZE=limit)

    @app.get("/healthz")
    def healthz() -> Response:
        return _text("ok", 200)

    @app.get("/apps")
    def list_apps() -> Response:
        _authenticate(services.settings)
        return _json({"apps": [each.manifest() for each in registry.all_apps()]})

    @app.get("/apps/<name>")
    def describe_app(name: str) -> Response:
        _authenticate(services.settings)
        return _json(registry.get(name).manifest())

    @app.post("/<name>")
    def run_app(name: str) -> Response:
        return answer(services, name, request)

    @app.errorhandler(AppError)
    def app_error(error: AppError) -> Response:
        return _error(error)

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException) -> Response:
        if isinstance(error, RequestEntityTooLarge):
            return _error(_too_large(limit))
        message = {
            404: "Not found. POST a WorkflowGen context to /<APP>; GET /apps lists them.",
            405: "Method not allowed. POST a WorkflowGen context; GET /apps/<APP> describes it.",
        }.get(error.code or 500, error.description or "HTTP error")
        return _text(message, error.code or 500)

    @app.errorhandler(Exception)
    def unexpected(error: Exception) -> Response:
        host_log.exception("unexpected error")
        return _text("The host failed unexpectedly; see its log.", 500)

    @app.after_request
    def secure(response: Response) -> Response:
        response.headers.update(SECURITY_HEADERS)
        return response

    app.extensions["workflowapp"] = services
    app.wsgi_app = LeanPost(app, partial(answer, services))  # type: ignore[method-assign]
    return app


def answer(services: Services, name: str, request: Request = request) -> Response:
    """``POST /<name>``: run the application on the posted context (Flask's route and the lean
    path of :mod:`workflowapp.lean` both answer through here, ``request`` being theirs)."""
    _authenticate(services.settings, request)
    application = registry.get(name)
    body = _read_body(services.settings, application.log_setting, request)
    log = app_logger(application.name)
    raw, transport, field = find_context(body, request.content_type)
    if log.isEnabledFor(logging.DEBUG):
        log.debug("request %s %s headers %s", request.method, request.full_path,
                  _visible_headers(request))
        log.debug("context received as %s%s", transport, f" (field {field!r})" if field else "")
    outcome = execute(application, read_context(raw), services, raw=raw)
    if outcome.error is not None:
        return _error(outcome.error)
    try:
        reply = write_context(outcome.context)
    except ContextError:
        host_log.exception("%s: the reply context cannot be written", application.name)
        return _text("The host could not write the reply context; see its log.", 500)
    return Response(reply, 200, content_type=content_type(outcome.context.format))


def _authenticate(settings: Settings, request: Request = request) -> None:
    """Require the configured HTTP Basic credentials, compared in constant time."""
    expected = settings.credentials
    if expected is None:
        return
    header = request.headers.get("Authorization", "")
    scheme, _, encoded = header.partition(" ")
    given = b""
    if scheme.lower() == "basic":
        try:
            given = base64.b64decode(encoded.strip(), validate=True)
        except (binascii.Error, ValueError):
            given = b""
    wanted = f"{expected[0]}:{expected[1]}".encode()
    if not hmac.compare_digest(given, wanted):
        raise AuthenticationRequired(
            "Authentication required: set the application's username and password in "
            "WorkflowGen to WorkflowAppUsername/WorkflowAppPassword."
        )


def _visible_headers(request: Request = request) -> dict[str, str]:
    """The request headers for a debug log, credentials replaced."""
    hidden = {"authorization", "api-key", "cookie", "proxy-authorization"}
    return {k: (REDACTED if k.lower() in hidden else v) for k, v in request.headers.items()}


def _read_body(settings: Settings, log_setting: str, request: Request = request) -> bytes:
    """The raw body, refused with 413 before parsing when it exceeds the limit."""
    app_key = log_setting.removesuffix("LogLevel") + "MaxRequestBytes"
    limit = settings.max_request_bytes
    if settings.get(app_key):
        limit = min(limit, settings.get_int(app_key))
    if request.content_length is not None and request.content_length > limit:
        raise _too_large(limit)
    try:
        body = request.get_data(cache=True)
    except RequestEntityTooLarge:
        raise _too_large(limit) from None
    if len(body) > limit:
        raise _too_large(limit)
    return body


def _too_large(limit: int) -> RequestTooLarge:
    return RequestTooLarge(
        f"The request body exceeds the limit of {limit} bytes (WorkflowAppMaxRequestBytes)."
    )


def find_context(body: bytes, full_type: str | None) -> tuple[bytes, str, str]:
    """The context document in ``body`` and how it came: raw, form field or multipart part.

    The Content-Type is looked at only when the body is not itself the context (parsing it
    costs more than the check)."""
    if _looks_like_context(body):
        return body, "raw body", ""
    mimetype = (full_type or "").partition(";")[0].strip().lower()
    if mimetype == "application/x-www-form-urlencoded":
        text = body.decode("utf-8", "replace")
        for name, value in parse_qsl(text, keep_blank_values=True):
            if _looks_like_context(data := value.encode()):
                return data, "form field", name
    elif mimetype == "multipart/form-data":
        parser = FormDataParser(max_form_memory_size=len(body) + 1)
        _, form, files = parser.parse(
            io.BytesIO(body), mimetype, len(body), _options(full_type or "")
        )
        try:
            for name, value in form.items(multi=True):
                if _looks_like_context(data := value.encode()):
                    return data, "multipart field", name
            for name, part in files.items(multi=True):
                data = part.read()
                if _looks_like_context(data):
                    return data, "multipart file", name
        finally:
            for part in files.values():
                part.close()
    if not body.strip():
        raise ContextError("The request carries no context: the body is empty.")
    raise ContextError(
        "The request carries no WorkflowGen context: the body (or a form field) must be the "
        "XML or JSON context."
    )


def _options(full_type: str) -> dict[str, str]:
    options: dict[str, str] = {}
    for part in full_type.split(";")[1:]:
        key, _, value = part.strip().partition("=")
        options[key.lower()] = value.strip('"')
    return options


def _looks_like_context(data: bytes) -> bool:
    start = data[:64].lstrip(b"\xef\xbb\xbf \t\r\n")
    return start[:1] in (b"{", b"<")


def _error(error: AppError) -> Response:
    response = _text(error.message.splitlines()[0] if error.message else error.code, error.status)
    response.headers["X-WorkflowApp-Error"] = error.code
    if isinstance(error, AuthenticationRequired):
        response.headers["WWW-Authenticate"] = 'Basic realm="workflowapp", charset="UTF-8"'
    return response


def _text(message: str, status: int) -> Response:
    return Response(message + "\n", status, content_type="text/plain; charset=utf-8")


def _json(document: object) -> Response:
    body = json.dumps(document, ensure_ascii=False, indent=2)
    return Response(body, 200, content_type="application/json; charset=utf-8")

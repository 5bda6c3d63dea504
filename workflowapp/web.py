"""The HTTP face of the host (with :mod:`workflowapp.lean`, the only modules importing Flask).

``POST /<APP>`` runs an application on the posted context; ``GET /apps`` and
``GET /apps/<APP>`` describe the applications; ``GET /healthz`` answers load balancers;
``GET /metrics`` exports the Prometheus metrics (when ``WorkflowAppMetrics`` is on).
The context is found by content, whatever the transport WorkflowGen used: the raw body, one
``application/x-www-form-urlencoded`` field, or a ``multipart/form-data`` field or file part.
"""

from __future__ import annotations

import contextlib
import functools
import io
import json
import logging
import socket
import sys
import time
from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import parse_qsl

from flask import Flask, Request, Response, current_app, request
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge
from werkzeug.formparser import FormDataParser

from .apps import registry
from .apps.call import Services, execute
from .auth import FailureLimiter, credentials_match
from .context import Context, content_type, read_context, write_context, write_context_parts
from .errors import (
    REDACTED,
    AppError,
    AuthenticationRequired,
    BodyTimeout,
    ContextError,
    RequestTooLarge,
    TooManyAttempts,
)
from .events import CallEnded, CallStarted, HttpRejected
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


def create_app(
    services: Services, metrics: Callable[[], tuple[bytes, str]] | None = None
) -> Flask:
    """The Flask application serving every registered workflow application; ``metrics``
    renders ``GET /metrics`` (none: the route does not exist)."""
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

    if metrics is not None:

        @app.get("/metrics")
        def prometheus() -> Response:
            _authenticate(services.settings)
            body, content_type = metrics()
            return Response(body, 200, content_type=content_type)

    @app.get("/apps/<name>")
    def describe_app(name: str) -> Response:
        _authenticate(services.settings)
        return _json(registry.get(name).manifest())

    @app.post("/<name>")
    def run_app(name: str) -> Response:
        return answer(services, name, request)

    @app.errorhandler(AppError)
    def app_error(error: AppError) -> Response:
        return _refused(services, error)

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException) -> Response:
        if isinstance(error, RequestEntityTooLarge):
            return _refused(services, _too_large(limit))
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
    app.extensions["workflowapp.auth"] = FailureLimiter(
        services.settings.get_int("WorkflowAppAuthFailureLimit")
    )
    app.wsgi_app = LeanPost(app, functools.partial(answer, services))  # type: ignore[method-assign]
    return app


def answer(services: Services, name: str, request: Request) -> Response:
    """``POST /<name>``: run the application on the posted context. Flask's route and the lean
    path of :mod:`workflowapp.lean` both answer through here, each with its own ``request``;
    the web layer's refusals are answered here too (the lean path has no request context for
    Flask's error handlers to read the client address from)."""
    try:
        return _run(services, name, request)
    except AppError as error:
        return _refused(services, error, request)
    except RequestEntityTooLarge:  # werkzeug's own limit (MAX_CONTENT_LENGTH)
        return _refused(services, _too_large(services.settings.max_request_bytes), request)


def _run(services: Services, name: str, request: Request) -> Response:
    _authenticate(services.settings, request)
    application = registry.get(name)
    started = time.perf_counter()
    log = app_logger(application.name)
    try:
        body = _read_body(services.settings, application.log_setting, request)
        large = len(body) >= LARGE_BODY
        received, transport, field = _off_loop(large, _received, body, request.content_type)
    except AppError as error:
        if error.status not in _REJECTED:  # those are HttpRejected events (see _refused)
            _unreadable(services, application.name, error, started, request)
        raise
    del body  # a large body is not kept while the application runs
    if log.isEnabledFor(logging.DEBUG):
        log.debug("request %s %s headers %s", request.method, request.full_path,
                  _visible_headers(request))
        log.debug("context received as %s%s", transport, f" (field {field!r})" if field else "")
    outcome = execute(application, received, services, client=request.remote_addr)
    if outcome.error is not None:
        return _error(outcome.error)
    try:
        reply: bytes | list[bytes] = (
            _off_loop(True, write_context_parts, outcome.context) if large
            else write_context(outcome.context)
        )
    except ContextError:
        host_log.exception("%s: the reply context cannot be written", application.name)
        return _text("The host could not write the reply context; see its log.", 500)
    return Response(reply, 200, content_type=content_type(outcome.context.format))


def _unreadable(services: Services, name: str, error: AppError, started: float,
                request: Request) -> None:
    """A posted context that cannot be read is a failed call of its application all the same:
    logged at the application's error level, and its events sent (the access log's line, the
    calls metric) as :func:`workflowapp.apps.call.execute` sends them for a call that ran."""
    app_logger(name).error("%s: %s", name, error.message)
    events = services.events
    if events.active:
        events.emit(CallStarted(name))
        events.emit(CallEnded(name, "error", error.code, error.status,
                              time.perf_counter() - started, client=request.remote_addr))


def _authenticate(settings: Settings, request: Request = request) -> None:
    """Require the configured HTTP Basic credentials, compared in constant time; a client
    address past WorkflowAppAuthFailureLimit failures a minute gets 429 (see :mod:`.auth`)."""
    expected = settings.credentials
    if expected is None:
        return
    limiter: FailureLimiter = current_app.extensions["workflowapp.auth"]
    client = request.remote_addr or "unknown"
    wait = limiter.retry_after(client)
    if wait:
        raise TooManyAttempts(
            f"Too many failed authentications from this address; retry in {wait} s.",
            retry_after=wait,
        )
    if credentials_match(request.headers.get("Authorization", ""), expected):
        return
    limiter.failed(client)
    host_log.error("authentication failed: %s %s from %s", request.method, request.path, client)
    raise AuthenticationRequired(
        "Authentication required: set the application's username and password in "
        "WorkflowGen to WorkflowAppUsername/WorkflowAppPassword."
    )


def _visible_headers(request: Request) -> dict[str, str]:
    """The request headers for a debug log, credentials replaced."""
    hidden = {"authorization", "api-key", "cookie", "proxy-authorization"}
    return {k: (REDACTED if k.lower() in hidden else v) for k, v in request.headers.items()}


def _read_body(settings: Settings, log_setting: str, request: Request) -> bytes:
    """The raw body, refused with 413 before parsing when it exceeds the limit."""
    app_key = log_setting.removesuffix("LogLevel") + "MaxRequestBytes"
    limit = settings.max_request_bytes
    if settings.get(app_key):
        limit = min(limit, settings.get_int(app_key))
    if request.content_length is not None and request.content_length > limit:
        raise _too_large(limit)
    try:
        body = _read_within(settings.get_float("WorkflowAppBodyTimeout"), request)
    except RequestEntityTooLarge:
        raise _too_large(limit) from None
    except BodyTimeout:
        raise
    except Exception as exc:  # noqa: BLE001 - the server's parse errors (gunicorn's
        # InvalidChunkSize, ChunkMissingTerminator, NoMoreData) are the client's fault: 400
        raise ContextError(
            f"The request body cannot be read ({type(exc).__name__}): a malformed chunked "
            "body or a connection cut short."
        ) from None
    if len(body) > limit:
        raise _too_large(limit)
    return body


#: Bodies from this size on are parsed, and their replies written, off the event loop.
LARGE_BODY = 1 << 20
_T = TypeVar("_T")


def _received(body: bytes, full_type: str | None) -> tuple[Context, str, str]:
    """The context in ``body``, and how it came (see :func:`find_context`)."""
    raw, transport, field = find_context(body, full_type)
    return read_context(raw), transport, field


def _off_loop(large: bool, work: Callable[..., _T], *args: Any) -> _T:
    """``work(*args)``; for a large document under gevent, in a native thread, so that the
    worker's other connections (``/healthz``, calls waiting for their LLM) are served while a
    30 MB context is parsed or written (lxml releases the GIL while it parses)."""
    if large and _under_gevent():
        result: _T = _threadpool().apply(work, args)
        return result
    return work(*args)


@functools.cache  # one per worker process, made on first use (after the fork)
def _threadpool() -> Any:
    """Two threads: at most two large documents are parsed or written at once per worker,
    which bounds their memory; the hub's own pool stays free for DNS lookups."""
    from gevent.threadpool import ThreadPool

    return ThreadPool(2)


def _read_within(seconds: float, request: Request) -> bytes:
    """The request body; under gevent (gunicorn's gevent worker), a client that takes more
    than ``seconds`` to send it gets :class:`BodyTimeout` (408) and its connection is closed,
    so slow senders cannot hold the worker's connection slots. Other servers: see the README
    (waitress reads bodies itself before the application runs)."""
    if not _under_gevent():
        return _body(request)
    import gevent

    timeout = gevent.Timeout(seconds)
    timeout.start()
    try:
        return _body(request)
    except gevent.Timeout as exc:
        if exc is not timeout:
            raise
        _stop_reading(request.environ)
        raise BodyTimeout(
            f"The request body took longer than {seconds:g} s to arrive "
            "(WorkflowAppBodyTimeout)."
        ) from None
    finally:
        timeout.close()


def _body(request: Request) -> bytes:
    """The whole body, read in one call when its length is known: werkzeug's ``get_data``
    reads 64 KiB at a time, and gunicorn answers each such read by copying all it has read
    ahead (a 28 MB body blocked a gevent worker for ~0.7 s that way)."""
    length = request.content_length
    if length is None:  # chunked
        return request.get_data(cache=False)
    parts = []
    while length > 0:
        data = request.stream.read(length)
        if not data:
            raise ContextError("The request body is shorter than its Content-Length.")
        parts.append(data)
        length -= len(data)
    return parts[0] if len(parts) == 1 else b"".join(parts)


def _under_gevent() -> bool:
    """Whether sockets are gevent's (the gevent workers patch them before the app loads)."""
    monkey = sys.modules.get("gevent.monkey")
    return monkey is not None and bool(monkey.is_module_patched("socket"))


def _stop_reading(environ: dict[str, object]) -> None:
    """Shut the read side of the client connection: gunicorn would otherwise wait for the rest
    of the slow body before closing (it ignores an application's ``Connection: close``)."""
    shutdown = getattr(environ.get("gunicorn.socket"), "shutdown", None)
    if callable(shutdown):
        with contextlib.suppress(OSError):
            shutdown(socket.SHUT_RD)


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
    """Whether ``data`` starts (after a BOM and blanks) with ``{`` or ``<``: UTF-8, or UTF-16
    as the context reader accepts it (a BOM, or a NUL in the first two bytes)."""
    head = data[:128]
    if head.startswith((b"\xff\xfe", b"\xfe\xff")) or b"\x00" in head[:2]:
        encoding = "utf-16" if head[:2] in (b"\xff\xfe", b"\xfe\xff") else (
            "utf-16-be" if head[:1] == b"\x00" else "utf-16-le")
        text = head[: len(head) // 2 * 2].decode(encoding, "ignore")
        return text.lstrip("\ufeff \t\r\n")[:1] in ("{", "<")
    start = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    return start[:1] in (b"{", b"<")


#: Refusals made before any application runs, reported as HttpRejected events.
_REJECTED = frozenset({401, 404, 408, 413, 429})


def _refused(services: Services, error: AppError, request: Request = request) -> Response:
    """The answer to an error raised in the web layer, with an HttpRejected event for the
    refusals that happen before an application runs."""
    if error.status in _REJECTED and services.events.active:
        services.events.emit(HttpRejected(error.status, request.remote_addr))
    return _error(error)


def _error(error: AppError) -> Response:
    response = _text(error.message.splitlines()[0] if error.message else error.code, error.status)
    response.headers["X-WorkflowApp-Error"] = error.code
    if isinstance(error, AuthenticationRequired):
        response.headers["WWW-Authenticate"] = 'Basic realm="workflowapp", charset="UTF-8"'
    elif isinstance(error, TooManyAttempts):
        response.headers["Retry-After"] = str(error.retry_after)
    elif isinstance(error, BodyTimeout):
        response.headers["Connection"] = "close"  # the rest of the body is never read
    return response


def _text(message: str, status: int) -> Response:
    """A plain-text answer; a lone surrogate the message quotes (a name, a path) is written as
    its escape, since UTF-8 cannot carry it."""
    body = (message + "\n").encode("utf-8", "backslashreplace")
    return Response(body, status, content_type="text/plain; charset=utf-8")


def _json(document: object) -> Response:
    body = json.dumps(document, ensure_ascii=False, indent=2)
    return Response(body, 200, content_type="application/json; charset=utf-8")

"""``POST /<APP>``: authenticate, read the context, run the application, answer; werkzeug only.

The host's WSGI path (:class:`workflowapp.host.Host`) and Flask's route (hooks of one's own,
:mod:`workflowapp.web`) both answer through :func:`answer`, each with its own request. The web
layer's refusals (401, 404, 408, 413, 429) are :class:`~workflowapp.events.HttpRejected`
events; a context that cannot be read is a failed call of its application.
"""

from __future__ import annotations

import json
import logging
import time
from typing import TYPE_CHECKING

from .apps import registry
from .apps.call import execute
from .auth import credentials_match
from .body import LARGE_BODY, context_in, off_loop, read_body
from .context import content_type, write_context, write_context_parts
from .errors import (
    REDACTED,
    AppError,
    AuthenticationRequired,
    BodyTimeout,
    ContextError,
    TooManyAttempts,
)
from .events import CallEnded, CallStarted, HttpRejected
from .logs import app_logger
from .wire import Request, Response

if TYPE_CHECKING:
    from .host import Host

SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
    "Referrer-Policy": "no-referrer",
}

#: Refusals made before any application runs, reported as HttpRejected events.
_REJECTED = frozenset({401, 404, 408, 413, 429})

host_log = logging.getLogger("workflowapp.host")


def answer(host: Host, name: str, request: Request) -> Response:
    """``POST /<name>``: run the application on the posted context; the web layer's own
    refusals answered here too."""
    try:
        return _run(host, name, request)
    except AppError as error:
        return refused(host, error, request)


def _run(host: Host, name: str, request: Request) -> Response:
    services = host.services
    authenticate(host, request)
    application = registry.get(name)
    started = time.perf_counter()
    log = app_logger(application.name)
    try:
        body = read_body(services.settings, application.log_setting, request)
        large = len(body) >= LARGE_BODY
        received, transport, field = off_loop(large, context_in, body, request.content_type)
    except AppError as error:
        if error.status not in _REJECTED:  # those are HttpRejected events (see refused)
            _unreadable(host, application.name, error, started, request)
        raise
    del body  # a large body is not kept while the application runs
    if log.isEnabledFor(logging.DEBUG):
        log.debug("request %s %s headers %s", request.method, request.full_path,
                  _visible_headers(request))
        log.debug("context received as %s%s", transport, f" (field {field!r})" if field else "")
    outcome = execute(application, received, services, client=request.remote_addr)
    if outcome.error is not None:
        return error_answer(outcome.error)
    try:
        reply: bytes | list[bytes] = (
            off_loop(True, write_context_parts, outcome.context) if large
            else write_context(outcome.context)
        )
    except ContextError:
        host_log.exception("%s: the reply context cannot be written", application.name)
        return text("The host could not write the reply context; see its log.", 500)
    return Response(reply, 200, content_type=content_type(outcome.context.format))


def _unreadable(host: Host, name: str, error: AppError, started: float,
                request: Request) -> None:
    """A posted context that cannot be read is a failed call of its application all the same:
    logged at the application's error level, and its events sent (the access log's line, the
    calls metric) as :func:`workflowapp.apps.call.execute` sends them for a call that ran."""
    app_logger(name).error("%s: %s", name, error.message)
    events = host.services.events
    if events.active:
        events.emit(CallStarted(name))
        events.emit(CallEnded(name, "error", error.code, error.status,
                              time.perf_counter() - started, client=request.remote_addr))


def authenticate(host: Host, request: Request) -> None:
    """Require the configured HTTP Basic credentials, compared in constant time; a client
    address past WorkflowAppAuthFailureLimit failures a minute gets 429 (see :mod:`.auth`)."""
    expected = host.services.settings.credentials
    if expected is None:
        return
    limiter = host.limiter
    client = request.remote_addr or "unknown"
    wait = limiter.retry_after(client)
    if wait:
        raise TooManyAttempts(
            f"Too many failed authentications from this address; retry in {wait} s.",
            retry_after=wait,
        )
    if credentials_match(request.header("Authorization"), expected):
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
    return {k: (REDACTED if k.lower() in hidden else v) for k, v in request.headers()}


def refused(host: Host, error: AppError, request: Request) -> Response:
    """The answer to an error raised in the web layer, with an HttpRejected event for the
    refusals that happen before an application runs."""
    if error.status in _REJECTED and host.services.events.active:
        host.services.events.emit(HttpRejected(error.status, request.remote_addr))
    return error_answer(error)


def unexpected() -> Response:
    """The answer to a host bug (called while the exception is handled: it is logged)."""
    host_log.exception("unexpected error")
    return text("The host failed unexpectedly; see its log.", 500)


def error_answer(error: AppError) -> Response:
    """The plain-text answer to a refused or failed call, its code in X-WorkflowApp-Error."""
    response = text(error.message.splitlines()[0] if error.message else error.code,
                    error.status)
    response.headers["X-WorkflowApp-Error"] = error.code
    if isinstance(error, AuthenticationRequired):
        response.headers["WWW-Authenticate"] = 'Basic realm="workflowapp", charset="UTF-8"'
    elif isinstance(error, TooManyAttempts):
        response.headers["Retry-After"] = str(error.retry_after)
    elif isinstance(error, BodyTimeout):
        response.headers["Connection"] = "close"  # the rest of the body is never read
    return response


def text(message: str, status: int) -> Response:
    """A plain-text answer; a lone surrogate the message quotes (a name, a path) is written as
    its escape, since UTF-8 cannot carry it."""
    body = (message + "\n").encode("utf-8", "backslashreplace")
    return Response(body, status, content_type="text/plain; charset=utf-8")


def json_answer(document: object) -> Response:
    """A JSON answer (the manifests of ``GET /apps``)."""
    body = json.dumps(document, ensure_ascii=False, indent=2).encode()
    return Response(body, 200, content_type="application/json; charset=utf-8")

"""The Flask application (the only module importing Flask): every request but a plain
``POST /<APP>``, which :class:`workflowapp.host.Host` answers itself.

``GET /apps`` and ``GET /apps/<APP>`` describe the applications. ``POST /<APP>``,
``GET /healthz`` and ``GET /metrics`` (when ``WorkflowAppMetrics`` is on) come here only while
the application has hooks of one's own (``before_request``...), and are answered alike.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from flask import Flask, Response, request
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from . import wire
from .apps import registry
from .body import too_large
from .errors import AppError
from .post import (
    SECURITY_HEADERS,
    answer,
    authenticate,
    json_answer,
    refused,
    text,
    unexpected,
)

if TYPE_CHECKING:
    from .host import Host


def create_app(host: Host) -> Flask:
    """The Flask application of ``host``: its routes, error answers and security headers."""
    app = Flask("workflowapp")
    app.url_map.strict_slashes = False
    app.config.update(MAX_CONTENT_LENGTH=host.limit, MAX_FORM_MEMORY_SIZE=host.limit)

    def sent() -> wire.Request:
        return wire.Request(request.environ)

    @app.get("/healthz")
    def healthz() -> Response:
        return flask_response(text("ok", 200))

    @app.get("/apps")
    def list_apps() -> Response:
        authenticate(host, sent())
        return flask_response(
            json_answer({"apps": [each.manifest() for each in registry.all_apps()]}))

    if host.metrics is not None:
        render = host.metrics

        @app.get("/metrics")
        def prometheus() -> Response:
            authenticate(host, sent())
            body, content_type = render()
            return Response(body, 200, content_type=content_type)

    @app.get("/apps/<name>")
    def describe_app(name: str) -> Response:
        authenticate(host, sent())
        return flask_response(json_answer(registry.get(name).manifest()))

    @app.post("/<name>")
    def run_app(name: str) -> Response:
        return flask_response(answer(host, name, sent()))

    @app.errorhandler(AppError)
    def app_error(error: AppError) -> Response:
        return flask_response(refused(host, error, sent()))

    @app.errorhandler(HTTPException)
    def werkzeug_error(error: HTTPException) -> Response:
        return flask_response(http_error(host, error, sent()))

    @app.errorhandler(Exception)
    def host_bug(error: Exception) -> Response:
        return flask_response(unexpected())

    app.after_request(secure)
    return app


def http_error(host: Host, error: HTTPException, request: wire.Request) -> wire.Response:
    """The answer to one of werkzeug's HTTP errors (no route, wrong method, body too large)."""
    if isinstance(error, RequestEntityTooLarge):
        return refused(host, too_large(host.limit), request)
    message = {
        404: "Not found. POST a WorkflowGen context to /<APP>; GET /apps lists them.",
        405: "Method not allowed. POST a WorkflowGen context; GET /apps/<APP> describes it.",
    }.get(error.code or 500, error.description or "HTTP error")
    return text(message, error.code or 500)


def flask_response(response: wire.Response) -> Response:
    """The host's answer as Flask's response."""
    return Response(response.body, response.status, headers=response.headers)


def secure(response: Response) -> Response:
    """Every answer carries the security headers."""
    response.headers.update(SECURITY_HEADERS)
    return response

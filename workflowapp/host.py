"""The host's WSGI application: ``POST /<APP>``, ``GET /healthz`` and ``GET /metrics`` answered
here, everything else by Flask.

``POST /<APP>`` is the one request WorkflowGen sends, ``GET /healthz`` the one load balancers
send and ``GET /metrics`` the one Prometheus sends: they are answered without a framework
(:mod:`workflowapp.post`, :mod:`workflowapp.wire`): no Flask or werkzeug import, no application
or request context, routing, session or signals. The Flask application (:mod:`workflowapp.web`:
``GET /apps``, ``GET /apps/<APP>``, the 404/405 answers) is built on the first other request.
A worker thus starts without importing werkzeug, Flask, Jinja and Click (~70 ms of each
worker's start, bench/coldstart.py), and a call costs less CPU.

Everything goes to Flask while something expects its dispatch: hooks of one's own on the Flask
application (``before_request``, ``after_request``, error handlers, teardown functions, URL
value preprocessors) or receivers of Flask's request and app-context signals; observers belong
on :mod:`workflowapp.events`, which both paths emit alike. Both paths answer through
:func:`workflowapp.post.answer`, with the same security headers and error answers
(``tests/test_host.py`` compares them). A WSGI middleware wraps ``host.wsgi_app``, as with
Flask, and then sees every request.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from .auth import FailureLimiter
from .errors import AppError
from .post import SECURITY_HEADERS, answer, authenticate, refused, text, unexpected
from .wire import Request, Response

if TYPE_CHECKING:
    from collections.abc import Callable

    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment
    from flask import Flask
    from werkzeug.test import Client

    from .apps.call import Services

#: Flask's signals around a request, which the host's own path does not send.
_REQUEST_SIGNALS = ("request_started", "request_finished", "got_request_exception",
                    "request_tearing_down", "appcontext_pushed", "appcontext_popped",
                    "appcontext_tearing_down")


class Host:
    """The WSGI application serving every registered workflow application."""

    def __init__(self, services: Services,
                 metrics: Callable[[], tuple[bytes, str]] | None = None) -> None:
        self.services = services
        #: Renders ``GET /metrics``; none: the route does not exist.
        self.metrics = metrics
        self.limiter = FailureLimiter(services.settings.get_int("WorkflowAppAuthFailureLimit"))
        self.limit = services.settings.max_request_bytes
        #: What the server calls: wrap it for a WSGI middleware, as with Flask
        #: (``host.wsgi_app = ProxyFix(host.wsgi_app)``), so that every route passes through it.
        self.wsgi_app: WSGIApplication = self.dispatch
        self._flask: Flask | None = None
        self._building = threading.Lock()
        self._own_hooks: frozenset[object] = frozenset()

    @property
    def flask(self) -> Flask:
        """The Flask application for every request the host does not answer itself, built
        on first use (once, whatever the threads)."""
        app = self._flask
        if app is None:
            with self._building:
                if self._flask is None:
                    from .web import create_app

                    built = create_app(self)
                    self._own_hooks = _hooks(built)
                    self._flask = built
                app = self._flask
        return app

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse
                 ) -> Iterable[bytes]:
        return self.wsgi_app(environ, start_response)

    def dispatch(self, environ: WSGIEnvironment, start_response: StartResponse
                 ) -> Iterable[bytes]:
        """The host itself; ``wsgi_app`` unless a middleware wraps it."""
        name = _app_name(environ)
        path = environ.get("PATH_INFO") if environ.get("REQUEST_METHOD") == "GET" else None
        render = self.metrics if path == "/metrics" else None
        if (name is None and path != "/healthz" and render is None) or not self._plain():
            return self.flask(environ, start_response)
        request = Request(environ)
        try:
            if name is not None:
                response = answer(self, name, request)
            elif render is not None:
                response = self.scrape(request, render)
            else:
                response = text("ok", 200)
        except Exception:  # noqa: BLE001 - logged; the client gets a plain 500
            response = unexpected()
        response.headers.update(SECURITY_HEADERS)
        return response(environ, start_response)

    def scrape(self, request: Request, render: Callable[[], tuple[bytes, str]]) -> Response:
        """The answer to ``GET /metrics`` (Prometheus scrapes it every few seconds)."""
        try:
            authenticate(self, request)
        except AppError as error:
            return refused(self, error, request)
        body, content_type = render()
        return Response(body, 200, content_type)

    def test_client(self) -> Client:
        """A werkzeug test client calling this application in-process (``workflowapp call``,
        the tests), from 127.0.0.1 as a server reports its clients."""
        from werkzeug.test import Client

        class LocalClient(Client):
            def open(self, *args: Any, **kwargs: Any) -> Any:
                kwargs["environ_base"] = {"REMOTE_ADDR": "127.0.0.1",
                                          **(kwargs.get("environ_base") or {})}
                return super().open(*args, **kwargs)

        return LocalClient(self)

    def _plain(self) -> bool:
        """True while nothing expects Flask's dispatch: no receiver of Flask's request or
        app-context signals, and (once the Flask application exists) no hook but its own."""
        signals = sys.modules.get("flask.signals")
        if signals is not None and any(
                getattr(signals, name).receivers for name in _REQUEST_SIGNALS):
            return False
        app = self._flask
        return app is None or _hooks(app) == self._own_hooks


def _hooks(app: Flask) -> frozenset[object]:
    """Every function the Flask application runs around a request or on an error."""
    found: list[object] = [*app.teardown_appcontext_funcs]
    for registry in (app.before_request_funcs, app.after_request_funcs,
                     app.teardown_request_funcs, app.url_value_preprocessors):
        for functions in registry.values():
            found.extend(functions)
    for by_code in app.error_handler_spec.values():
        for by_class in by_code.values():
            found.extend(by_class.values())
    return frozenset(found)


def _app_name(environ: WSGIEnvironment) -> str | None:
    """The ``<APP>`` of ``POST /<APP>`` (one non-empty ASCII path segment), else None."""
    if environ.get("REQUEST_METHOD") != "POST":
        return None
    path: str = environ.get("PATH_INFO", "")
    name = path[1:]
    if not name or path[0] != "/" or "/" in name or not name.isascii():
        return None
    return name

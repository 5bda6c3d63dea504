"""A lean WSGI path for ``POST /<APP>``, the one request WorkflowGen sends, in front of Flask.

Flask's own dispatch pushes a request context (URL adapter, routing, a null session) on top
of the application context, then runs its signals and hooks: ~0.1 ms of CPU per call,
measured (bench/README.md). This layer answers ``POST /<one path segment>`` itself, through
the very function Flask's route calls (``answer``, :func:`workflowapp.web.answer`: the same
authentication, body limits and errors), inside an application context (``current_app``
works, and so do the request body limits that read it); it runs the error handlers and
``after_request`` functions registered on the Flask application (the same security headers
and error answers) and hands every other request to Flask unchanged.

It steps aside entirely (Flask serves everything) when the application has hooks it does not
run: ``before_request``, URL value preprocessors, teardown functions, or receivers of Flask's
request signals (observers belong on :mod:`workflowapp.events`, which both paths emit alike).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from flask import signals
from werkzeug.exceptions import HTTPException

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment
    from flask import Flask, Request, Response

#: Flask's per-request signals, which this path does not send.
_REQUEST_SIGNALS = (signals.request_started, signals.request_finished,
                    signals.got_request_exception, signals.request_tearing_down)


class LeanPost:
    """``app.wsgi_app`` replacement: POST /<APP> served directly, the rest by Flask."""

    def __init__(self, app: Flask, answer: Callable[[str, Request], Response]) -> None:
        self.app = app
        self.answer = answer
        self.flask: WSGIApplication = app.wsgi_app

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse
                 ) -> Iterable[bytes]:
        name = _app_name(environ)
        if name is None or not self._plain():
            return self.flask(environ, start_response)
        app = self.app
        with app.app_context():
            request = app.request_class(environ)
            try:
                try:
                    response = self.answer(name, request)
                except Exception as error:  # what Flask would hand its error handlers
                    response = self._handled(error)
                for hook in reversed(app.after_request_funcs.get(None, [])):
                    response = hook(response)
            finally:
                request.close()
            return response(environ, start_response)

    def _plain(self) -> bool:
        """True while the Flask application has no hook this layer would skip."""
        app = self.app
        return not (any(app.before_request_funcs.values())
                    or any(app.url_value_preprocessors.values())
                    or any(app.teardown_request_funcs.values())
                    or app.teardown_appcontext_funcs
                    or any(signal.receivers for signal in _REQUEST_SIGNALS))

    def _handled(self, error: Exception) -> Response:
        """The answer of the application's error handler for ``error`` (by status code first,
        then by class, most specific first, as Flask looks them up); re-raised if none."""
        code = error.code if isinstance(error, HTTPException) else None
        scope = self.app.error_handler_spec.get(None, {})
        for key in (code, None) if code is not None else (None,):
            handlers: dict[Any, Callable[[Any], Any]] = scope.get(key, {})
            for cls in type(error).__mro__:
                handler = handlers.get(cls)
                if handler is not None:
                    result: Response = self.app.make_response(handler(error))
                    return result
        raise error


def _app_name(environ: WSGIEnvironment) -> str | None:
    """The ``<APP>`` of ``POST /<APP>`` (one non-empty ASCII path segment), else None."""
    if environ.get("REQUEST_METHOD") != "POST":
        return None
    path: str = environ.get("PATH_INFO", "")
    name = path[1:]
    if not name or path[0] != "/" or "/" in name or not name.isascii():
        return None
    return name

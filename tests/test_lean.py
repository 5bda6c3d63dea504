"""The lean POST /<APP> path answers exactly as Flask's own dispatch does, and steps aside when
the Flask application has hooks it would not run."""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask, request_finished
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from werkzeug.test import EnvironBuilder, run_wsgi_app

from tests.helpers import context, out, param
from workflowapp.context.model import Format
from workflowapp.lean import LeanPost

ECHO = context(param("A", "é & <b>"), out("A_OUT"))
AUTH = {"WorkflowAppUsername": "wfgen", "WorkflowAppPassword": "s3cret-pass",
        "WorkflowAppMaxRequestBytes": "600",
        "WorkflowAppAuthFailureLimit": "1000000"}  # both paths count failures: no 429 midway
GOOD = "Basic " + base64.b64encode(b"wfgen:s3cret-pass").decode()

paths = st.one_of(
    st.sampled_from(["/ECHO", "/echo", "/EcHo", "/NOPE", "/healthz", "/apps", "/ECHO/", "//ECHO",
                     "/", "/apps/ECHO", "/%C3%A9", "/ECHO?x=1", "/OPENAICHAT"]),
    st.text(st.characters(codec="utf-8", exclude_characters="?#%"), max_size=12).map(
        lambda text: "/" + text),
)
bodies = st.sampled_from([
    ECHO, context(param("A", "x"), out("A_OUT"), fmt=Format.JSON), b"", b"   ", b"not a context",
    b"<unclosed", b"{", ECHO * 3, b"<!DOCTYPE x [<!ENTITY e 'x'>]><x>&e;</x>",
])
headers = st.sampled_from([{}, {"Authorization": GOOD}, {"Authorization": "Basic bm9wZQ=="},
                           {"Authorization": GOOD, "Content-Type": "application/json"},
                           {"Authorization": GOOD, "Content-Type": "multipart/form-data"}])


def answer(wsgi: Any, path: str, method: str, body: bytes, extra: dict[str, str]
           ) -> tuple[str, list[tuple[str, str]], bytes]:
    environ = EnvironBuilder(path=path, method=method, data=body,
                             headers=list(extra.items())).get_environ()
    iterable, status, found = run_wsgi_app(wsgi, environ, buffered=True)
    return status, sorted(found.items()), b"".join(iterable)


@pytest.fixture
def app(make_client: Callable[..., FlaskClient]) -> Flask:
    flask_app = make_client(**AUTH).application
    assert isinstance(flask_app, Flask)
    return flask_app


@pytest.fixture
def dispatched(app: Flask, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The paths Flask dispatched itself."""
    seen: list[str] = []
    dispatch = app.full_dispatch_request

    def record() -> Any:
        from flask import request

        seen.append(request.path)
        return dispatch()

    monkeypatch.setattr(app, "full_dispatch_request", record)
    return seen


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(path=paths, method=st.sampled_from(["POST", "GET", "PUT", "HEAD"]), body=bodies,
       extra=headers)
def test_same_answer_as_flask(app: Flask, path: str, method: str, body: bytes,
                              extra: dict[str, str]) -> None:
    lean = app.wsgi_app
    assert isinstance(lean, LeanPost)
    assert answer(lean, path, method, body, extra) == answer(lean.flask, path, method, body,
                                                             extra)


def test_post_app_skips_flask_dispatch(app: Flask, dispatched: list[str]) -> None:
    client = app.test_client()
    response = client.post("/ECHO", data=ECHO, headers={"Authorization": GOOD})
    assert response.status_code == 200
    assert response.headers["X-Frame-Options"] == "DENY"
    assert client.get("/healthz").status_code == 200
    assert dispatched == ["/healthz"]


def test_errors_are_the_flask_handlers_answers(app: Flask, monkeypatch: pytest.MonkeyPatch
                                               ) -> None:
    def broken(*_: Any, **__: Any) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr("workflowapp.web.execute", broken)
    lean = app.wsgi_app
    assert isinstance(lean, LeanPost)
    found = answer(lean, "/ECHO", "POST", ECHO, {"Authorization": GOOD})
    assert found == answer(lean.flask, "/ECHO", "POST", ECHO, {"Authorization": GOOD})
    status, headers, body = found
    assert status.startswith("500") and b"failed unexpectedly" in body
    assert ("X-Content-Type-Options", "nosniff") in headers
    assert b"boom" not in body


def test_steps_aside_when_flask_has_hooks_it_would_skip(app: Flask, dispatched: list[str]
                                                        ) -> None:
    calls: list[str] = []

    def before() -> None:
        calls.append("before")

    app.before_request(before)
    response = app.test_client().post("/ECHO", data=ECHO, headers={"Authorization": GOOD})
    assert response.status_code == 200
    assert calls == ["before"]
    assert dispatched == ["/ECHO"]


def test_steps_aside_for_receivers_of_flask_request_signals(app: Flask, dispatched: list[str]
                                                           ) -> None:
    finished: list[int] = []

    def record(sender: Any, response: Any, **_: Any) -> None:
        finished.append(response.status_code)

    request_finished.connect(record, app)
    try:
        response = app.test_client().post("/ECHO", data=ECHO, headers={"Authorization": GOOD})
    finally:
        request_finished.disconnect(record, app)
    assert response.status_code == 200
    assert finished == [200]
    assert dispatched == ["/ECHO"]

"""The host's own POST /<APP> path answers exactly as Flask's dispatch does, imports no Flask
until another request needs it, and steps aside when the Flask application has hooks it would
not run."""

from __future__ import annotations

import base64
import subprocess
import sys
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from flask import Flask, appcontext_tearing_down, request_finished
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from werkzeug.test import Client as WebClient
from werkzeug.test import EnvironBuilder, run_wsgi_app

from tests.helpers import context, out, param
from workflowapp.context.model import Format
from workflowapp.events import CallEnded
from workflowapp.host import Host

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
def host(make_client: Callable[..., WebClient]) -> Host:
    built = make_client(**AUTH).application
    assert isinstance(built, Host)
    return built


@pytest.fixture
def app(host: Host) -> Flask:
    return host.flask


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
def test_same_answer_as_flask(host: Host, app: Flask, path: str, method: str, body: bytes,
                              extra: dict[str, str]) -> None:
    assert answer(host, path, method, body, extra) == answer(app, path, method, body, extra)


def test_post_app_skips_flask_dispatch(host: Host, dispatched: list[str]) -> None:
    client = host.test_client()
    response = client.post("/ECHO", data=ECHO, headers={"Authorization": GOOD})
    assert response.status_code == 200
    assert response.headers["X-Frame-Options"] == "DENY"
    assert client.get("/healthz").status_code == 200
    assert client.get("/apps", headers={"Authorization": GOOD}).status_code == 200
    assert dispatched == ["/apps"]


def test_errors_are_the_flask_handlers_answers(host: Host, app: Flask,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*_: Any, **__: Any) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr("workflowapp.post.execute", broken)
    found = answer(host, "/ECHO", "POST", ECHO, {"Authorization": GOOD})
    assert found == answer(app, "/ECHO", "POST", ECHO, {"Authorization": GOOD})
    status, headers, body = found
    assert status.startswith("500") and b"failed unexpectedly" in body
    assert ("X-Content-Type-Options", "nosniff") in headers
    assert b"boom" not in body


def test_steps_aside_when_flask_has_hooks_it_would_skip(host: Host, app: Flask,
                                                        dispatched: list[str]) -> None:
    calls: list[str] = []

    def before() -> None:
        calls.append("before")

    app.before_request(before)
    response = host.test_client().post("/ECHO", data=ECHO, headers={"Authorization": GOOD})
    assert response.status_code == 200
    assert calls == ["before"]
    assert dispatched == ["/ECHO"]


@pytest.mark.parametrize("hook", ["after_request", "errorhandler", "teardown_request"])
def test_steps_aside_for_any_hook_of_ones_own(host: Host, app: Flask, dispatched: list[str],
                                             hook: str) -> None:
    def own(value: Any = None) -> Any:
        return value

    if hook == "errorhandler":
        app.errorhandler(KeyError)(own)
    else:
        getattr(app, hook)(own)
    response = host.test_client().post("/ECHO", data=ECHO, headers={"Authorization": GOOD})
    assert response.status_code == 200
    assert dispatched == ["/ECHO"]


WORKER = r"""
import io, sys
from workflowapp import create_app
from workflowapp.settings import Settings
host = create_app(Settings.load({}, env_file="absent.env", web_config="absent.config"))
body = sys.stdin.buffer.read()
loaded = {"flask", "jinja2", "werkzeug", "werkzeug.routing"}


def call(method, path, data=b""):
    environ = {"REQUEST_METHOD": method, "PATH_INFO": path, "CONTENT_LENGTH": str(len(data)),
               "wsgi.input": io.BytesIO(data), "REMOTE_ADDR": "127.0.0.1",
               "SERVER_NAME": "localhost", "SERVER_PORT": "80", "wsgi.url_scheme": "http"}
    seen = []
    b"".join(host(environ, lambda status, headers: seen.append(status)))
    return seen[0]


assert call("POST", "/ECHO", body).startswith("200"), call("POST", "/ECHO", body)
assert call("GET", "/healthz").startswith("200")
assert call("GET", "/metrics").startswith("200")
print(sorted(loaded & set(sys.modules)))
assert call("GET", "/apps").startswith("200")
print(sorted(loaded & set(sys.modules)))
"""


def test_a_worker_serving_posts_healthz_and_metrics_imports_no_framework(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-c", WORKER], input=ECHO, capture_output=True,
                          cwd=tmp_path, timeout=60, check=False)
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    assert done.stdout.decode().splitlines() == [
        "[]", "['flask', 'jinja2', 'werkzeug', 'werkzeug.routing']"]


def test_a_middleware_on_wsgi_app_sees_every_route(host: Host) -> None:
    seen: list[str] = []
    inner = host.wsgi_app

    def middleware(environ: Any, start_response: Any) -> Any:
        seen.append(environ["PATH_INFO"])
        environ["REMOTE_ADDR"] = "10.7.7.7"  # as ProxyFix would from X-Forwarded-For
        return inner(environ, start_response)

    host.wsgi_app = middleware
    records: list[object] = []
    host.services.events.subscribe(records.append)
    client = host.test_client()
    assert client.post("/ECHO", data=ECHO, headers={"Authorization": GOOD}).status_code == 200
    assert client.get("/healthz").status_code == 200
    assert client.get("/apps", headers={"Authorization": GOOD}).status_code == 200
    assert seen == ["/ECHO", "/healthz", "/apps"]
    assert [event.client for event in records if isinstance(event, CallEnded)] == ["10.7.7.7"]


@pytest.mark.parametrize("signal", [request_finished, appcontext_tearing_down],
                         ids=["request_finished", "appcontext_tearing_down"])
def test_steps_aside_for_receivers_of_flask_signals(host: Host, app: Flask,
                                                    dispatched: list[str], signal: Any) -> None:
    heard: list[object] = []

    def record(sender: Any, **_: Any) -> None:
        heard.append(sender)

    signal.connect(record, app)
    try:
        response = host.test_client().post("/ECHO", data=ECHO, headers={"Authorization": GOOD})
    finally:
        signal.disconnect(record, app)
    assert response.status_code == 200
    assert heard == [app]
    assert dispatched == ["/ECHO"]


def test_the_flask_application_is_built_once_whatever_the_threads(
        make_client: Callable[..., WebClient]) -> None:
    host = make_client().application
    assert isinstance(host, Host)
    start = threading.Barrier(8)

    def build() -> Flask:
        start.wait()
        return host.flask

    with ThreadPoolExecutor(8) as pool:
        built = list(pool.map(lambda _: build(), range(8)))
    assert all(each is built[0] for each in built)
    assert host._plain()


@pytest.mark.parametrize("extra", [{}, {"Authorization": GOOD}, {"Authorization": "Basic eA=="}])
def test_metrics_answered_as_flask_answers_them(host: Host, app: Flask,
                                                extra: dict[str, str]) -> None:
    ours = answer(host, "/metrics", "GET", b"", extra)
    flasks = answer(app, "/metrics", "GET", b"", extra)
    assert ours[0] == flasks[0]
    assert [name for name, _ in ours[1]] == [name for name, _ in flasks[1]]
    assert dict(ours[1])["Content-Type"] == dict(flasks[1])["Content-Type"]
    if ours[0].startswith("200"):
        assert b"workflowapp_calls_total" in ours[2]
    else:
        assert ours[2] == flasks[2]

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

import itertools
import json
import re
import socket
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.wrappers import Request

from tests.fakes import spec as specs
from tests.fakes.records import FileInfo, RecordedRequest
from tests.fakes.replies import Reply, ReplyLike, default_reply, error_body
from tests.fakes.spec import InvalidReply, Problem

__all__ = ["ENDPOINTS", "FakeOpenAI"]

ENDPOINTS = ("chat", "moderations", "transcriptions")
_SUFFIXES = (("/chat/completions", "chat"), ("/moderations", "moderations"),
             ("/audio/transcriptions", "transcriptions"), ("/models", "models"))
_AZURE = re.compile(r"/openai/deployments/(?P<deployment>[^/]+)(?P<rest>/.*)$")
_AZURE_V1 = re.compile(r"/openai/v1(?P<rest>/.*)$")
_JSON = "application/json"
_TEXT = "text/plain; charset=utf-8"

StartResponse = Callable[..., Any]


@dataclass
class _Answer:
    status: int
    body: bytes
    headers: list[tuple[str, str]] = field(default_factory=list)
    drop: bool = False


@dataclass(frozen=True)
class _Route:
    endpoint: str | None
    flavor: str = "openai"
    deployment: str | None = None


class _Refusal(Exception):
    """A request answered before any script runs (auth, URL, validation)."""

    def __init__(self, status: int, body: dict[str, Any], invalid: str | None = None) -> None:
        super().__init__(invalid or json.dumps(body))
        self.status = status
        self.body = body
        self.invalid = invalid


class FakeOpenAI:
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
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 0, *, delay: float = 0.0,
                 validate: bool = True, api_key: str | None = None, require_auth: bool = True,
                 deployments: Iterable[str] | None = None, record_limit: int | None = None,
                 spec_dir: str | Path | None = None,
                 server: Literal["threaded", "gevent"] = "threaded") -> None:
        self.host = host
        self.port = port
        self.server_kind = server
        self.spec, self.schema_skipped_reason = specs.load_spec(spec_dir)
        self._defaults: dict[str, Any] = {
            "delay": delay, "validate": validate, "api_key": api_key,
            "require_auth": require_auth,
            "deployments": None if deployments is None else frozenset(deployments),
        }
        self.delay: float = delay
        self.validate: bool = validate
        self.api_key: str | None = api_key
        self.require_auth: bool = require_auth
        self.deployments: frozenset[str] | None = self._defaults["deployments"]
        self._lock = threading.Lock()
        self._record_limit = record_limit
        self._requests: deque[RecordedRequest] = deque(maxlen=record_limit)
        self._invalid: list[str] = []
        self._errors: list[str] = []
        self._queue: deque[ReplyLike] = deque()
        self._queues: dict[str, deque[ReplyLike]] = {name: deque() for name in ENDPOINTS}
        self._ids = itertools.count(1)
        self._total = 0
        self._in_flight = 0
        self._max_in_flight = 0
        self._expect_invalid = False
        self._wake = threading.Event()
        self._server: Any = None
        self._thread: threading.Thread | None = None

    # -- URLs ----------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """``http://host:port`` (no path)."""
        return f"http://{self.host}:{self.port}"

    @property
    def base_url(self) -> str:
        """The OpenAI base URL, ``http://host:port/v1``."""
        return f"{self.url}/v1"

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

    # -- lifecycle -----------------------------------------------------------------------------

    def start(self) -> FakeOpenAI:
        """Serve in a daemon thread (werkzeug, threaded); returns ``self``."""
        if self._server is not None:
            return self
        if self.server_kind != "threaded":
            raise ValueError("start() runs the threaded server; use serve_forever() for gevent")
        self._wake = threading.Event()
        self._server = _make_werkzeug_server(self.host, self.port, self)
        self.port = self._server.server_port
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.05},
                                        name=f"openai-fake-{self.port}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and wake any delayed answer."""
        self._wake.set()
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> FakeOpenAI:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def serve_forever(self, ready: Callable[[str], None] | None = None) -> None:
        """Serve in this thread until interrupted; ``ready(url)`` is called once listening."""
        if self.server_kind == "gevent":
            from gevent.pywsgi import WSGIServer

            # Accepted sockets inherit TCP_NODELAY: gevent.pywsgi writes headers and body in two
            # sends, and with Nagle's algorithm on every kept-alive answer would wait ~40 ms
            # for the client's delayed ACK (real OpenAI endpoints do not).
            server = WSGIServer(_nodelay_listener(self.host, self.port), self, log=None)
            server.start()
            self.port = server.server_port
            self._server = server
            if ready is not None:
                ready(self.url)
            try:
                server.serve_forever()
            finally:
                self._server = None
            return
        server = _make_werkzeug_server(self.host, self.port, self)
        self.port = server.server_port
        if ready is not None:
            ready(self.url)
        try:
            server.serve_forever()
        finally:
            server.server_close()

    # -- scripting and state -------------------------------------------------------------------

    def push(self, *replies: ReplyLike, endpoint: str | None = None) -> FakeOpenAI:
        """Queue answers (FIFO). With ``endpoint`` (``chat``/``moderations``/
        ``transcriptions``) they are used only by that endpoint, before the shared queue."""
        if endpoint is not None and endpoint not in self._queues:
            raise ValueError(f"endpoint must be one of {ENDPOINTS}")
        for reply in replies:
            if not isinstance(reply, Reply) and not callable(reply):
                raise TypeError(f"push() takes Reply objects or callables, not {reply!r}")
        with self._lock:
            (self._queues[endpoint] if endpoint else self._queue).extend(replies)
        return self

    @property
    def pending(self) -> int:
        """Scripted answers not used yet."""
        with self._lock:
            return len(self._queue) + sum(len(q) for q in self._queues.values())

    def reset(self) -> None:
        """Forget queues, records, invalid/error lists and restore the constructor settings."""
        with self._lock:
            self._wake.set()
            self._wake = threading.Event()
            self._queue.clear()
            for queue in self._queues.values():
                queue.clear()
            self._requests.clear()
            self._invalid.clear()
            self._errors.clear()
            self._expect_invalid = False
            self._total = 0
            self._max_in_flight = self._in_flight
        for name, value in self._defaults.items():
            setattr(self, name, value)

    def expect_invalid(self) -> FakeOpenAI:
        """Declare that this test sends invalid requests on purpose (fixture won't fail)."""
        self._expect_invalid = True
        return self

    @property
    def invalid_expected(self) -> bool:
        return self._expect_invalid

    @property
    def requests(self) -> list[RecordedRequest]:
        """A snapshot of the recorded requests, oldest first."""
        with self._lock:
            return list(self._requests)

    @property
    def last_request(self) -> RecordedRequest:
        with self._lock:
            if not self._requests:
                raise LookupError("the fake has received no request")
            return self._requests[-1]

    def requests_for(self, endpoint: str) -> list[RecordedRequest]:
        """Recorded requests of one endpoint (``chat``, ``moderations``, ...)."""
        return [r for r in self.requests if r.endpoint == endpoint]

    @property
    def invalid(self) -> list[str]:
        """Messages of the invalid requests received (each answered with a 4xx)."""
        with self._lock:
            return list(self._invalid)

    @property
    def errors(self) -> list[str]:
        """Faults of the fake's own script (bad replies, failing callables): fix the test."""
        with self._lock:
            return list(self._errors)

    def stats(self) -> dict[str, int]:
        with self._lock:
            return {"requests": self._total, "in_flight": self._in_flight,
                    "max_in_flight": self._max_in_flight, "invalid": len(self._invalid),
                    "errors": len(self._errors), "pending": len(self._queue)}

    def wait_for_requests(self, count: int, timeout: float = 5.0) -> list[RecordedRequest]:
        """Wait until ``count`` requests were recorded; return them (raises on timeout)."""
        deadline = time.monotonic() + timeout
        while True:
            found = self.requests
            if len(found) >= count:
                return found
            if time.monotonic() > deadline:
                raise TimeoutError(f"{len(found)} requests recorded, expected {count}")
            time.sleep(0.01)

    def assert_secret_only_in_auth(self, secret: str) -> None:
        """Fail unless ``secret`` appears only as the auth header value of every request."""
        leaks = [f"{r.request_id} {r.method} {r.path}: {', '.join(places)}"
                 for r in self.requests if (places := r.secret_locations(secret))]
        if leaks:
            raise AssertionError("secret sent outside the auth header: " + "; ".join(leaks))

    def teardown_problems(self) -> list[str]:
        """What should fail the test: unexpected invalid requests and script errors."""
        problems = [f"script error: {e}" for e in self.errors]
        if not self._expect_invalid:
            problems += [f"invalid request: {m}" for m in self.invalid]
        return problems

    # -- WSGI ----------------------------------------------------------------------------------

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        with self._lock:
            self._in_flight += 1
            self._max_in_flight = max(self._max_in_flight, self._in_flight)
        request = Request(environ)
        try:
            answer = self._answer(request)
        except Exception as exc:  # the fake itself failed: make it loud, not a hang
            self._note_error(f"{type(exc).__name__}: {exc}")
            answer = _Answer(500, _dump(error_body(f"fake failure: {exc}", "server_error")),
                             [("Content-Type", _JSON)])
        finally:
            request.close()
            with self._lock:
                self._in_flight -= 1
        return _send(answer, start_response)

    def _answer(self, request: Request) -> _Answer:
        path = request.path
        if path.startswith("/_fake/"):
            return self._control(request)
        request_id = f"req_{next(self._ids)}"
        route = _route(path)
        record = self._record(request, route, request_id)
        try:
            self._admit(request, record, route)
            answer = self._scripted(record, route)
        except _Refusal as refusal:
            record.invalid = refusal.invalid
            if refusal.invalid is not None:
                with self._lock:
                    self._invalid.append(f"{record.method} {record.path}: {refusal.invalid}")
            answer = _Answer(refusal.status, _dump(refusal.body), [("Content-Type", _JSON)])
        record.status = answer.status
        if not any(name.lower() == "x-request-id" for name, _ in answer.headers):
            answer.headers.append(("x-request-id", request_id))
        return answer

    def _control(self, request: Request) -> _Answer:
        if request.path == "/_fake/reset" and request.method == "POST":
            self.reset()
            return _Answer(200, b'{"reset": true}', [("Content-Type", _JSON)])
        if request.path == "/_fake/stats":
            return _Answer(200, _dump(self.stats()), [("Content-Type", _JSON)])
        return _Answer(404, _dump(error_body("unknown control path")), [("Content-Type", _JSON)])

    def _record(self, request: Request, route: _Route, request_id: str) -> RecordedRequest:
        body = request.get_data(cache=True)
        record = RecordedRequest(
            method=request.method, path=request.path, query=dict(request.args.items()),
            headers={k.lower(): v for k, v in request.headers.items()}, body=body,
            request_id=request_id, endpoint=route.endpoint, flavor=route.flavor,
            deployment=route.deployment)
        if request.mimetype == "multipart/form-data":
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
        elif body:
            try:
                record.json = json.loads(body)
            except ValueError:
                record.json = None
        with self._lock:
            self._requests.append(record)
            self._total += 1
        return record

    def _admit(self, request: Request, record: RecordedRequest, route: _Route) -> None:
        """URL, method, auth, deployment and body checks, in the order OpenAI applies them."""
        if route.endpoint is None or (route.flavor == "azure" and route.endpoint == "models"):
            raise _Refusal(404, _invalid_url(request), f"unknown path {request.path}")
        wanted = "GET" if route.endpoint == "models" else "POST"
        if request.method != wanted:
            raise _Refusal(404, _invalid_url(request), f"{request.method} not allowed here")
        if route.flavor == "azure" and not record.api_version:
            raise _Refusal(404, {"error": {"code": "404", "message": "Resource not found"}},
                           "Azure deployment URL without api-version")
        self._authenticate(record, route)
        if route.flavor != "openai" and route.endpoint == "moderations":
            raise _Refusal(404, {"error": {"code": "404", "message": "Resource not found"}},
                           "Azure OpenAI has no /moderations endpoint")
        deployment = route.deployment if route.flavor == "azure" else (
            record.model if route.flavor == "azure_v1" else None)
        if (deployment is not None and self.deployments is not None
                and deployment not in self.deployments):
            raise _Refusal(404, {"error": {
                "code": "DeploymentNotFound",
                "message": "The API deployment for this resource does not exist. If you created "
                           "the deployment within the last 5 minutes, please wait a moment and "
                           "try again."}})
        if record.invalid is not None:
            raise _Refusal(413, error_body(record.invalid), record.invalid)
        if self.validate and route.endpoint != "models":
            try:
                self._check_body(request, record, route)
            except Problem as problem:
                where = problem.param
                note = problem.message if not where or where in problem.message else (
                    f"{where}: {problem.message}")
                raise _Refusal(problem.status, error_body(
                    problem.message, "invalid_request_error", where, problem.code), note
                ) from None

    def _authenticate(self, record: RecordedRequest, route: _Route) -> None:
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
            raise _Refusal(401, _azure_401() if azure else error_body(
                "You didn't provide an API key. You need to provide your API key in an "
                "Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY), "
                "or as the password field (with blank username) if you're accessing the API "
                "from your browser and are prompted for a username and password. You can "
                "obtain an API key from https://platform.openai.com/account/api-keys."))
        if self.api_key is not None and key != self.api_key:
            raise _Refusal(401, _azure_401() if azure else error_body(
                f"Incorrect API key provided: {_mask(key)}. You can find your API key at "
                "https://platform.openai.com/account/api-keys.", code="invalid_api_key"))

    def _check_body(self, request: Request, record: RecordedRequest, route: _Route) -> None:
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
        if route.endpoint == "chat":
            specs.check_chat(record.json, self.spec,
                             deployment=route.deployment if route.flavor == "azure" else None)
        else:
            specs.check_moderation(record.json, self.spec)

    def _next_reply(self, endpoint: str) -> ReplyLike | None:
        with self._lock:
            queue = self._queues.get(endpoint)
            if queue:
                return queue.popleft()
            if self._queue and endpoint != "models":
                return self._queue.popleft()
            return None

    def _scripted(self, record: RecordedRequest, route: _Route) -> _Answer:
        endpoint = route.endpoint or ""
        scripted = self._next_reply(endpoint)
        reply: Reply | None
        if scripted is None or isinstance(scripted, Reply):
            reply = scripted
        else:
            try:
                reply = scripted(record)
            except Exception as exc:
                return self._script_fault(f"reply callable raised {type(exc).__name__}: {exc}")
            if reply is not None and not isinstance(reply, Reply):
                return self._script_fault(f"reply callable returned {reply!r}, not a Reply")
        delay = self.delay if reply is None else reply.delay
        if reply is None or reply.use_default:
            base = default_reply(endpoint)
            reply = base if reply is None else base.with_(
                delay=reply.delay, drop=reply.drop, headers={**base.headers, **reply.headers})
        if reply.kind is not None and reply.kind != endpoint:
            return self._script_fault(f"a {reply.kind} reply was served to {endpoint} "
                                      f"({record.method} {record.path})")
        try:
            body = reply.body_for(record)
            if self.validate and reply.kind is not None and reply.status == 200:
                specs.check_reply(reply.kind, body, self.spec,
                                  str(record.form.get("response_format", "json")))
        except (InvalidReply, KeyError, TypeError, ValueError) as exc:
            return self._script_fault(f"bad {reply.kind or 'scripted'} reply: {exc}")
        if delay > 0:
            self._sleep(delay)
        return _render(reply, body)

    def _script_fault(self, message: str) -> _Answer:
        self._note_error(message)
        return _Answer(500, _dump(error_body(f"fake script error: {message}", "server_error")),
                       [("Content-Type", _JSON)])

    def _note_error(self, message: str) -> None:
        with self._lock:
            self._errors.append(message)

    def _sleep(self, seconds: float) -> None:
        if self.server_kind == "gevent":
            import gevent

            gevent.sleep(seconds)
        else:
            self._wake.wait(seconds)  # reset()/stop() wake it early


def _route(path: str) -> _Route:
    flavor, deployment, rest = "openai", None, path
    if match := _AZURE.search(path):
        flavor, deployment, rest = "azure", match["deployment"], match["rest"]
    elif match := _AZURE_V1.search(path):
        flavor, rest = "azure_v1", match["rest"]
    for suffix, endpoint in _SUFFIXES:
        if rest.rstrip("/").endswith(suffix):
            if flavor == "azure" and rest.rstrip("/") != suffix:
                break
            return _Route(endpoint, flavor, deployment)
    return _Route(None, flavor, deployment)


def _render(reply: Reply, body: Any) -> _Answer:
    if isinstance(body, bytes):
        data, content_type = body, "application/octet-stream"
    elif isinstance(body, str):
        data, content_type = body.encode(), _TEXT
    elif body is None:
        data, content_type = b"", _TEXT
    else:
        data, content_type = _dump(body), _JSON
    headers = {"Content-Type": reply.content_type or content_type}
    for name, value in reply.headers.items():
        headers = {k: v for k, v in headers.items() if k.lower() != name.lower()}
        headers[name] = value
    return _Answer(reply.status, data, list(headers.items()), drop=reply.drop)


def _send(answer: _Answer, start_response: StartResponse) -> Iterator[bytes]:
    from werkzeug.http import HTTP_STATUS_CODES

    status = f"{answer.status} {HTTP_STATUS_CODES.get(answer.status, 'Unknown')}"
    headers = [(k, v) for k, v in answer.headers if k.lower() != "content-length"]
    body = answer.body
    if answer.drop:
        body = body or b'{"id": "chatcmpl-dropped", "choices": []}'
        headers += [("Content-Length", str(len(body) + 64)), ("Connection", "close")]
        body = body[: max(1, len(body) // 2)]
    else:
        headers.append(("Content-Length", str(len(body))))
    start_response(status, headers)
    yield body


def _dump(body: Any) -> bytes:
    return json.dumps(body).encode()


def _invalid_url(request: Request) -> dict[str, Any]:
    return error_body(f"Invalid URL ({request.method} {request.path})")


def _azure_401() -> dict[str, Any]:
    return {"error": {"code": "401", "message": "Access denied due to invalid subscription key "
                      "or wrong API endpoint. Make sure to provide a valid key for an active "
                      "subscription and use a correct regional API endpoint for your resource."}}


def _mask(key: str) -> str:
    return f"{key[:3]}{'*' * max(len(key) - 7, 0)}{key[-4:]}" if len(key) > 8 else "****"


def _nodelay_listener(host: str, port: int) -> socket.socket:
    """A listening socket whose accepted connections have Nagle's algorithm off."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind((host, port))
    sock.listen(4096)
    return sock


def _make_werkzeug_server(host: str, port: int, app: FakeOpenAI) -> Any:
    from werkzeug.serving import WSGIRequestHandler, make_server

    class QuietHandler(WSGIRequestHandler):
        def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
            pass

    server = make_server(host, port, app, threaded=True, request_handler=QuietHandler)
    server.socket.listen(1024)  # a deeper accept backlog than werkzeug's 128, for bursts
    return server

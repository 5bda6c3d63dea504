"""The machinery shared by the loopback fakes: lifecycle, scripting, recording, WSGI.

:class:`FakeServer` serves scripted :class:`~tests.fakes.replies.Reply` values over real HTTP,
records every request and keeps the list of invalid ones. A provider fake subclasses it and
supplies the routes, the admission checks (auth, headers, body validation), the default answers,
the answer validation and the shape of its own failures (see the ``_route`` … ``_failure_body``
hooks). ``GET /_fake/stats`` returns counters (for benchmarks) and ``POST /_fake/reset`` resets.
"""

from __future__ import annotations

import itertools
import json
import socket
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, Literal, Self

from werkzeug.wrappers import Request

from tests.fakes.records import RecordedRequest
from tests.fakes.replies import Reply, ReplyLike
from tests.fakes.spec import InvalidReply

__all__ = ["Answer", "FakeServer", "Refusal", "Route"]

_JSON = "application/json"
_TEXT = "text/plain; charset=utf-8"

StartResponse = Callable[..., Any]


@dataclass
class Answer:
    """What goes on the wire: status, body bytes, headers, and whether to cut the body."""

    status: int
    body: bytes
    headers: list[tuple[str, str]] = field(default_factory=list)
    drop: bool = False


@dataclass(frozen=True)
class Route:
    """What a path means to a fake: the endpoint (``None``: unknown path) and its flavor."""

    endpoint: str | None
    flavor: str = "openai"
    deployment: str | None = None


class Refusal(Exception):
    """A request answered before any script runs (auth, URL, validation).

    ``invalid`` (a message) marks a client bug: recorded in :attr:`FakeServer.invalid`.
    ``shaped``: ``body`` is already in the provider's own error shape.
    """

    def __init__(self, status: int, body: Any, invalid: str | None = None,
                 headers: Iterable[tuple[str, str]] = (), *, shaped: bool = False) -> None:
        super().__init__(invalid or json.dumps(body))
        self.status = status
        self.body = body
        self.invalid = invalid
        self.headers = list(headers)
        self.shaped = shaped


class FakeServer:
    """A loopback HTTP server with scripted answers, recording and request validation.

    Settings (``api_key``, ``require_auth``, ``delay``, ``validate`` and a subclass's own) are
    plain attributes; :meth:`reset` restores the constructor's values and empties queues and
    records.

    :param delay: seconds to wait before every *default* answer (benchmarks).
    :param validate: check requests and answers (off: benchmark mode).
    :param api_key: the only key accepted; ``None`` accepts any non-empty key.
    :param require_auth: ``False`` accepts requests without a key.
    :param record_limit: keep only the last N recorded requests (``None``: all).
    :param server: ``threaded`` (werkzeug) or ``gevent`` (``gevent.pywsgi``, for
        :meth:`serve_forever` in a monkey-patched process).
    """

    ENDPOINTS: tuple[str, ...] = ()
    """Endpoint names that :meth:`push` accepts as ``endpoint=``."""
    REQUEST_ID_HEADER = "x-request-id"
    NAME = "fake"

    def __init__(self, host: str = "127.0.0.1", port: int = 0, *, delay: float = 0.0,
                 validate: bool = True, api_key: str | None = None, require_auth: bool = True,
                 record_limit: int | None = None,
                 server: Literal["threaded", "gevent"] = "threaded") -> None:
        self.host = host
        self.port = port
        self.server_kind = server
        self._defaults: dict[str, Any] = {
            "delay": delay, "validate": validate, "api_key": api_key,
            "require_auth": require_auth,
        }
        self.delay: float = delay
        self.validate: bool = validate
        self.api_key: str | None = api_key
        self.require_auth: bool = require_auth
        self._lock = threading.Lock()
        self._record_limit = record_limit
        self._requests: deque[RecordedRequest] = deque(maxlen=record_limit)
        self._invalid: list[str] = []
        self._errors: list[str] = []
        self._queue: deque[ReplyLike] = deque()
        self._queues: dict[str, deque[ReplyLike]] = {name: deque() for name in self.ENDPOINTS}
        self._ids = itertools.count(1)
        self._total = 0
        self._in_flight = 0
        self._max_in_flight = 0
        self._expect_invalid = False
        self._wake = threading.Event()
        self._server: Any = None
        self._thread: threading.Thread | None = None

    def _setting(self, name: str, value: Any) -> None:
        """Declare a subclass setting: an attribute that :meth:`reset` restores."""
        self._defaults[name] = value
        setattr(self, name, value)

    @property
    def url(self) -> str:
        """``http://host:port`` (no path)."""
        return f"http://{self.host}:{self.port}"

    # -- lifecycle -----------------------------------------------------------------------------

    def start(self) -> Self:
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
                                        name=f"{self.NAME}-{self.port}", daemon=True)
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

    def __enter__(self) -> Self:
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

    def push(self, *replies: ReplyLike, endpoint: str | None = None) -> Self:
        """Queue answers (FIFO). With ``endpoint`` (one of :attr:`ENDPOINTS`) they are used
        only by that endpoint, before the shared queue."""
        if endpoint is not None and endpoint not in self._queues:
            raise ValueError(f"endpoint must be one of {self.ENDPOINTS}")
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

    def expect_invalid(self) -> Self:
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
            answer = Answer(500, _dump(self._failure_body(f"fake failure: {exc}")),
                            [("Content-Type", _JSON)])
        finally:
            request.close()
            with self._lock:
                self._in_flight -= 1
        return _send(answer, start_response)

    def _answer(self, request: Request) -> Answer:
        path = request.path
        if path.startswith("/_fake/"):
            return self._control(request)
        request_id = self._new_request_id()
        route = self._route(path)
        record = self._record(request, route, request_id)
        try:
            self._admit(request, record, route)
            answer = self._scripted(record, route)
        except Refusal as refusal:
            record.invalid = refusal.invalid
            if refusal.invalid is not None:
                with self._lock:
                    self._invalid.append(f"{record.method} {record.path}: {refusal.invalid}")
            answer = Answer(refusal.status, _dump(refusal.body),
                            [("Content-Type", _JSON), *refusal.headers])
        record.status = answer.status
        header = self._request_id_header()
        if header and not any(name.lower() == header for name, _ in answer.headers):
            answer.headers.append((header, request_id))
        return answer

    def _control(self, request: Request) -> Answer:
        if request.path == "/_fake/reset" and request.method == "POST":
            self.reset()
            return Answer(200, b'{"reset": true}', [("Content-Type", _JSON)])
        if request.path == "/_fake/stats":
            return Answer(200, _dump(self.stats()), [("Content-Type", _JSON)])
        return Answer(404, _dump(self._failure_body("unknown control path")),
                      [("Content-Type", _JSON)])

    def _record(self, request: Request, route: Route, request_id: str) -> RecordedRequest:
        body = request.get_data(cache=True)
        record = RecordedRequest(
            method=request.method, path=request.path, query=dict(request.args.items()),
            headers={k.lower(): v for k, v in request.headers.items()}, body=body,
            request_id=request_id, endpoint=route.endpoint, flavor=route.flavor,
            deployment=route.deployment)
        self._parse_body(request, record)
        with self._lock:
            self._requests.append(record)
            self._total += 1
        return record

    def _next_reply(self, endpoint: str) -> ReplyLike | None:
        with self._lock:
            queue = self._queues.get(endpoint)
            if queue:
                return queue.popleft()
            if self._queue and endpoint in self.ENDPOINTS:
                return self._queue.popleft()
            return None

    def _scripted(self, record: RecordedRequest, route: Route) -> Answer:
        endpoint = route.endpoint or ""
        scripted = self._next_reply(endpoint)
        reply: Reply | None
        if scripted is None or isinstance(scripted, Reply):
            reply = scripted
        else:
            try:
                reply = scripted(record)
            except Exception as exc:
                return self._script_fault(
                    f"reply callable raised {type(exc).__name__}: {exc}", record)
            if reply is not None and not isinstance(reply, Reply):
                return self._script_fault(f"reply callable returned {reply!r}, not a Reply",
                                          record)
        delay = self.delay if reply is None else reply.delay
        if reply is None or reply.use_default:
            base = self._default_reply(endpoint, record)
            reply = base if reply is None else base.with_(
                delay=reply.delay, drop=reply.drop, headers={**base.headers, **reply.headers})
        if reply.kind is not None and reply.kind != endpoint:
            return self._script_fault(f"a {reply.kind} reply was served to {endpoint} "
                                      f"({record.method} {record.path})", record)
        try:
            body = reply.body_for(record)
            if self.validate and reply.kind is not None and reply.status == 200:
                self._check_reply(reply.kind, body, record)
        except (InvalidReply, KeyError, TypeError, ValueError) as exc:
            return self._script_fault(f"bad {reply.kind or 'scripted'} reply: {exc}", record)
        if delay > 0:
            self._sleep(delay)
        return _render(reply, body)

    def _script_fault(self, message: str, record: RecordedRequest) -> Answer:
        self._note_error(message)
        body = self._failure_body(f"fake script error: {message}", record.request_id)
        return Answer(500, _dump(body),
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

    # -- hooks of a provider fake --------------------------------------------------------------

    def _route(self, path: str) -> Route:
        """What ``path`` names (``Route(None)`` for an unknown path)."""
        raise NotImplementedError

    def _admit(self, request: Request, record: RecordedRequest, route: Route) -> None:
        """Raise :class:`Refusal` unless the request may be answered by the script."""
        raise NotImplementedError

    def _default_reply(self, endpoint: str, record: RecordedRequest) -> Reply:
        """The answer when nothing is scripted (validated by :meth:`_check_reply`)."""
        raise NotImplementedError

    def _check_reply(self, kind: str, body: Any, record: RecordedRequest) -> None:
        """Raise :class:`InvalidReply` unless ``body`` is a valid ``kind`` answer."""
        raise NotImplementedError

    def _failure_body(self, message: str, request_id: str | None = None) -> Any:
        """The 500 body of the fake's own failures, in the provider's error shape."""
        raise NotImplementedError

    def _new_request_id(self) -> str:
        return f"req_{next(self._ids)}"

    def _request_id_header(self) -> str | None:
        """The header that carries the request id (``None``: none is sent)."""
        return self.REQUEST_ID_HEADER

    def _parse_body(self, request: Request, record: RecordedRequest) -> None:
        """Fill ``record.json`` (``None`` when absent or not JSON)."""
        if record.body:
            try:
                record.json = json.loads(record.body)
            except ValueError:
                record.json = None


def _render(reply: Reply, body: Any) -> Answer:
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
    return Answer(reply.status, data, list(headers.items()), drop=reply.drop)


def _send(answer: Answer, start_response: StartResponse) -> Iterator[bytes]:
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


def _nodelay_listener(host: str, port: int) -> socket.socket:
    """A listening socket whose accepted connections have Nagle's algorithm off."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind((host, port))
    sock.listen(4096)
    return sock


def _make_werkzeug_server(host: str, port: int, app: FakeServer) -> Any:
    from werkzeug.serving import WSGIRequestHandler, make_server

    class QuietHandler(WSGIRequestHandler):
        def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
            pass

    server = make_server(host, port, app, threaded=True, request_handler=QuietHandler)
    server.socket.listen(1024)  # a deeper accept backlog than werkzeug's 128, for bursts
    return server

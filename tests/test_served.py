"""The host as production serves it (gunicorn + gevent with config/gunicorn.conf.py), over real
sockets: slow bodies get 408 and their connection closed while other requests are served, a
malformed chunked body is a 400, and /healthz answers while a large context is processed.

Each test starts gunicorn on 127.0.0.1 in its own session and stops that session afterwards,
whatever happened. No timing is asserted beyond generous upper bounds that only a hang hits.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers import context, out, param
from workflowapp.context.model import Format

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "config" / "gunicorn.conf.py"
HOST = "127.0.0.1"

pytestmark = pytest.mark.skipif(os.name == "nt", reason="gunicorn runs on POSIX")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def exchange(port: int, request: bytes, timeout: float = 30.0) -> bytes:
    """Send ``request`` on a new connection; everything read until the server closes it."""
    with socket.create_connection((HOST, port), timeout=timeout) as sock:
        sock.sendall(request)
        data = b""
        with contextlib.suppress(ConnectionResetError):
            while chunk := sock.recv(65536):
                data += chunk
        return data


def get(port: int, path: str, timeout: float = 30.0) -> bytes:
    return exchange(port, f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
                    .encode(), timeout)


@contextlib.contextmanager
def served(tmp_path: Path, **settings: str) -> Iterator[int]:
    """gunicorn (one gevent worker) serving the host on a free loopback port; stopped after."""
    port = _free_port()
    env = {k: v for k, v in os.environ.items()
           if not k.lower().startswith(("openai", "workflowapp", "echo"))}
    env.update(PYTHONPATH=str(ROOT), WORKFLOWAPP_WORKERS="1", OpenAIApiKey="sk-served-test-0000",
               WorkflowAppLogPath=str(tmp_path / "logs"),
               WORKFLOWAPP_WEB_CONFIG=str(tmp_path / "absent.config"),
               WORKFLOWAPP_ENV_FILE=str(tmp_path / "absent.env"), **settings)
    log = (tmp_path / "gunicorn.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "--config", str(CONFIG), "--bind", f"{HOST}:{port}",
         "workflowapp:create_app()"],
        env=env, cwd=tmp_path, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 60
        while b" 200 " not in _quietly_get(port):
            assert process.poll() is None, (tmp_path / "gunicorn.log").read_text()
            assert time.monotonic() < deadline, "gunicorn did not start"
            time.sleep(0.1)
        yield port
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)  # the session this test started
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(5)
        log.close()


def _quietly_get(port: int) -> bytes:
    try:
        return get(port, "/healthz", timeout=2)
    except OSError:
        return b""


def test_a_slow_body_gets_408_and_its_connection_closed(tmp_path: Path) -> None:
    with served(tmp_path, WorkflowAppBodyTimeout="1") as port:
        slow = [socket.create_connection((HOST, port), timeout=30) for _ in range(3)]
        try:
            for sock in slow:
                sock.sendall(b"POST /ECHO HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n<")
            answers = {sock: b"" for sock in slow}
            closed: set[socket.socket] = set()
            give_up = time.monotonic() + 30  # far beyond the 1-s limit: only a hang reaches it
            while len(closed) < len(slow) and time.monotonic() < give_up:
                assert b" 200 " in get(port, "/healthz"), "others are served meanwhile"
                for sock in slow:
                    if sock in closed:
                        continue
                    with contextlib.suppress(OSError):
                        sock.send(b"x")  # one byte at a time: never the whole body
                    sock.settimeout(0.2)
                    try:
                        chunk = sock.recv(4096)
                    except TimeoutError:
                        continue
                    except ConnectionResetError:
                        chunk = b""
                    answers[sock] += chunk
                    if not chunk:
                        closed.add(sock)
            assert len(closed) == len(slow), "every slow connection is closed"
            for answer in answers.values():
                assert answer.startswith(b"HTTP/1.1 408 "), answer
                assert b"WorkflowAppBodyTimeout" in answer
        finally:
            for sock in slow:
                sock.close()


def test_a_malformed_chunked_body_is_a_400(tmp_path: Path) -> None:
    body = context(param("A", "x"), out("A_OUT"))
    size = f"{len(body):x}".encode()
    # (A chunk size larger than what follows is a body that never arrives: 408, tested above.)
    malformed = [b"ZZ\r\n" + body, b"-1\r\n" + body, b"0x10\r\n" + body,
                 size + b"\r\n" + body + b"XX0\r\n\r\n", size + b"\n" + body]
    with served(tmp_path) as port:
        for framing in malformed:
            answer = exchange(port, b"POST /ECHO HTTP/1.1\r\nHost: x\r\n"
                              b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
                              + framing + b"\r\n0\r\n\r\n")
            assert answer.startswith(b"HTTP/1.1 400 "), (framing[:60], answer)
        good = exchange(port, b"POST /ECHO HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
                              b"Connection: close\r\n\r\n" + f"{len(body):x}".encode() + b"\r\n"
                              + body + b"\r\n0\r\n\r\n")
        assert good.startswith(b"HTTP/1.1 200 "), good


@pytest.mark.parametrize("case", ["dataset, two long texts", "json, many parameters, level 3"])
def test_healthz_is_answered_while_a_large_context_is_processed(tmp_path: Path,
                                                                case: str) -> None:
    """The same worker answers /healthz while it reads, echoes and writes a ~12 MB DataSet or
    a JSON context of 30,000 parameters logged at level 3 (parsed and written in its thread
    pool, the log's rendering stopped at WorkflowAppLogMaxBytes): some answer comes back before
    the post's."""
    line = "Le café coûte 3 € & the <b>answer</b> is \"42\".\n"
    text = line * 120_000
    if case.startswith("json"):
        params = [param(f"P{i}", line * 4) for i in range(30_000)]
        body = context(*params, *(out(f"P{i}_OUT") for i in range(30_000)), fmt=Format.JSON)
        text = line * 4 * 30_000
    else:
        body = context(param("A", text), param("B", text), out("A_OUT"), out("B_OUT"))
    with served(tmp_path, WorkflowAppMaxRequestBytes=str(2 * len(body)),
                EchoLogLevel="3" if "level 3" in case else "0") as port:
        done = threading.Event()
        answered: list[float] = []  # when each /healthz answer came back

        def poll() -> None:
            while not done.is_set():
                if b" 200 " in get(port, "/healthz"):
                    answered.append(time.monotonic())
                time.sleep(0.05)

        poller = threading.Thread(target=poll)
        poller.start()
        try:
            time.sleep(0.2)
            started = time.monotonic()
            answer = exchange(port, b"POST /ECHO HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                              + f"Content-Length: {len(body)}\r\n\r\n".encode() + body, 120)
            ended = time.monotonic()
        finally:
            done.set()
            poller.join(60)
        assert answer.startswith(b"HTTP/1.1 200 "), answer[:300]
        assert len(answer) > 2 * len(text)
        assert any(started < when < ended for when in answered), "healthz waited for the post"

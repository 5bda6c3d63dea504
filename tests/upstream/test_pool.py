"""The pooled session: its pools, and the stale-connection check against a real loopback server."""

from __future__ import annotations

import select
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from workflowapp.upstream import CallOptions, Client, Provider
from workflowapp.upstream.pool import _POLL, _Pool, _TLSPool, pooled_session

ANSWER = b'{"ok": true}'


class ClosingServer:
    """Answers each request with keep-alive, then closes the connection shortly after: the
    server-side idle timeout every real API has, which leaves a stale socket in the pool."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.connections = 0
        self._stop = False
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        self.listener.settimeout(0.2)
        while not self._stop:
            try:
                conn, _ = self.listener.accept()
            except TimeoutError:
                continue
            self.connections += 1
            with conn:
                data = b""
                while b"\r\n\r\n" not in data:
                    data += conn.recv(65536)
                head, _, body = data.partition(b"\r\n\r\n")
                length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
                while len(body) < length:
                    body += conn.recv(65536)
                conn.sendall(
                    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                    b"Connection: keep-alive\r\nContent-Length: %d\r\n\r\n%s"
                    % (len(ANSWER), ANSWER)
                )
                time.sleep(0.05)

    def close(self) -> None:
        self._stop = True
        self._thread.join(timeout=5)
        self.listener.close()


@pytest.fixture
def server() -> Iterator[ClosingServer]:
    running = ClosingServer()
    yield running
    running.close()


def test_direct_pools_use_the_cheap_check() -> None:
    session = pooled_session(5)
    manager = session.get_adapter("https://api.openai.com").poolmanager  # type: ignore[attr-defined]
    assert manager.pool_classes_by_scheme == {"http": _Pool, "https": _TLSPool}
    assert session.trust_env is False
    session.close()


@pytest.mark.skipif(not hasattr(select, "poll"), reason="no poll() on this platform")
def test_the_check_uses_the_operating_systems_poll() -> None:
    assert _POLL is select.poll


@pytest.mark.skipif(not hasattr(select, "poll"), reason="no poll() on this platform")
def test_under_gevent_the_check_still_uses_the_operating_systems_poll() -> None:
    pytest.importorskip("gevent")
    script = (
        "from gevent import monkey; monkey.patch_all()\n"
        "import select\n"
        "from workflowapp.upstream.pool import _POLL\n"
        "assert select.poll is not monkey.get_original('select', 'poll'), 'not patched'\n"
        "assert _POLL is monkey.get_original('select', 'poll'), _POLL\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=60, cwd=Path(__file__).resolve().parents[2])
    assert done.returncode == 0, done.stderr


def test_a_connection_the_server_closed_is_replaced_not_retried(server: ClosingServer) -> None:
    client = Client(allowed_hosts=[f"127.0.0.1:{server.port}"])
    url = f"http://127.0.0.1:{server.port}/v1/x"
    options = CallOptions(max_retries=0)
    try:
        first = client.post_json(url, {}, api_key="", provider=Provider.COMPATIBLE,
                                 options=options)
        time.sleep(0.3)  # the server has closed the kept-alive connection by now
        second = client.post_json(url, {}, api_key="", provider=Provider.COMPATIBLE,
                                  options=options)
    finally:
        client.close()
    assert first.data == second.data == {"ok": True}
    assert second.retries == 0 and server.connections == 2

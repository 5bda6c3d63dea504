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
import requests
from requests.adapters import HTTPAdapter

from workflowapp.upstream import CallOptions, Client, Provider
from workflowapp.upstream.pool import (
    _POLL,
    _REMEMBERED,
    _Adapter,
    _Pool,
    _TLSPool,
    pooled_session,
)

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


def prepared(url: str) -> requests.PreparedRequest:
    request = requests.PreparedRequest()
    request.prepare(method="POST", url=url, data=b"{}")
    return request


def test_the_pool_of_an_origin_is_remembered_until_it_closes() -> None:
    adapter = pooled_session(5).get_adapter("http://x")
    assert isinstance(adapter, _Adapter)
    chat, other_path = prepared("http://127.0.0.1:9/v1/chat"), prepared("http://127.0.0.1:9/v1/x?a")
    pool = adapter.get_connection_with_tls_context(chat, True)
    assert adapter.get_connection_with_tls_context(other_path, True) is pool
    assert adapter.get_connection_with_tls_context(chat, False) is not pool  # TLS settings count
    assert adapter.get_connection_with_tls_context(prepared("http://127.0.0.1:8/"), True) \
        is not pool
    adapter.close()  # as Client.close() does
    again = adapter.get_connection_with_tls_context(chat, True)
    assert again is not pool and again.pool is not None


def test_no_more_pools_are_remembered_than_the_pool_manager_keeps() -> None:
    adapter = pooled_session(5).get_adapter("http://x")
    assert isinstance(adapter, _Adapter)
    for port in range(1, 60):
        adapter.get_connection_with_tls_context(prepared(f"http://127.0.0.1:{port}/"), True)
        assert len(adapter._pools) <= adapter.poolmanager.pools._maxsize


def test_through_a_proxy_requests_decides_each_time(monkeypatch: pytest.MonkeyPatch) -> None:
    adapter = pooled_session(5).get_adapter("http://x")
    assert isinstance(adapter, _Adapter)
    proxies = {"http": "http://proxy.example:3128"}
    request = prepared("http://api.example/v1/chat?x=1")
    assert adapter.request_url(request, proxies) == "http://api.example/v1/chat?x=1"
    assert adapter.request_url(request, {}) == "/v1/chat?x=1"
    via_proxy = adapter.get_connection_with_tls_context(request, True, proxies)
    assert via_proxy is not adapter.get_connection_with_tls_context(request, True)
    assert adapter._pools and all(key[0] == "http://api.example" for key in adapter._pools)


def test_tls_settings_are_applied_once_per_pool_and_again_when_they_change(
        monkeypatch: pytest.MonkeyPatch) -> None:
    applied: list[object] = []
    original = HTTPAdapter.cert_verify

    def counting(self: HTTPAdapter, conn: object, url: str, verify: object, cert: object) -> None:
        applied.append(verify)
        original(self, conn, url, verify, cert)  # type: ignore[no-untyped-call]

    monkeypatch.setattr(HTTPAdapter, "cert_verify", counting)
    adapter = pooled_session(5).get_adapter("https://x")
    assert isinstance(adapter, _Adapter)
    pool = adapter.get_connection_with_tls_context(prepared("https://api.example/v1"), True)
    for verify in (True, True, True, False, False, True):
        adapter.cert_verify(pool, "https://api.example/v1", verify, None)
    assert applied == [True, False, True]


def test_remembered_tables_stay_bounded() -> None:
    adapter = pooled_session(5).get_adapter("http://x")
    assert isinstance(adapter, _Adapter)
    for n in range(_REMEMBERED * 2 + 3):
        adapter.request_url(prepared(f"http://h/{n}"), {})
        assert len(adapter._targets) <= _REMEMBERED
    assert adapter.request_url(prepared("http://h/last?q"), {}) == "/last?q"

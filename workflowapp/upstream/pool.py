"""The pooled session the upstream client sends through, and its cheap stale-connection check.

Before reusing a kept-alive connection, urllib3 asks whether the server has closed it: a poll of
the socket with a zero timeout. Under gevent (how gunicorn runs the host), ``select.poll`` is
gevent's cooperative version, which builds watchers and switches to the event loop even for a
zero timeout: ~15 us alone and several times that under load, on every call. A zero-timeout
poll can never block, so the connections here ask the operating system's own ``poll``, kept
aside by gevent. Where there is no ``poll`` (Windows, where the host runs on threads), urllib3's
own check is kept.
"""

from __future__ import annotations

import select
import sys
from collections.abc import Callable, Mapping
from typing import Any

import requests
from requests import PreparedRequest
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool


def _os_poll() -> Callable[[], Any] | None:
    """The operating system's ``select.poll``, even if gevent has patched it; None without.

    Taking it once at import is right in either order: gevent keeps the original when it patches
    later, and hands it back when it patched first."""
    if not hasattr(select, "poll"):  # Windows
        return None
    if "gevent.monkey" in sys.modules:
        from gevent import monkey

        original: Callable[[], Any] | None = monkey.get_original("select", "poll")
        return original
    return select.poll


_POLL = _os_poll()


class _CheapCheck:
    """Mixed into urllib3's connections: the stale check by the OS's poll."""

    sock: Any

    @property
    def is_connected(self) -> bool:
        if self.sock is None:
            return False
        if _POLL is None:
            return bool(super().is_connected)  # type: ignore[misc]
        poller = _POLL()
        poller.register(self.sock, select.POLLIN)
        # At rest, a readable kept-alive socket means the server closed it (or sent garbage).
        return not poller.poll(0)


class _Connection(_CheapCheck, HTTPConnection):
    pass


class _TLSConnection(_CheapCheck, HTTPSConnection):
    pass


class _Pool(HTTPConnectionPool):
    ConnectionCls = _Connection


class _TLSPool(HTTPSConnectionPool):
    ConnectionCls = _TLSConnection


class _Adapter(HTTPAdapter):
    """requests' adapter whose direct (non-proxied) pools use the connections above, and which
    remembers, per URL, what requests works out again on every send: the pool (URL parsing,
    CA-bundle checks, pool-key normalisation: ~40 us), the pool's TLS settings (~7 us) and the
    request target (~13 us). Calls through a proxy take requests' own way each time."""

    def init_poolmanager(self, connections: int, maxsize: int, block: bool = False,
                         **pool_kwargs: Any) -> None:
        super().init_poolmanager(connections, maxsize, block, **pool_kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": _Pool, "https": _TLSPool}
        self._most_pools = connections  # what the pool manager keeps
        self._pools: dict[tuple[str, Any, Any], Any] = {}
        self._targets: dict[str, str] = {}

    def get_connection_with_tls_context(self, request: PreparedRequest, verify: Any,
                                        proxies: Mapping[str, str] | None = None,
                                        cert: Any = None) -> Any:
        if proxies or request.url is None:
            return super().get_connection_with_tls_context(request, verify, proxies, cert)
        key = (_origin(request.url), verify, cert)
        pool = self._pools.get(key)
        if pool is None or pool.pool is None:  # new, or closed (as a pool the manager drops)
            pool = super().get_connection_with_tls_context(request, verify, proxies, cert)
            if len(self._pools) >= self._most_pools:  # no more than the manager keeps
                self._pools.clear()
            self._pools[key] = pool
        return pool

    def close(self) -> None:
        self._pools.clear()
        super().close()

    def cert_verify(self, conn: Any, url: str, verify: Any, cert: Any) -> None:
        settings = (verify, cert)
        if getattr(conn, "_wfa_tls", None) != settings:
            super().cert_verify(conn, url, verify, cert)  # type: ignore[no-untyped-call]
            conn._wfa_tls = settings

    def request_url(self, request: PreparedRequest, proxies: Any) -> str:
        if proxies or request.url is None:
            return str(super().request_url(request, proxies))
        target = self._targets.get(request.url)
        if target is None:
            target = str(super().request_url(request, proxies))
            if len(self._targets) >= _REMEMBERED:  # a bound, not an LRU: a host calls a few URLs
                self._targets.clear()
            self._targets[request.url] = target
        return target


#: Request targets remembered at most.
_REMEMBERED = 256


def _origin(url: str) -> str:
    """``scheme://host:port`` of an absolute URL, by splitting (no parsing: the URL was checked
    and normalised before it got here)."""
    return "/".join(url.split("/", 3)[:3])


def pooled_session(pool_size: int) -> requests.Session:
    """A session whose adapters pool ``pool_size`` connections per host and never retry; the
    environment (proxies, CA bundle, .netrc) is resolved once by the Client, not per call."""
    session = requests.Session()
    session.trust_env = False
    adapter = _Adapter(pool_connections=16, pool_maxsize=pool_size, pool_block=False, max_retries=0)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return session

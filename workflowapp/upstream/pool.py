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
from collections.abc import Callable
from typing import Any

import requests
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
    """requests' adapter whose direct (non-proxied) pools use the connections above."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": _Pool, "https": _TLSPool}


def pooled_session(pool_size: int) -> requests.Session:
    """A session whose adapters pool ``pool_size`` connections per host and never retry; the
    environment (proxies, CA bundle, .netrc) is resolved once by the Client, not per call."""
    session = requests.Session()
    session.trust_env = False
    adapter = _Adapter(pool_connections=16, pool_maxsize=pool_size, pool_block=False, max_retries=0)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return session

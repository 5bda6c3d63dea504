"""Events the host emits while it serves, and the observers that listen (logs, metrics).

The runner, the web layer and the upstream client *emit* small immutable events to one
:class:`Events` hub held by the process's services; observers (the access log, the Prometheus
metrics) subscribe to it. No module reaches for a global counter: adding a metric or a log line
is one more observer, not an edit of every place that does the work (as httpx's event hooks).

An observer must be cheap and must not raise: an exception in one is logged once per observer
and never fails the call being served.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Literal, NamedTuple

Outcome = Literal["ok", "error", "ignored_error"]


class CallStarted(NamedTuple):
    """An application began to run on a received context."""

    app: str


class CallEnded(NamedTuple):
    """An application finished: how, with which HTTP status and code, and its upstream figures."""

    app: str
    outcome: Outcome
    code: str  # the stable error code, or "ok"
    http_status: int
    duration_s: float
    client: str | None = None  # the caller's address, when the web layer knows it
    upstream_status: int | None = None
    retries: int = 0
    provider: str | None = None
    model: str | None = None
    tokens: Mapping[str, int] = MappingProxyType({})  # prompt / completion / cached


class UpstreamAttempt(NamedTuple):
    """One HTTP request sent upstream ended: a status, or ``None`` for a transport failure."""

    provider: str
    status: int | None


class UpstreamRetry(NamedTuple):
    """The client is about to retry; ``reason`` is short and stable (``429``, ``timeout``...)."""

    provider: str
    reason: str


class HttpRejected(NamedTuple):
    """A request refused before any application ran (401, 404, 408, 413, 429)."""

    status: int
    client: str | None = None


Event = CallStarted | CallEnded | UpstreamAttempt | UpstreamRetry | HttpRejected
Observer = Callable[[Event], None]

_LOG = logging.getLogger("workflowapp.host")


class Events:
    """The hub: observers subscribe once at start-up; :meth:`emit` calls each in order."""

    def __init__(self) -> None:
        self._observers: list[Observer] = []
        self._failed: set[int] = set()

    def subscribe(self, observer: Observer) -> None:
        """Add an observer (at start-up, before requests are served)."""
        self._observers.append(observer)

    def emit(self, event: Event) -> None:
        """Hand ``event`` to every observer; a failing observer never fails the caller."""
        for observer in self._observers:
            try:
                observer(event)
            except Exception:
                if id(observer) not in self._failed:
                    self._failed.add(id(observer))
                    _LOG.exception("event observer %r failed (logged once)", observer)

    @property
    def active(self) -> bool:
        """Whether anyone listens (callers may skip building an event nobody observes)."""
        return bool(self._observers)

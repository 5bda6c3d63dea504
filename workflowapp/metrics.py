"""Prometheus metrics, counted from the host's events (``GET /metrics``, ``WorkflowAppMetrics``).

Under gunicorn every worker counts its own calls; prometheus_client's multiprocess mode writes
them to files in ``PROMETHEUS_MULTIPROC_DIR`` (set up by the master, ``serving.py``) and
:meth:`Metrics.render` sums the workers' files, so any worker answers for all of them. Without
that variable (waitress, tests) the process's own values are exported.
"""

from __future__ import annotations

import os
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client import multiprocess as _multiprocess
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from .events import CallEnded, CallStarted, Event, HttpRejected, UpstreamAttempt, UpstreamRetry

#: LLM calls last from a second to many minutes (WorkflowAppDeadline 900 s).
DURATION_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 120, 300, 600, 900)

#: Label sets remembered at most (models and error codes are few; a bound all the same).
_MAX_CHILDREN = 4096

#: Every metric the host exports (the dashboard test checks its queries against these).
NAMES = (
    "workflowapp_calls_total",
    "workflowapp_call_duration_seconds",
    "workflowapp_in_flight_calls",
    "workflowapp_upstream_requests_total",
    "workflowapp_upstream_retries_total",
    "workflowapp_tokens_total",
    "workflowapp_http_rejections_total",
)


class Metrics:
    """The observer: one Prometheus metric per question an operator asks."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.calls = Counter("workflowapp_calls", "Calls by application, outcome and error code",
                             ["app", "outcome", "code"], registry=r)
        self.duration = Histogram("workflowapp_call_duration_seconds",
                                  "Time to answer a call, upstream included", ["app"],
                                  buckets=DURATION_BUCKETS, registry=r)
        self.in_flight = Gauge("workflowapp_in_flight_calls", "Calls being served", ["app"],
                               multiprocess_mode="livesum", registry=r)
        self.upstream = Counter("workflowapp_upstream_requests",
                                "HTTP requests sent upstream, by answer status (none: no answer)",
                                ["provider", "status"], registry=r)
        self.retries = Counter("workflowapp_upstream_retries", "Upstream retries, by reason",
                               ["provider", "reason"], registry=r)
        self.tokens = Counter("workflowapp_tokens", "Tokens reported by upstream",
                              ["app", "provider", "model", "kind"], registry=r)
        self.rejections = Counter("workflowapp_http_rejections",
                                  "Requests refused before an application ran", ["status"],
                                  registry=r)
        self._children: dict[tuple[object, ...], Any] = {}

    def __call__(self, event: Event) -> None:
        if isinstance(event, CallStarted):
            self._child(self.in_flight, event.app).inc()
        elif isinstance(event, CallEnded):
            self._child(self.in_flight, event.app).dec()
            self._child(self.calls, event.app, event.outcome, event.code).inc()
            self._child(self.duration, event.app).observe(event.duration_s)
            for kind, count in event.tokens.items():
                if count:
                    self._child(self.tokens, event.app, event.provider or "", event.model or "",
                                kind).inc(count)
        elif isinstance(event, UpstreamAttempt):
            status = "none" if event.status is None else str(event.status)
            self._child(self.upstream, event.provider, status).inc()
        elif isinstance(event, UpstreamRetry):
            self._child(self.retries, event.provider, event.reason).inc()
        elif isinstance(event, HttpRejected):
            self._child(self.rejections, str(event.status)).inc()

    def _child(self, metric: Any, *labels: str) -> Any:
        """``metric.labels(*labels)``, remembered: prometheus_client checks and locks on each
        ``labels()`` call (~3 µs, seven a call); the label sets of a host are few."""
        key = (id(metric), *labels)
        child = self._children.get(key)
        if child is None:
            if len(self._children) >= _MAX_CHILDREN:
                self._children.clear()
            child = self._children[key] = metric.labels(*labels)
        return child

    def render(self) -> tuple[bytes, str]:
        """The Prometheus text of every worker (multiprocess mode) or of this process."""
        if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            registry = CollectorRegistry()
            _multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
            return generate_latest(registry), CONTENT_TYPE_LATEST
        return generate_latest(self.registry), CONTENT_TYPE_LATEST

"""The access log: one line per call (``WorkflowAppAccessLog``: ``on`` = stderr, ``off``, or a
file path), written from the ``CallEnded`` event.

A line holds what an operator needs to answer "what happened to that call?" and nothing a caller
sent: time (UTC), client address, application, HTTP status, error code, duration, upstream
status, retries and tokens. Never a parameter value, a context, a header or a key::

    2026-12-05T12:00:00.123Z client=10.0.0.5 app=OPENAICHAT status=200 code=ok \
duration_ms=1234.5 upstream=200 retries=0 tokens=prompt:12,completion:5
"""

from __future__ import annotations

import functools
import re
import sys
import threading
import time
from typing import TextIO

from .errors import ConfigurationError
from .events import CallEnded, Event
from .settings import ACCESS_LOG_STDERR as ON
from .settings import OFF

_UNSAFE = re.compile(r"[^A-Za-z0-9_.:\[\]-]")  # a field never breaks the line (log forging)


class AccessLog:
    """The observer: formats a ``CallEnded`` into one line and writes it with one write, to a
    stream, or appended to a file opened for that line (so logrotate needs no signal and
    several worker processes share the file)."""

    def __init__(self, stream: TextIO | None = None, path: str | None = None) -> None:
        self.stream = stream
        self.path = path
        self._lock = threading.Lock()

    def __call__(self, event: Event) -> None:
        if not isinstance(event, CallEnded):
            return
        line = format_line(event) + "\n"
        if self.path is not None:
            with open(self.path, "a", encoding="utf-8") as file:
                file.write(line)
            return
        stream = self.stream or sys.stderr
        with self._lock:
            stream.write(line)
            stream.flush()


def format_line(event: CallEnded, now: float | None = None) -> str:
    """The access-log line of one call (``now``: a POSIX time, default the current one)."""
    tokens = ",".join(f"{_safe(kind)}:{count}" for kind, count in event.tokens.items()) or "-"
    upstream = "-" if event.upstream_status is None else str(event.upstream_status)
    return (f"{_timestamp(time.time() if now is None else now)} "
            f"client={_safe(event.client or '-')} app={_safe(event.app)} "
            f"status={event.http_status} code={_safe(event.code)} "
            f"duration_ms={event.duration_s * 1000:.1f} upstream={upstream} "
            f"retries={event.retries} tokens={tokens}")


def _timestamp(now: float) -> str:
    """``2026-12-05T12:00:00.123Z``; the part up to the second is formatted once a second."""
    global _second
    millis = round(now * 1000)
    second = millis // 1000
    if _second[0] != second:
        _second = (second, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second)))
    return f"{_second[1]}.{millis % 1000:03d}Z"


_second = (-1, "")


@functools.lru_cache(maxsize=1024)  # applications, codes, token kinds and clients are few
def _safe(text: str) -> str:
    return _UNSAFE.sub("_", text)[:64] or "-"


def open_access_log(value: str | None) -> AccessLog | None:
    """The observer ``WorkflowAppAccessLog`` asks for: stderr, none, or appending to a file."""
    choice = (value or "on").strip()
    if choice.lower() in OFF:
        return None
    if choice.lower() in ON:
        return AccessLog()
    try:
        with open(choice, "a", encoding="utf-8"):
            pass  # writable now, or a clear error at start-up rather than at each call
    except OSError as exc:
        raise ConfigurationError(
            f"WorkflowAppAccessLog: cannot append to {choice!r} ({exc.strerror}); give a "
            "writable file path, on (stderr) or off."
        ) from None
    return AccessLog(path=choice)

"""Logs: WorkflowGen's per-application levels (0 off, 1 errors, 2 info, 3 debug) and redaction.

Each application logs to ``workflowapp.apps.<NAME>`` at the level of its ``...LogLevel`` setting;
the host itself logs to ``workflowapp`` at ``WorkflowAppLogLevel``. Records go to stderr and to a
daily file ``workflowapp-YYYY-MM-DD.log`` in ``WorkflowAppLogPath``. Every record passes through
:class:`RedactingFilter`, which removes the configured secrets, the API key of the call being
served and anything shaped like a credential, so no log line can carry a key. It also keeps
files out of the logs: every run of base64 (data URLs, Anthropic image and document blocks) is
shown by its length only, and the texts a call registered with :func:`conceal` (the text of
its attachments) by their label.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import logging
import re
import sys
from collections.abc import Iterable, Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

from .errors import REDACTED
from .settings import Settings

#: WorkflowGen log level -> logging level (0 disables the logger).
LEVELS = {0: logging.CRITICAL + 10, 1: logging.ERROR, 2: logging.INFO, 3: logging.DEBUG}

# Credential shapes: Authorization/api-key headers, Bearer tokens, OpenAI-style keys, and
# "API_KEY"/"api_key"/"password" fields in JSON or XML dumps.
_PATTERNS = (
    re.compile(r"(?i)(authorization[\"']?\s*[:=]\s*[\"']?)(basic|bearer)?\s*[^\s\"',}]+"),
    re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]+"),
    re.compile(r"(?i)(api[-_]?key[\"']?\s*[:=]\s*[\"']?)[^\s\"',}<]+"),
    re.compile(r"(?i)(password[\"']?\s*[:=]\s*[\"']?)[^\s\"',}<]+"),
    re.compile(r"()\bsk-[A-Za-z0-9_-]{8,}"),
)

#: Base64 runs long enough to be file content (a key or a hash is shorter).
_BASE64 = re.compile(r"(?<![A-Za-z0-9+/])[A-Za-z0-9+/]{200,}={0,2}")  # a run, from its start

_call_secrets: contextvars.ContextVar[tuple[str, ...]] = contextvars.ContextVar(
    "workflowapp_call_secrets", default=()
)
_call_concealed: contextvars.ContextVar[tuple[tuple[str, str], ...]] = contextvars.ContextVar(
    "workflowapp_call_concealed", default=()
)


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """``text`` with every given secret and every credential-shaped token replaced."""
    for secret in sorted({s for s in secrets if s and len(s) >= 4}, key=len, reverse=True):
        text = text.replace(secret, REDACTED)
    for pattern in _PATTERNS:
        text = pattern.sub(lambda m: f"{m.group(1)}{REDACTED}", text)
    for needle, label in _call_concealed.get():
        text = text.replace(needle, label)
    return _BASE64.sub(lambda m: f"[base64: {len(m.group())} characters]", text)


def conceal(label: str, *forms: str) -> None:
    """Log ``label`` in place of each of ``forms`` (one content in its escaped spellings) until
    the end of the current call (:func:`call_secrets` restores the state it found)."""
    pairs = tuple((form, label) for form in sorted(set(forms), key=len, reverse=True)
                  if len(form) >= 8)
    _call_concealed.set(_call_concealed.get() + pairs)


@contextlib.contextmanager
def call_secrets(*secrets: str | None) -> Iterator[None]:
    """Redact these values (e.g. the call's ``API_KEY``) from every record logged inside; what
    is :func:`conceal`-ed inside is forgotten on the way out."""
    token = _call_secrets.set(_call_secrets.get() + tuple(s for s in secrets if s))
    concealed = _call_concealed.set(_call_concealed.get())
    try:
        yield
    finally:
        _call_concealed.reset(concealed)
        _call_secrets.reset(token)


class RedactingFilter(logging.Filter):
    """Rewrites each record's message (and exception text) with secrets removed."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self.secrets = tuple(secrets)

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "redacted", False):  # the same record reaches each handler
            return True
        record.redacted = True
        secrets = self.secrets + _call_secrets.get()
        record.msg = redact(record.getMessage(), secrets)
        record.args = None
        if record.exc_info:
            formatter = logging.Formatter()
            record.exc_text = redact(formatter.formatException(record.exc_info), secrets)
            record.exc_info = None
        return True


class DailyFileHandler(logging.Handler):
    """Appends to ``<folder>/workflowapp-YYYY-MM-DD.log`` (UTC date), one file per day.

    Safe with several worker processes: each record is one append of one line.
    """

    def __init__(self, folder: str | Path) -> None:
        super().__init__()
        self.folder = Path(folder)
        self._day = ""
        self._stream: TextIO | None = None

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = self.format(record) + "\n"
            day = datetime.fromtimestamp(record.created, UTC).strftime("%Y-%m-%d")
            with self.lock or contextlib.nullcontext():
                if day != self._day or self._stream is None:
                    self._open(day)
                assert self._stream is not None
                self._stream.write(line)
                self._stream.flush()
        except Exception:
            self.handleError(record)

    def _open(self, day: str) -> None:
        if self._stream is not None:
            self._stream.close()
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self.folder / f"workflowapp-{day}.log"
        self._stream = path.open("a", encoding="utf-8")
        self._day = day

    def close(self) -> None:
        with self.lock or contextlib.nullcontext():
            if self._stream is not None:
                self._stream.close()
                self._stream = None
        super().close()


FORMAT = "%(asctime)s %(levelname)s %(name)s [%(process)d] %(message)s"


def level_of(settings: Settings, key: str) -> int:
    """The logging level of a WorkflowGen log-level setting (0-3; anything else counts as 0)."""
    raw = settings.get(key, "0") or "0"
    try:
        number = int(float(raw))
    except ValueError:
        number = 0
    return LEVELS[max(0, min(3, number))]


def configure(
    settings: Settings,
    *,
    stream: TextIO | None = None,
    to_file: bool = True,
    app_levels: Mapping[str, str] | None = None,
) -> None:
    """Install the stderr and daily-file handlers on the ``workflowapp`` logger (idempotent),
    and set each application's logger (``app_levels``: name -> its LogLevel setting) once,
    since settings do not change while the process runs."""
    root = logging.getLogger("workflowapp")
    for handler in list(root.handlers):
        root.removeHandler(handler)
        handler.close()
    handlers: list[logging.Handler] = [logging.StreamHandler(stream or sys.stderr)]
    if to_file:
        handlers.append(DailyFileHandler(settings.get("WorkflowAppLogPath") or "./logs"))
    redactor = RedactingFilter(settings.secrets())
    for handler in handlers:
        handler.setFormatter(logging.Formatter(FORMAT))
        handler.addFilter(redactor)
        root.addHandler(handler)
    root.propagate = False
    root.setLevel(logging.DEBUG)
    host_level = level_of(settings, "WorkflowAppLogLevel")
    for name in ("workflowapp.host", "workflowapp.upstream"):
        logging.getLogger(name).setLevel(host_level)
    for app_name, level_setting in (app_levels or {}).items():
        app_logger(app_name).setLevel(level_of(settings, level_setting))


@functools.cache  # getLogger takes logging's module lock on every call
def app_logger(app_name: str) -> logging.Logger:
    """The logger of one application (its level is set by :func:`configure`)."""
    return logging.getLogger(f"workflowapp.apps.{app_name}")

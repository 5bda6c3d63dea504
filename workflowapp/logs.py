"""Logs: WorkflowGen's per-application levels (0 off, 1 errors, 2 info, 3 debug) and redaction.

Each application logs to ``workflowapp.apps.<NAME>`` at the level of its ``...LogLevel`` setting;
the host itself logs to ``workflowapp`` at ``WorkflowAppLogLevel``. Records go to stderr and to a
daily file ``workflowapp-YYYY-MM-DD.log`` in ``WorkflowAppLogPath``. Every record passes through
:class:`RedactingFilter`, which removes the configured secrets, the API key of the call being
served and anything shaped like a credential, so no log line can carry a key. It also keeps
files out of the logs: every run of base64 (data URLs, Anthropic image and document blocks) is
shown by its length only, and the texts a call registered with :func:`conceal` (the text of
its attachments) by their label. Then it escapes every control character (``\\n``, ``\\r``,
ESC, NUL...), so no caller-supplied text can start a log line of its own or drive a terminal.
Long messages are cut by :func:`clip` (``WorkflowAppLogMaxBytes``).
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
from .kinds import Level
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


# C0 and C1 controls, DEL, the Unicode line and paragraph separators, and lone surrogates
# (a log file cannot even encode those).
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t", "\x00": "\\0"}

#: Default of ``WorkflowAppLogMaxBytes``: the longest message one record carries.
LOG_MAX_BYTES = 65536
_max_bytes = LOG_MAX_BYTES  # set once by configure(), like the loggers' levels
# What may be the start of a credential cut in two at the end of a clipped message.
_TAIL_TOKEN = re.compile(r"[^\s\"'<>,;{}\[\]]{1,512}$")


def escape(text: str) -> str:
    """``text`` on one line: newlines, carriage returns and every other control character
    written as escapes (``\\n``, ``\\x1b``), so logged values cannot forge records."""
    return _CONTROL.sub(_escaped, text)


def _escaped(match: re.Match[str]) -> str:
    char = match.group()
    return _NAMED.get(char) or (
        f"\\x{ord(char):02x}" if ord(char) < 0x100 else f"\\u{ord(char):04x}"
    )


def max_bytes() -> int:
    """``WorkflowAppLogMaxBytes``: the most one logged value or record may take."""
    return _max_bytes


def clip(text: str, limit: int | None = None, secrets: Iterable[str] = ()) -> str:
    """``text`` cut to at most ``limit`` bytes of UTF-8 (default: ``WorkflowAppLogMaxBytes``)
    with a note saying how much was left out: a 29 MB context must not write 29 MB of log.

    The token cut at the end (a credential, perhaps, or the start of a known secret) is
    dropped too, since redaction could no longer recognise a key cut in half."""
    limit = _max_bytes if limit is None else limit
    if len(text) <= limit // 4:  # UTF-8 takes at most 4 bytes a character: nothing to cut
        return text
    kept = text[:limit].encode("utf-8")[:limit].decode("utf-8", "ignore")
    if len(kept) == len(text):
        return text
    kept = _TAIL_TOKEN.sub("", kept)
    for needle in (*secrets, *(form for form, _ in _call_concealed.get())):
        kept = _without_cut(kept, needle)
    return f"{kept}... [{len(text) - len(kept)} more characters not logged: WorkflowAppLogMaxBytes]"


def _without_cut(text: str, needle: str) -> str:
    """``text`` without a start of ``needle`` at its end (a secret or concealed text that the
    limit cut, which a literal replacement would no longer find)."""
    if not needle:
        return text
    probe = needle[:16]
    start = max(0, len(text) - len(needle) + 1)
    found = text.find(probe, start)
    while found >= 0:
        if needle.startswith(text[found:]):
            return text[:found]
        found = text.find(probe, found + 1)
    for size in range(min(len(probe) - 1, len(text)), 0, -1):
        if text.endswith(needle[:size]):
            return text[:-size]
    return text


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
    """Rewrites each record's message (and exception text) with secrets removed and control
    characters escaped: the message becomes one line; each further line of a traceback is
    indented with ``"  | "``, so that no line it writes can pass for a record of its own."""

    def __init__(self, secrets: Iterable[str] = (), max_bytes: int = LOG_MAX_BYTES) -> None:
        super().__init__()
        self.secrets = tuple(secrets)
        self.max_bytes = max_bytes

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "redacted", False):  # the same record reaches each handler
            return True
        record.redacted = True
        secrets = self.secrets + _call_secrets.get()
        message = clip(record.getMessage(), self.max_bytes, secrets)
        # cut again once escaped: a value of control characters grows fourfold as escapes
        record.msg = clip(escape(redact(message, secrets)), self.max_bytes)
        record.args = None
        if record.exc_info or record.exc_text:
            text = record.exc_text or (
                logging.Formatter().formatException(record.exc_info) if record.exc_info else ""
            )
            lines = redact(text, secrets).split("\n")
            record.exc_text = "\n  | ".join(escape(line) for line in lines)
            record.exc_info = None
        if record.stack_info:
            record.stack_info = escape(redact(record.stack_info, secrets))
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
    """The logging level of a WorkflowGen log-level setting (0-3, its declared default when
    unset; read leniently: see :class:`~workflowapp.kinds.Level`)."""
    raw, _ = settings.in_force(key)
    return LEVELS[Level().number(raw or "0")]


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
    global _max_bytes
    _max_bytes = max(1, settings.get_int("WorkflowAppLogMaxBytes"))
    redactor = RedactingFilter(settings.secrets(), _max_bytes)
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

"""The body of ``POST /<APP>``: read within its limits and time, and the context found in it.

A body over its limit is refused (413) before it is parsed; under gevent, a client that takes
longer than ``WorkflowAppBodyTimeout`` to send it is cut off (408). The context is found by
content, whatever the transport WorkflowGen used: the raw body, one
``application/x-www-form-urlencoded`` field, or a ``multipart/form-data`` field or file part.
Large documents are parsed and written off the gevent loop (:func:`off_loop`).
"""

from __future__ import annotations

import contextlib
import functools
import io
import socket
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import parse_qsl

from .context import Context, read_context
from .errors import BodyTimeout, ContextError, RequestTooLarge
from .settings import Settings
from .wire import Request

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIEnvironment


def read_body(settings: Settings, log_setting: str, request: Request) -> bytes:
    """The raw body, refused with 413 before parsing when it exceeds the limit."""
    app_key = log_setting.removesuffix("LogLevel") + "MaxRequestBytes"
    limit = settings.max_request_bytes
    if settings.get(app_key):
        limit = min(limit, settings.get_int(app_key))
    if request.content_length is not None and request.content_length > limit:
        raise too_large(limit)
    try:
        body = _read_within(settings.get_float("WorkflowAppBodyTimeout"), request, limit)
    except (BodyTimeout, RequestTooLarge):
        raise
    except Exception as exc:  # noqa: BLE001 - the server's parse errors (gunicorn's
        # InvalidChunkSize, ChunkMissingTerminator, NoMoreData) are the client's fault: 400
        raise ContextError(
            f"The request body cannot be read ({type(exc).__name__}): a malformed chunked "
            "body or a connection cut short."
        ) from None
    if len(body) > limit:
        raise too_large(limit)
    return body


#: Bodies from this size on are parsed, and their replies written, off the event loop.
LARGE_BODY = 1 << 20
#: A chunked body is read this much at a time.
CHUNK = 1 << 20
_T = TypeVar("_T")


def context_in(body: bytes, full_type: str | None) -> tuple[Context, str, str]:
    """The context in ``body``, and how it came (see :func:`find_context`)."""
    raw, transport, field = find_context(body, full_type)
    return read_context(raw), transport, field


def off_loop(large: bool, work: Callable[..., _T], *args: Any) -> _T:
    """``work(*args)``; for a large document under gevent, in a native thread, so that the
    worker's other connections (``/healthz``, calls waiting for their LLM) are served while a
    30 MB context is parsed or written (lxml releases the GIL while it parses)."""
    if large and _under_gevent():
        result: _T = _threadpool().apply(work, args)
        return result
    return work(*args)


@functools.cache  # one per worker process, made on first use (after the fork)
def _threadpool() -> Any:
    """Two threads: at most two large documents are parsed or written at once per worker,
    which bounds their memory; the hub's own pool stays free for DNS lookups."""
    from gevent.threadpool import ThreadPool

    return ThreadPool(2)


def _read_within(seconds: float, request: Request, limit: int) -> bytes:
    """The request body; under gevent (gunicorn's gevent worker), a client that takes more
    than ``seconds`` to send it gets :class:`BodyTimeout` (408) and its connection is closed,
    so slow senders cannot hold the worker's connection slots. Other servers: see the README
    (waitress reads bodies itself before the application runs)."""
    if not _under_gevent():
        return _body(request, limit)
    import gevent

    timeout = gevent.Timeout(seconds)
    timeout.start()
    try:
        return _body(request, limit)
    except gevent.Timeout as exc:
        if exc is not timeout:
            raise
        _stop_reading(request.environ)
        raise BodyTimeout(
            f"The request body took longer than {seconds:g} s to arrive "
            "(WorkflowAppBodyTimeout)."
        ) from None
    finally:
        timeout.close()


def _body(request: Request, limit: int) -> bytes:
    """The whole body, read in one call when its length is known (reading a known length in
    small pieces makes gunicorn copy all it has read ahead at each piece: a 28 MB body blocked
    a gevent worker for ~0.7 s that way); a chunked body a megabyte at a time, refused as soon
    as it passes ``limit``."""
    length = request.content_length
    if length is None:
        return _chunked(request, limit) if request.streamed else b""
    parts = []
    while length > 0:
        data = request.read(length)
        if not data:
            raise ContextError("The request body is shorter than its Content-Length.")
        parts.append(data)
        length -= len(data)
    return parts[0] if len(parts) == 1 else b"".join(parts)


def _chunked(request: Request, limit: int) -> bytes:
    parts = []
    size = 0
    while data := request.read(CHUNK):
        size += len(data)
        if size > limit:
            raise too_large(limit)
        parts.append(data)
    return b"".join(parts)


def _under_gevent() -> bool:
    """Whether sockets are gevent's (the gevent workers patch them before the app loads)."""
    monkey = sys.modules.get("gevent.monkey")
    return monkey is not None and bool(monkey.is_module_patched("socket"))


def _stop_reading(environ: WSGIEnvironment) -> None:
    """Shut the read side of the client connection: gunicorn would otherwise wait for the rest
    of the slow body before closing (it ignores an application's ``Connection: close``)."""
    shutdown = getattr(environ.get("gunicorn.socket"), "shutdown", None)
    if callable(shutdown):
        with contextlib.suppress(OSError):
            shutdown(socket.SHUT_RD)


def too_large(limit: int) -> RequestTooLarge:
    return RequestTooLarge(
        f"The request body exceeds the limit of {limit} bytes (WorkflowAppMaxRequestBytes)."
    )


def find_context(body: bytes, full_type: str | None) -> tuple[bytes, str, str]:
    """The context document in ``body`` and how it came: raw, form field or multipart part.

    The Content-Type is looked at only when the body is not itself the context (parsing it
    costs more than the check)."""
    if _looks_like_context(body):
        return body, "raw body", ""
    mimetype = (full_type or "").partition(";")[0].strip().lower()
    if mimetype == "application/x-www-form-urlencoded":
        text = body.decode("utf-8", "replace")
        for name, value in parse_qsl(text, keep_blank_values=True):
            if _looks_like_context(data := value.encode()):
                return data, "form field", name
    elif mimetype == "multipart/form-data":
        from werkzeug.formparser import FormDataParser

        parser = FormDataParser(max_form_memory_size=len(body) + 1)
        _, form, files = parser.parse(
            io.BytesIO(body), mimetype, len(body), _options(full_type or "")
        )
        try:
            for name, value in form.items(multi=True):
                if _looks_like_context(data := value.encode()):
                    return data, "multipart field", name
            for name, part in files.items(multi=True):
                data = part.read()
                if _looks_like_context(data):
                    return data, "multipart file", name
        finally:
            for part in files.values():
                part.close()
    if not body.strip():
        raise ContextError("The request carries no context: the body is empty.")
    raise ContextError(
        "The request carries no WorkflowGen context: the body (or a form field) must be the "
        "XML or JSON context."
    )


def _options(full_type: str) -> dict[str, str]:
    options: dict[str, str] = {}
    for part in full_type.split(";")[1:]:
        key, _, value = part.strip().partition("=")
        options[key.lower()] = value.strip('"')
    return options


def _looks_like_context(data: bytes) -> bool:
    """Whether ``data`` starts (after a BOM and blanks) with ``{`` or ``<``: UTF-8, or UTF-16
    as the context reader accepts it (a BOM, or a NUL in the first two bytes)."""
    head = data[:128]
    if head.startswith((b"\xff\xfe", b"\xfe\xff")) or b"\x00" in head[:2]:
        encoding = "utf-16" if head[:2] in (b"\xff\xfe", b"\xfe\xff") else (
            "utf-16-be" if head[:1] == b"\x00" else "utf-16-le")
        text = head[: len(head) // 2 * 2].decode(encoding, "ignore")
        return text.lstrip("\ufeff \t\r\n")[:1] in ("{", "<")
    start = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    return start[:1] in (b"{", b"<")

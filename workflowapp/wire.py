"""The WSGI request and response of ``POST /<APP>``, read and written without a framework.

``POST /<APP>`` is the one request WorkflowGen sends, and the only one a worker must answer
from its start: werkzeug (~30 ms of import) and Flask (~40 ms more) are loaded only when
another request (``GET /healthz``...) or a multipart body needs them. What is read here
follows werkzeug's rules (Content-Length, a chunked body under a server that ends its input
stream, the path as UTF-8), so that the host's path and Flask's answer alike
(``tests/test_host.py`` compares them for any path, method, body and credentials).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from http import HTTPStatus
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

_DIGITS = re.compile(r"[0-9]+")
#: CGI names of the headers a WSGI server passes without the ``HTTP_`` prefix.
_UNPREFIXED = {"CONTENT_TYPE": "Content-Type", "CONTENT_LENGTH": "Content-Length"}


class Request:
    """What the host reads of a WSGI request: its environ, seen through plain properties."""

    __slots__ = ("environ",)

    def __init__(self, environ: WSGIEnvironment) -> None:
        self.environ = environ

    @property
    def method(self) -> str:
        return str(self.environ.get("REQUEST_METHOD", "GET")).upper()

    @property
    def path(self) -> str:
        """The path, as UTF-8 (a WSGI server hands it over as Latin-1)."""
        raw = str(self.environ.get("PATH_INFO", ""))
        return "/" + raw.encode("latin-1", "replace").decode("utf-8", "replace").lstrip("/")

    @property
    def full_path(self) -> str:
        query = str(self.environ.get("QUERY_STRING", ""))
        return f"{self.path}?{query.encode('latin-1', 'replace').decode('utf-8', 'replace')}"

    @property
    def remote_addr(self) -> str | None:
        address = self.environ.get("REMOTE_ADDR")
        return str(address) if address is not None else None

    @property
    def content_type(self) -> str | None:
        value = self.environ.get("CONTENT_TYPE")
        return str(value) if value else None

    @property
    def content_length(self) -> int | None:
        """The declared length; None for a chunked body or none declared, 0 for a value that
        is not a plain number (as werkzeug reads it)."""
        environ = self.environ
        declared = environ.get("CONTENT_LENGTH")
        codings = str(environ.get("HTTP_TRANSFER_ENCODING", "")).lower().split(",")
        if declared is None or any(coding.strip() == "chunked" for coding in codings):
            return None
        value = str(declared).strip(" \t")
        return int(value) if _DIGITS.fullmatch(value) else 0

    @property
    def streamed(self) -> bool:
        """Whether the server ends the input stream itself (gunicorn, for chunked bodies);
        otherwise a body without a length cannot be read safely and is taken as empty."""
        return "wsgi.input_terminated" in self.environ

    def header(self, name: str) -> str:
        """One request header ("" when absent)."""
        key = name.upper().replace("-", "_")
        value = self.environ.get(key if key in _UNPREFIXED else f"HTTP_{key}", "")
        return str(value)

    def headers(self) -> Iterator[tuple[str, str]]:
        """Every request header, by its usual name."""
        for key, value in self.environ.items():
            if key.startswith("HTTP_") and key[5:] not in _UNPREFIXED:
                yield key[5:].replace("_", "-").title(), str(value)
            elif key in _UNPREFIXED and value:
                yield _UNPREFIXED[key], str(value)

    def read(self, size: int) -> bytes:
        """Up to ``size`` bytes of the body (b"" at its end)."""
        data: bytes = self.environ["wsgi.input"].read(size)
        return data


class Response:
    """A complete answer: status, headers (Content-Length included) and body."""

    __slots__ = ("body", "headers", "status")

    def __init__(self, body: bytes | list[bytes], status: int, content_type: str) -> None:
        self.body = [body] if isinstance(body, bytes) else body
        self.status = status
        self.headers: dict[str, str] = {
            "Content-Type": content_type,
            "Content-Length": str(sum(len(part) for part in self.body)),
        }

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> list[bytes]:
        start_response(f"{self.status} {_reason(self.status)}", list(self.headers.items()))
        return self.body

    def __repr__(self) -> str:
        return f"<Response {self.status} {self.headers.get('Content-Type')}>"


def _reason(status: int) -> str:
    """The reason phrase, in capitals as werkzeug (and so Flask's answers) writes it."""
    try:
        return HTTPStatus(status).phrase.upper()
    except ValueError:
        return "UNKNOWN"


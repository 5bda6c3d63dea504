"""The framework-free request and response of POST /<APP> read and write what werkzeug does
(werkzeug is the oracle: Flask's answers go through it)."""

from __future__ import annotations

import io
from http import HTTPStatus

import pytest
from hypothesis import given
from hypothesis import strategies as st
from werkzeug.test import EnvironBuilder, run_wsgi_app
from werkzeug.wrappers import Request as WerkzeugRequest
from werkzeug.wrappers import Response as WerkzeugResponse

from workflowapp import body
from workflowapp.errors import ContextError, RequestTooLarge
from workflowapp.wire import Request, Response

header_text = st.text(st.characters(min_codepoint=0x20, max_codepoint=0xFF), max_size=20)
lengths = st.one_of(st.none(), st.integers(0, 10**9).map(str),
                    st.sampled_from(["", " 12 ", "-1", "+5", "1_000", "0x10", "١٢", "7 8",
                                     "\t9"]), header_text)
codings = st.one_of(st.none(), st.sampled_from([
    "chunked", "Chunked", "gzip, chunked", "gzip,chunked", " chunked ", "x-chunked", "notchunked",
    "chunked;q=1", "gzip", "", "identity, CHUNKED"]), header_text)
paths = st.text(st.characters(codec="utf-8", exclude_characters="?#"), max_size=16)


def environ_of(path: str, query: str, headers: dict[str, str], length: str | None,
               coding: str | None, address: str | None, extra: dict[str, str]
               ) -> dict[str, object]:
    environ = EnvironBuilder(path="/" + path, query_string=query, headers=list(headers.items()),
                             method="POST").get_environ()
    environ.pop("CONTENT_LENGTH", None)
    if length is not None:
        environ["CONTENT_LENGTH"] = length
    if coding is not None:
        environ["HTTP_TRANSFER_ENCODING"] = coding
    environ.update(extra)
    if address is not None:
        environ["REMOTE_ADDR"] = address
    else:
        environ.pop("REMOTE_ADDR", None)
    return environ


@given(path=paths, query=st.text(st.characters(codec="ascii", exclude_characters="#"),
                                 max_size=10),
       headers=st.dictionaries(st.sampled_from(["Authorization", "Content-Type", "X-Custom",
                                                "api-key", "Cookie"]), header_text),
       length=lengths, coding=codings,
       address=st.one_of(st.none(), st.sampled_from(["10.0.0.1", "::1"])),
       extra=st.dictionaries(st.sampled_from(["HTTP_CONTENT_TYPE", "HTTP_CONTENT_LENGTH",
                                              "HTTP_X_FORWARDED_FOR"]), header_text))
def test_request_reads_what_werkzeug_reads(path: str, query: str, headers: dict[str, str],
                                           length: str | None, coding: str | None,
                                           address: str | None, extra: dict[str, str]) -> None:
    environ = environ_of(path, query, headers, length, coding, address, extra)
    ours, theirs = Request(environ), WerkzeugRequest(environ)
    assert ours.method == theirs.method
    assert ours.path == theirs.path
    assert ours.full_path == theirs.full_path
    assert ours.remote_addr == theirs.remote_addr
    assert (ours.content_type or "") == (theirs.content_type or "")
    assert ours.content_length == theirs.content_length
    assert ours.header("Authorization") == theirs.headers.get("Authorization", "")
    assert sorted(ours.headers()) == sorted(theirs.headers.items())


statuses = st.sampled_from([200, 400, 401, 403, 404, 405, 408, 413, 422, 429, 500, 501, 502,
                            503, 504])


@given(status=statuses, parts=st.lists(st.binary(max_size=50), min_size=1, max_size=3),
       content_type=st.sampled_from(["text/plain; charset=utf-8", "application/xml",
                                     "application/json; charset=utf-8"]))
def test_response_is_written_as_werkzeug_writes_it(status: int, parts: list[bytes],
                                                   content_type: str) -> None:
    environ = EnvironBuilder(method="POST").get_environ()
    body_ = parts[0] if len(parts) == 1 else parts
    ours = run_wsgi_app(Response(body_, status, content_type), environ, buffered=True)
    theirs = run_wsgi_app(WerkzeugResponse(body_, status, content_type=content_type), environ,
                          buffered=True)
    assert ours[1] == theirs[1]
    assert sorted(ours[2].items()) == sorted(theirs[2].items())
    assert b"".join(ours[0]) == b"".join(theirs[0])


def test_an_unknown_status_still_has_a_reason() -> None:
    iterable, status, _ = run_wsgi_app(Response(b"", 299, "text/plain"), {}, buffered=True)
    assert status == "299 UNKNOWN"
    assert HTTPStatus(200).phrase.upper() == "OK"


class Endless(io.RawIOBase):
    """A chunked body that never ends (a client streaming forever)."""

    reads = 0

    def read(self, size: int = -1) -> bytes:
        self.reads += 1
        return b"x" * (size if size > 0 else 1)


def test_a_chunked_body_is_refused_as_soon_as_it_passes_the_limit() -> None:
    stream = Endless()
    request = Request({"wsgi.input": stream, "wsgi.input_terminated": True,
                       "HTTP_TRANSFER_ENCODING": "chunked"})
    with pytest.raises(RequestTooLarge, match="3000000 bytes"):
        body._body(request, 3_000_000)
    assert stream.reads == 3


def test_a_chunked_body_within_the_limit_is_read_whole() -> None:
    request = Request({"wsgi.input": io.BytesIO(b"<x/>" * 700_000),
                       "wsgi.input_terminated": True, "HTTP_TRANSFER_ENCODING": "chunked"})
    assert body._body(request, 2_800_000) == b"<x/>" * 700_000


def test_a_body_without_length_from_a_server_that_does_not_end_it_is_empty() -> None:
    request = Request({"wsgi.input": Endless()})
    assert body._body(request, 100) == b""


def test_a_body_shorter_than_its_length_is_a_context_error() -> None:
    request = Request({"wsgi.input": io.BytesIO(b"<x/>"), "CONTENT_LENGTH": "10"})
    with pytest.raises(ContextError, match="shorter than its Content-Length"):
        body._body(request, 100)

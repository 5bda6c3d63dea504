"""The one HTTP client every application uses to reach a provider: transport, retries, errors.

A :class:`Client` owns one pooled :class:`requests.Session` (the process holds one Client) and
sends through its transport adapter (see :meth:`Client._send`). Each
call checks the URL against the allow-list before anything is sent, adds the provider's auth
header (and Azure's ``api-version``) unless the caller gives its headers, retries by
:mod:`.policy` within an overall deadline, lets the caller resend a changed body once a model
refused a parameter (``resend``: the chat sender's hook; the client knows no chat fields), emits
an :class:`~workflowapp.events.UpstreamAttempt` per HTTP attempt and an
:class:`~workflowapp.events.UpstreamRetry` per retry, and
either returns a :class:`Response` (2xx) or raises the most specific
:class:`~workflowapp.errors.UpstreamError` built by :mod:`.errors`. Redirects are not followed:
requests would carry the ``api-key`` header to whatever host a redirect names.

Time budget of one call (:class:`CallOptions`):

============  =====================================================================================
connect       ``connect_timeout`` per attempt (default 5 s)
read          ``read_timeout`` per socket read (default 600 s, the SDK's); a server that keeps
              sending keeps the attempt alive
deadline      ``deadline`` seconds for the whole call, retries and backoff included; ``None``
              (default) means no overall limit beyond ``(max_retries + 1)`` attempts, as in the SDK.
              No retry starts, and no backoff is slept, that would end past the deadline, and each
              attempt's timeouts are cut to what remains.
============  =====================================================================================

To honour a per-call ``TIMEOUT`` parameter of *t* seconds, pass
``dataclasses.replace(options, read_timeout=t, deadline=t)``; for ``MAX_RETRIES``,
``replace(options, max_retries=n)`` (0 disables retrying).
"""

from __future__ import annotations

import functools
import ipaddress
import json
import logging
import os
import random
import re
import time
import unicodedata
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple, cast
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import requests
from urllib3.exceptions import LocationParseError
from urllib3.util import parse_url

from .. import __version__
from ..errors import REDACTED, ParameterError, UpstreamError, UrlNotAllowed
from ..events import Events, UpstreamAttempt, UpstreamRetry
from ..logs import clip
from ..messages import DataView
from . import policy
from .errors import (
    ErrorInfo,
    Failure,
    bad_json_error,
    deadline_error,
    is_timeout,
    is_transient,
    parse_error_body,
    redact,
    request_id,
    status_error,
    transport_error,
)
from .pool import pooled_session
from .providers.base import Provider, auth_headers, with_api_version

_LOG = logging.getLogger("workflowapp.upstream")
#: A retry is not started with less than this many seconds left before the deadline.
MIN_ATTEMPT_SECONDS = 0.1
_JSON_TYPE = re.compile(r"^application/(?:[\w.+-]*\+)?json\b", re.IGNORECASE)
_CHARSET = re.compile(r"charset=\"?([\w.:-]+)", re.IGNORECASE)
_BAD_HEADER_CHARS = re.compile(r"[\r\n\x00]")


USER_AGENT = f"workflowapp/{__version__}"


@dataclass(frozen=True)
class CallOptions:
    """Timeouts and retry limits of one call (see the module docstring for the time budget)."""

    connect_timeout: float = 5.0
    read_timeout: float = 600.0
    deadline: float | None = None
    max_retries: int = policy.DEFAULT_MAX_RETRIES
    max_retry_after: float = policy.MAX_RETRY_AFTER
    azure_api_version: str = "2024-10-21"

    def __post_init__(self) -> None:
        for name in ("connect_timeout", "read_timeout", "deadline"):
            value = getattr(self, name)
            if value is not None and not value > 0:
                raise ParameterError(f"{name} must be a number of seconds above 0, not {value!r}")
        if self.max_retries < 0:
            raise ParameterError(f"max_retries must be 0 or more, not {self.max_retries!r}")
        if self.max_retry_after < 0:
            raise ParameterError(f"max_retry_after must be 0 or more, not {self.max_retry_after}")


@dataclass
class Response:
    """A successful (2xx) upstream answer, with the metrics of the call."""

    status: int
    headers: Mapping[str, str]
    text: str
    data: Any  # the parsed JSON, or None when the answer is not JSON
    request_id: str | None
    retries: int
    duration_ms: float = 0.0  # the whole call's, set when it ends (retries included)


class _Payload(NamedTuple):
    """A request body that can be sent again on a retry."""

    data: bytes | bytearray | list[tuple[str, str]]
    files: dict[str, tuple[str, bytes, str]] | None
    content_type: str | None
    described: str  # what DEBUG logs show of it


#: A caller's hook on a failed call: (status, what the error body says, the body sent) -> the
#: body to send instead (the call is resent once more), or ``None`` to fail.
Resend = Callable[[int | None, ErrorInfo, dict[str, Any]], dict[str, Any] | None]


class _Failed(NamedTuple):
    """A call that ended in an error, kept unraised so the resend hook can still look at it."""

    error: UpstreamError
    cause: BaseException | None = None
    info: ErrorInfo | None = None


class Client:
    """The pooled upstream client; thread-safe, one per process.

    :param pool_size: connections kept per host (``pool_maxsize``; never blocks when exceeded).
    :param allowed_hosts: hosts a URL may name (``*.example.com`` and ``*`` allowed, ports
        ignored); ``None`` allows every host, an empty collection none.
    :param session: a session whose mounted adapters send instead of a new pooled one's
        (tests); its own headers, auth, cookies, hooks and proxies are not used.
    :param sleep, clock, rng, wallclock: injected so tests never wait; ``clock`` is monotonic,
        ``wallclock`` is Unix time (for HTTP-date ``Retry-After``).
    :param events: the hub that hears of each attempt and retry (``None``: nobody listens).
    """

    def __init__(
        self,
        *,
        pool_size: int = 100,
        allowed_hosts: Iterable[str] | None = None,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        rng: Callable[[], float] = random.random,
        wallclock: Callable[[], float] = time.time,
        events: Events | None = None,
    ) -> None:
        self._session = session if session is not None else pooled_session(pool_size)
        # The proxy and CA-bundle environment is read here, once, instead of by requests on
        # every call (trust_env): that re-reading was ~10 % of the host's CPU per call.
        self._verify: bool | str = _ca_bundle()
        self._proxies: dict[str, dict[str, str]] = {}
        self._allowed = None if allowed_hosts is None else _host_patterns(allowed_hosts)
        self._sleep = sleep
        self._clock = clock
        self._rng = rng
        self._wallclock = wallclock
        self._events = events

    @property
    def events(self) -> Events | None:
        """The hub attempts and retries are emitted to."""
        return self._events

    def listen(self, events: Events) -> None:
        """Emit attempts and retries to ``events`` (``create_app`` wires a given client to the
        services' hub when it has none)."""
        self._events = events

    def close(self) -> None:
        """Close the pooled connections."""
        self._session.close()

    def _proxies_for(self, url: str) -> dict[str, str]:
        """The environment's proxies for this URL's origin (no_proxy honoured), looked up once."""
        parts = urlsplit(url)
        origin = f"{parts.scheme}://{parts.netloc}"
        proxies = self._proxies.get(origin)
        if proxies is None:
            proxies = requests.utils.get_environ_proxies(origin)
            self._proxies[origin] = proxies
        return proxies

    def post_json(
        self,
        url: str,
        body: dict[str, Any],
        *,
        api_key: str,
        provider: Provider,
        options: CallOptions,
        log: logging.Logger | None = None,
        headers: Mapping[str, str] | None = None,
        resend: Resend | None = None,
    ) -> Response:
        """POST ``body`` as JSON; the 2xx answer, or the translated :class:`UpstreamError`.

        :param headers: the provider's headers, auth included (default: the provider's auth
            header for ``api_key``).
        :param resend: called on a failed call; a body it returns is sent instead, within the
            same deadline (resends are not counted in ``retries``).
        :raises UrlNotAllowed: before anything is sent, for a URL outside the allow-list.
        :raises UpstreamError: the most specific leaf, after the retries.
        """
        target = self._prepare(url, api_key, provider, options)
        started = self._clock()
        logger = log or _LOG
        retries = 0
        while True:
            outcome = self._exchange(
                target, _json_payload(body), api_key, provider, options, started, logger,
                headers,
            )
            changed = None
            if resend is not None and isinstance(outcome, _Failed) and outcome.info is not None:
                changed = resend(outcome.error.http_status, outcome.info, body)
            if changed is None:
                _add_retries(outcome, retries)
                return self._finish(outcome, target, api_key, started, logger)
            assert isinstance(outcome, _Failed)
            retries += outcome.error.retries
            body = changed

    def post_multipart(
        self,
        url: str,
        *,
        fields: list[tuple[str, str]],
        files: dict[str, tuple[str, bytes, str]],
        api_key: str,
        provider: Provider,
        options: CallOptions,
        log: logging.Logger | None = None,
    ) -> Response:
        """POST a multipart form (``files`` as ``name: (filename, bytes, content type)``)."""
        target = self._prepare(url, api_key, provider, options)
        started = self._clock()
        payload = _multipart_payload(fields, files)
        logger = log or _LOG
        outcome = self._exchange(target, payload, api_key, provider, options, started, logger)
        return self._finish(outcome, target, api_key, started, logger)

    # -- one call, with retries -------------------------------------------------------------

    def _prepare(self, url: str, api_key: str, provider: Provider, options: CallOptions) -> str:
        """Check the URL and key before anything is sent; the URL to call."""
        url = _check_url(url, self._allowed)
        if not (api_key.isascii() and api_key.isprintable()):
            raise ParameterError(
                "API_KEY contains characters a header cannot carry", parameter="API_KEY"
            )
        return with_api_version(url, provider, options.azure_api_version)

    def _exchange(
        self,
        url: str,
        payload: _Payload,
        api_key: str,
        provider: Provider,
        options: CallOptions,
        started: float,
        log: logging.Logger,
        given: Mapping[str, str] | None = None,
    ) -> Response | _Failed:
        """Send ``payload`` until it succeeds or the policy gives up."""
        failure = Failure(provider, url, api_key)
        if log.isEnabledFor(logging.DEBUG):  # a body may be megabytes: redact only if shown
            log.debug("request body: %s", redact(clip(payload.described, None, [api_key]), api_key))
        attempt = 0
        while True:
            timeout = self._timeouts(options, started)
            if timeout is None:
                return _Failed(
                    deadline_error(failure._replace(retries=attempt), options.deadline or 0)
                )
            headers = _headers(api_key, provider, payload, attempt, given)
            try:
                answer = self._send(url, payload, headers, timeout)
            except requests.RequestException as exc:
                self._emit(UpstreamAttempt(provider.value, None))
                decision = (
                    self._decide(None, {}, None, attempt, options, started)
                    if is_transient(exc)
                    else policy.Decision(None, "")
                )
                if decision.delay is None:
                    failed = failure._replace(retries=attempt, note=decision.reason or None)
                    return _Failed(self._transport_error(failed, exc, timeout, options), exc)
                self._backoff(decision, type(exc).__name__, url, api_key, log)
                self._emit(UpstreamRetry(provider.value,
                                         "timeout" if is_timeout(exc) else "connection"))
                attempt += 1
                continue
            self._emit(UpstreamAttempt(provider.value, answer.status_code))
            text = _decode(answer)
            if 200 <= answer.status_code < 300:
                return self._success(answer, text, failure._replace(retries=attempt))
            info = parse_error_body(text, answer.headers.get("content-type"))
            decision = self._decide(
                answer.status_code, answer.headers, info.retry_code, attempt, options, started
            )
            if decision.delay is None:
                note = decision.reason if policy.retryable_status(answer.status_code) else None
                failed = failure._replace(retries=attempt, note=note)
                error = status_error(
                    failed,
                    answer.status_code,
                    text,
                    answer.headers,
                    info=info,
                    reason=answer.reason,
                )
                return _Failed(error, None, info)
            self._backoff(decision, str(answer.status_code), url, api_key, log)
            self._emit(UpstreamRetry(provider.value, str(answer.status_code)))
            attempt += 1

    def _emit(self, event: UpstreamAttempt | UpstreamRetry) -> None:
        if self._events is not None and self._events.active:
            self._events.emit(event)

    def _send(
        self,
        url: str,
        payload: _Payload,
        headers: dict[str, str],
        timeout: tuple[float, float],
    ) -> requests.Response:
        """One POST, handed straight to the session's pooled transport adapter.

        ``Session.request`` is skipped on purpose: its per-call merging of settings, its cookie
        jar and its redirect machinery cost ~0.15 ms of CPU per call (a third of the time
        requests takes) and none of them is wanted here. Without it no ``.netrc`` credentials,
        no cookies carried from one caller's call to another's, and no redirects (requests would
        carry the ``api-key`` header to whatever host a redirect names).
        """
        request = requests.PreparedRequest()
        if isinstance(payload.data, bytes | bytearray):  # JSON: prepare() costs ~20 us more
            request.method = "POST"
            request.url = _normalised_url(url)
            request.prepare_headers(headers)  # requests' header checks, as before
            request.headers["Content-Length"] = str(len(payload.data))
            request.body = cast(bytes, payload.data)  # urllib3 sends a bytearray as it is
        else:
            request.prepare(
                method="POST", url=url, headers=headers, data=payload.data, files=payload.files
            )
        adapter = self._session.get_adapter(url)
        answer = adapter.send(
            request, timeout=timeout, verify=self._verify, proxies=self._proxies_for(url)
        )
        # The body is read here, so that a connection broken mid-body is a transport error the
        # caller retries, like one broken before the headers.
        answer.content  # noqa: B018
        return answer

    def _timeouts(self, options: CallOptions, started: float) -> tuple[float, float] | None:
        """(connect, read) for the next attempt, cut to the deadline; ``None`` if none is left."""
        if options.deadline is None:
            return options.connect_timeout, options.read_timeout
        left = started + options.deadline - self._clock()
        if left <= 0:
            return None
        return min(options.connect_timeout, left), min(options.read_timeout, left)

    def _decide(
        self,
        status: int | None,
        headers: Mapping[str, str],
        code: str | None,
        attempt: int,
        options: CallOptions,
        started: float,
    ) -> policy.Decision:
        """The policy's decision, refused when the wait would run into the deadline."""
        decision = policy.evaluate(
            status,
            headers,
            code,
            attempt,
            options.max_retries,
            now=self._wallclock(),
            rng=self._rng(),
            max_retry_after=options.max_retry_after,
        )
        if decision.delay is None or options.deadline is None:
            return decision
        ends = self._clock() + decision.delay + MIN_ATTEMPT_SECONDS
        if ends > started + options.deadline:
            reason = f"the {options.deadline:g} s deadline left no time for a retry"
            return policy.Decision(None, reason)
        return decision

    def _backoff(
        self, decision: policy.Decision, what: str, url: str, api_key: str, log: logging.Logger
    ) -> None:
        """Log the retry and sleep its delay."""
        log.warning("POST %s -> %s; %s", redact(safe_url(url), api_key), what, decision.reason)
        self._sleep(decision.delay or 0.0)

    def _transport_error(
        self,
        failure: Failure,
        exc: requests.RequestException,
        timeout: tuple[float, float],
        options: CallOptions,
    ) -> UpstreamError:
        cut_short = timeout[1] < options.read_timeout or timeout[0] < options.connect_timeout
        if cut_short and is_timeout(exc) and options.deadline is not None:
            return deadline_error(failure, options.deadline)
        return transport_error(failure, exc, connect=timeout[0], read=timeout[1])

    def _success(
        self, answer: requests.Response, text: str, failure: Failure
    ) -> Response | _Failed:
        content_type = answer.headers.get("content-type", "")
        data: Any = None
        if _JSON_TYPE.match(content_type) and answer.status_code != 204:
            try:
                data = json.loads(text)
            except ValueError as exc:
                return _Failed(
                    bad_json_error(failure, answer.status_code, text, answer.headers), exc
                )
        elif text.lstrip()[:1] in ("{", "["):
            data = _maybe_json(text)
        return Response(
            status=answer.status_code,
            headers=answer.headers,
            text=text,
            data=data,
            request_id=request_id(answer.headers) or _body_id(data),
            retries=failure.retries,
        )

    def _finish(
        self,
        outcome: Response | _Failed,
        url: str,
        api_key: str,
        started: float,
        logger: logging.Logger,
    ) -> Response:
        """Log the call's one INFO line (and DEBUG body), then return or raise."""
        duration = (self._clock() - started) * 1000.0
        if isinstance(outcome, Response):
            outcome.duration_ms = duration
            status, retries, rid, body = (
                str(outcome.status),
                outcome.retries,
                outcome.request_id,
                outcome.text,
            )
        else:
            error = outcome.error
            error.duration_ms = duration
            status = str(error.http_status) if error.http_status else error.code
            retries, rid, body = error.retries, error.request_id, error.body or error.message
        if logger.isEnabledFor(logging.INFO):
            line = f"POST {safe_url(url)} -> {status} retries={retries} {duration:.0f} ms"
            logger.info("%s", redact(f"{line} request_id={rid}", api_key))
        if logger.isEnabledFor(logging.DEBUG):
            logger.debug("response body: %s", redact(clip(body, None, [api_key]), api_key))
        if isinstance(outcome, _Failed):
            raise outcome.error from outcome.cause
        return outcome


# -- helpers ----------------------------------------------------------------------------------


@functools.lru_cache(maxsize=64)
def _normalised_url(url: str) -> str:
    """``url`` as requests sends it (IDNA host, quoted path), worked out once per URL."""
    request = requests.PreparedRequest()
    request.prepare_url(url, None)
    return request.url or url


def _ca_bundle() -> bool | str:
    """The CA bundle requests would take from the environment, else the default (True)."""
    return os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or True


class AllowEntry(NamedTuple):
    """One ``WorkflowAppAllowedHosts`` entry: ``host``, ``*.domain``, ``host:port``, or
    ``scheme://host[:port]``; ``*`` alone allows every URL."""

    host: str
    scheme: str | None = None
    port: int | None = None

    def admits(self, scheme: str, host: str, port: int) -> bool:
        """Whether a URL with these parts may receive the key.

        The host must match (``*.domain`` covers sub-domains only). A port in the entry must
        equal the URL's; without one, the URL must use its scheme's default port. A scheme in
        the entry must equal the URL's; without one, only https is admitted, or plain http to
        a loopback address (``localhost``, 127.0.0.0/8, ``::1``): a key never crosses a network
        in clear text by accident.
        """
        if self.host == "*":
            return True
        if host != self.host and not (self.host.startswith("*.") and host.endswith(self.host[1:])):
            return False
        if port != (self.port if self.port is not None else _DEFAULT_PORTS[scheme]):
            return False
        if self.scheme is not None:
            return scheme == self.scheme
        return scheme == "https" or _is_loopback(host)


_DEFAULT_PORTS = {"http": 80, "https": 443}
# The authority of a URL (RFC 3986: after "//", up to the first "/", "?" or "#"), and the host
# characters accepted in it: a DNS name or an IP literal. Anything else (a backslash, "%",
# whitespace, "@") is refused rather than guessed: parsers disagree on such hosts, and the one
# the allow-list asks must be the one the HTTP client connects with.
_AUTHORITY = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://([^/?#]*)")
_ASCII_HOST = re.compile(r"[A-Za-z0-9._-]+|\[[0-9A-Fa-f:.]+\]")


def _is_loopback(host: str) -> bool:
    """Whether ``host`` is ``localhost`` or a loopback IP literal (not a name like 127.x.com)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _entry_host(host: str) -> str:
    """An allow-list host as the client sends it: lower-case, no trailing dot, IDNA-encoded."""
    host = host.rstrip(".")
    if host.isascii():
        return host
    try:
        return _normalised_url(f"https://{host}/").split("/")[2]
    except (requests.RequestException, ValueError):
        return host  # can never match: every URL host sent is ASCII


def _host_patterns(hosts: Iterable[str]) -> frozenset[AllowEntry]:
    """Allow-list entries, lower-cased, trailing dots removed, IDNA-encoded."""
    entries = set()
    for raw in hosts:
        entry = raw.strip().lower()
        if entry == "*":
            entries.add(AllowEntry("*"))
            continue
        if not entry:
            continue
        parts = urlsplit(entry if "://" in entry else f"//{entry}")
        try:
            port = parts.port
        except ValueError:
            port = None
        if parts.hostname:
            wildcard, host = ("*.", parts.hostname[2:]) if parts.hostname.startswith("*.") \
                else ("", parts.hostname)
            entries.add(AllowEntry(wildcard + _entry_host(host), parts.scheme or None, port))
    return frozenset(entries)


def _target(url: str) -> tuple[str, str, int]:
    """(scheme, host, port) that urllib3 connects to for a URL already prepared by requests."""
    parsed = parse_url(url)
    scheme = (parsed.scheme or "").lower()
    host = (parsed.host or "").lower().rstrip(".").removeprefix("[").removesuffix("]")
    return scheme, host, parsed.port or _DEFAULT_PORTS.get(scheme, 0)


def host_allowed(url: str, entries: frozenset[AllowEntry]) -> bool:
    """Whether the host and port the client connects to for ``url`` (as prepared by requests)
    match an entry."""
    scheme, host, port = _target(url)
    return scheme in _DEFAULT_PORTS and any(
        entry.admits(scheme, host, port) for entry in entries
    )


def _bad_url(reason: str = "") -> ParameterError:
    return ParameterError(f"URL is not a valid URL{reason}", parameter="URL")


def _split_authority(authority: str) -> tuple[str, str]:
    """(host, port text) of an authority without user info; an error for a malformed one."""
    if authority.startswith("["):
        host, bracket, rest = authority.partition("]")
        if not bracket or (rest and not rest.startswith(":")):
            raise _bad_url()
        return host + "]", rest[1:]
    host, _, port = authority.partition(":")
    if ":" in port:
        raise _bad_url()
    return host, port


def _check_host(host: str) -> None:
    """Refuse a host outside RFC 3986's DNS names and IP literals (or an IDN that Unicode
    normalisation would change, such as full-width letters)."""
    if host.isascii():
        if not _ASCII_HOST.fullmatch(host):
            raise _bad_url(": its host name holds characters a host name cannot have")
        return
    if unicodedata.normalize("NFKC", host) != host or not all(
        c.isalnum() or c in ".-" for c in host
    ):
        raise _bad_url(": its host name holds characters a host name cannot have")


@functools.lru_cache(maxsize=256)  # the same few URLs on every call; errors are not cached
def _check_url(url: str, allowed: frozenset[AllowEntry] | None) -> str:
    """The URL to send, as requests prepares it, or an error for a URL we must not call
    (raised before any send).

    The URL is parsed once, by the client's own parser (urllib3's ``parse_url``, through
    requests' preparation), and the allow-list judges the host and port of that prepared URL,
    the very one that is sent; hosts any parser could read differently are refused first.
    """
    url = url.strip()
    if any(c.isspace() or unicodedata.category(c) == "Cc" for c in url):
        raise _bad_url()
    scheme = url.partition(":")[0].lower() if ":" in url else ""
    if scheme not in _DEFAULT_PORTS:
        raise UrlNotAllowed("URL must start with http:// or https://", parameter="URL")
    found = _AUTHORITY.match(url)
    if found is None:
        raise _bad_url()
    authority = found.group(1)
    if "@" in authority:
        raise UrlNotAllowed(
            "URL must not contain a user name or password; pass the key as API_KEY",
            parameter="URL",
        )
    host, port = _split_authority(authority)
    if not host:
        raise ParameterError("URL has no host name", parameter="URL")
    _check_host(host)
    if port and not (port.isdigit() and port.isascii() and 0 < int(port) < 65536):
        raise _bad_url(": its port must be a number from 1 to 65535")
    try:
        prepared = _normalised_url(url)
        target = _target(prepared)
        split = urlsplit(prepared)
        agreed = (split.hostname or "").rstrip(".") == target[1] and (
            split.port or _DEFAULT_PORTS[target[0]]
        ) == target[2]
    except (requests.RequestException, LocationParseError, ValueError):
        raise _bad_url() from None
    if not agreed:  # requests picks its connection pool by urlsplit's reading of the URL
        raise _bad_url()
    if allowed is not None and not host_allowed(prepared, allowed):
        raise UrlNotAllowed(
            f"URL {scheme}://{authority} is not allowed; add it to the "
            "WorkflowAppAllowedHosts setting to let applications call it (plain http only to "
            "loopback addresses, or when the entry says http://)",
            parameter="URL",
        )
    return prepared


def safe_url(url: str) -> str:
    """``url`` for logs: query values other than ``api-version`` replaced, no user info."""
    parts = urlsplit(url)
    query = [
        (name, value if name.lower() == "api-version" else REDACTED)
        for name, value in parse_qsl(parts.query, keep_blank_values=True)
    ]
    netloc = parts.netloc.rpartition("@")[2]
    return urlunsplit((parts.scheme, netloc, parts.path, urlencode(query, safe="[]"), ""))


def _headers(
    api_key: str,
    provider: Provider,
    payload: _Payload,
    attempt: int,
    given: Mapping[str, str] | None = None,
) -> dict[str, str]:
    headers = {
        "Accept": "application/json",
        "Accept-Encoding": "gzip, deflate",
        "User-Agent": USER_AGENT,
    }
    if given is not None:
        headers.update(given)
    elif api_key:
        headers.update(auth_headers(provider, api_key))
    if payload.content_type:
        headers["Content-Type"] = payload.content_type
    if attempt:
        headers["x-retry-count"] = str(attempt)
    return headers


#: Strings this long that JSON leaves as they are (the base64 data URLs of attachments) are
#: copied once, straight into the body, instead of through ``json.dumps`` and ``encode`` (which
#: hold three copies at once: bench/attachments.py).
_BIG = 64 * 1024
_ESCAPED = re.compile(r'["\\\x00-\x1f]')
_CHUNK = 1024 * 1024
#: The stand-in of a long string while the rest is encoded: random per process (a body cannot
#: contain it by chance, nor a caller guess it), made once (uuid4 per call was 1.6 % of a
#: worker's samples).
_TOKEN = uuid.uuid4().hex
_SPLIT = re.compile(f'"{_TOKEN}(\\d+)"')


def _json_payload(body: Mapping[str, Any]) -> _Payload:
    big: list[DataView] = []
    text = json.dumps(_set_aside(body, big, _TOKEN), ensure_ascii=False)
    if not big:
        return _Payload(text.encode("utf-8"), None, "application/json", text)
    pieces = _SPLIT.split(text)  # text, index, text, index, ..., text
    encoded = [piece.encode("utf-8") for piece in pieces[::2]]
    data = bytearray(sum(map(len, encoded)) + sum(len(value) + 2 for value in big))
    position = 0
    for index, piece in enumerate(encoded):
        data[position:position + len(piece)] = piece
        position += len(piece)
        if index < len(encoded) - 1:
            position = _copy_quoted(big[int(pieces[2 * index + 1])], data, position)
    described = _SPLIT.sub(lambda m: f'"[{len(big[int(m.group(1))])} characters]"', text)
    return _Payload(data, None, "application/json", described)


def _set_aside(value: Any, big: list[DataView], token: str) -> Any:
    """``value`` with each long string JSON would not escape replaced by ``"<token><n>"`` (the
    string, as a view, appended to ``big``); a :class:`DataView` is written as its string;
    containers are copied only where they hold one."""
    if isinstance(value, str | DataView):
        view = value if isinstance(value, DataView) else DataView(value, 0)
        if len(view) >= _BIG and view.url.isascii() and not _ESCAPED.search(view.url, view.start):
            big.append(view)
            return f"{token}{len(big) - 1}"
        return str(value)
    if isinstance(value, Mapping):
        items = {key: _set_aside(item, big, token) for key, item in value.items()}
        return items if any(items[k] is not value[k] for k in items) else value
    if isinstance(value, list | tuple):
        listed = [_set_aside(item, big, token) for item in value]
        return listed if any(a is not b for a, b in zip(listed, value, strict=True)) else value
    return value


def _copy_quoted(value: DataView, data: bytearray, position: int) -> int:
    """Write ``"value"`` (ASCII) into ``data`` at ``position``, a chunk at a time; the end."""
    data[position:position + 1] = b'"'
    position += 1
    source = value.url
    for start in range(value.start, len(source), _CHUNK):
        chunk = source[start:start + _CHUNK].encode("ascii")
        data[position:position + len(chunk)] = chunk
        position += len(chunk)
    data[position:position + 1] = b'"'
    return position + 1


def _multipart_payload(
    fields: list[tuple[str, str]], files: dict[str, tuple[str, bytes, str]]
) -> _Payload:
    shown = [f"{name}={value}" for name, value in fields]
    shown += [f"{name}=<{f[0]}, {len(f[1])} bytes, {f[2]}>" for name, f in files.items()]
    # requests sets the multipart Content-Type itself (it carries the boundary).
    return _Payload(list(fields), dict(files), None, "multipart: " + ", ".join(shown))


def _decode(answer: requests.Response) -> str:
    """The body as text: the declared charset, else UTF-8 (what JSON APIs send)."""
    found = _CHARSET.search(answer.headers.get("content-type", ""))
    encoding = found.group(1) if found else "utf-8-sig"
    try:
        return answer.content.decode(encoding, errors="replace")
    except LookupError:
        return answer.content.decode("utf-8-sig", errors="replace")


def _maybe_json(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return None


def _body_id(data: Any) -> str | None:
    """The answer's own ``id`` (servers without a request-id header, e.g. llama.cpp)."""
    value = data.get("id") if isinstance(data, dict) else None
    return value if isinstance(value, str) and value else None


def _add_retries(outcome: Response | _Failed, earlier: int) -> None:
    if isinstance(outcome, Response):
        outcome.retries += earlier
    else:
        outcome.error.retries += earlier

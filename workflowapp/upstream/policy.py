"""The retry policy: which failures are retried, and how long to wait first.

Pure functions of the answer (status, headers, error code), the attempt number and the caller's
clock and random draw, so the whole policy is table-tested without a network or a real sleep.
It follows openai-python's ``_should_retry`` / ``_calculate_retry_timeout`` with one deliberate
difference: a 429 ``insufficient_quota`` is never retried, because waiting cannot fix billing.

==========================================  =================================================
answer                                      decision
==========================================  =================================================
``attempt >= max_retries``                  give up
``Retry-After`` over ``max_retry_after``    give up (do not wait minutes for a BPM action)
429 ``insufficient_quota`` (code or type)   give up, whatever the headers say
429 spend limit without ``Retry-After``     give up (Anthropic's spend cap: waiting cannot fix it)
501 Not Implemented                         give up (the server lacks the feature)
``x-should-retry: true`` / ``false``        retry / give up, whatever the status
transport error (``status=None``), 408,     retry after ``retry-after-ms``, else ``Retry-After``
409, 429, >= 500                            (seconds or HTTP-date) when in ``(0, cap]``, else
                                            ``min(0.5 * 2**attempt, 8) * (1 - 0.25 * rng)``
anything else                               give up
==========================================  =================================================
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import UTC
from email.utils import parsedate_to_datetime
from typing import NamedTuple

from requests.structures import CaseInsensitiveDict

#: Retries after the first attempt (the SDK's default: three attempts in all).
DEFAULT_MAX_RETRIES = 2
#: First backoff delay in seconds; doubled per retry.
INITIAL_RETRY_DELAY = 0.5
#: Longest backoff delay in seconds.
MAX_RETRY_DELAY = 8.0
#: A server-requested delay above this many seconds is not waited for.
MAX_RETRY_AFTER = 120.0

QUOTA_CODE = "insufficient_quota"
#: The code :class:`~.errors.ErrorInfo` gives an Anthropic spend-limit error.
SPEND_LIMIT_CODE = "spend_limit"
_RETRY_STATUSES = frozenset({408, 409, 429})


class Decision(NamedTuple):
    """The verdict on one failed attempt: ``delay`` seconds before retrying, or why not."""

    delay: float | None
    reason: str

    @property
    def retry(self) -> bool:
        return self.delay is not None


def header(headers: Mapping[str, str], name: str) -> str | None:
    """The value of header ``name``, looked up case-insensitively in any mapping."""
    value = headers.get(name)
    if value is not None or isinstance(headers, CaseInsensitiveDict):
        return value  # requests' headers already ignore case: no scan
    lowered = name.lower()
    for key, item in headers.items():
        if key.lower() == lowered:
            return item
    return None


def _finite(text: str | None) -> float | None:
    if text is None:
        return None
    try:
        value = float(text.strip())
    except ValueError:
        return None
    return None if math.isnan(value) else value


def retry_after(headers: Mapping[str, str], *, now: float) -> float | None:
    """Seconds the server asked us to wait, or ``None`` when it did not say (or said nonsense).

    ``retry-after-ms`` (float milliseconds) wins over ``Retry-After``, which may be seconds
    (floats accepted) or an HTTP-date, compared with ``now`` (Unix seconds).
    """
    millis = _finite(header(headers, "retry-after-ms"))
    if millis is not None:
        return millis / 1000.0
    raw = header(headers, "retry-after")
    seconds = _finite(raw)
    if seconds is not None or raw is None:
        return seconds
    try:
        when = parsedate_to_datetime(raw)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # HTTP dates are GMT; parsedate leaves "-0000" naive
        when = when.replace(tzinfo=UTC)
    return when.timestamp() - now


def backoff(attempt: int, rng: float) -> float:
    """Exponential backoff for retry number ``attempt + 1``, with up to 25 % jitter taken off."""
    base = min(INITIAL_RETRY_DELAY * 2.0**attempt, MAX_RETRY_DELAY)
    return base * (1.0 - 0.25 * rng)


def retryable_status(status: int | None) -> bool:
    """Whether the status (``None`` for a transport error) is worth another attempt by default."""
    return status is None or status in _RETRY_STATUSES or (status >= 500 and status != 501)


def evaluate(
    status: int | None,
    headers: Mapping[str, str],
    error_code: str | None,
    attempt: int,
    max_retries: int,
    *,
    now: float,
    rng: float,
    max_retry_after: float = MAX_RETRY_AFTER,
) -> Decision:
    """Decide about a failed attempt; see the module table for the rules and their order.

    :param status: the HTTP status, or ``None`` for a connection error or timeout.
    :param error_code: the provider's error ``code`` (or ``type``) parsed from the body.
    :param attempt: retries already made (0 after the first attempt).
    :param now: wall-clock Unix seconds, for an HTTP-date ``Retry-After``.
    :param rng: a draw from ``[0, 1)`` for the jitter.
    """
    if attempt >= max_retries:
        if max_retries == 0:
            return Decision(None, "not retried: retries are off")
        return Decision(None, f"gave up after {attempt} {_plural(attempt)}")
    asked = retry_after(headers, now=now)
    if asked is not None and asked > max_retry_after:
        return Decision(
            None,
            f"Retry-After of {asked:g} s is above the {max_retry_after:g} s limit, not waited for",
        )
    if status == 429 and error_code == QUOTA_CODE:
        return Decision(None, "quota errors are not retried")
    if status == 429 and error_code == SPEND_LIMIT_CODE and asked is None:
        return Decision(None, "spend-limit errors are not retried")
    if status == 501:
        return Decision(None, "501 Not Implemented is not retried")
    forced = (header(headers, "x-should-retry") or "").strip().lower()
    if forced == "false":
        return Decision(None, "the server said not to retry (x-should-retry: false)")
    if forced != "true" and not retryable_status(status):
        return Decision(None, "not a retryable status")
    delay = asked if asked is not None and asked > 0 else backoff(attempt, rng)
    return Decision(delay, f"retry {attempt + 1} of {max_retries} in {delay:.2f} s")


def _plural(count: int) -> str:
    return "retry" if count == 1 else "retries"

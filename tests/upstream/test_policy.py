"""The retry policy, table-tested like openai-python's ``test_parse_retry_after_header``."""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import format_datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from workflowapp.upstream import policy
from workflowapp.upstream.policy import backoff, evaluate, retry_after

NOW = 1_700_000_000.0  # a fixed wall clock


def http_date(offset: float) -> str:
    return format_datetime(datetime.fromtimestamp(NOW + offset, UTC), usegmt=True)


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({}, None),
        ({"retry-after-ms": "1500"}, 1.5),
        ({"Retry-After-Ms": "20.5"}, 0.0205),
        ({"retry-after": "3"}, 3.0),
        ({"Retry-After": "2.5"}, 2.5),
        ({"retry-after-ms": "250", "retry-after": "9"}, 0.25),  # ms wins
        ({"retry-after-ms": "junk", "retry-after": "9"}, 9.0),  # bad ms falls back
        ({"retry-after": http_date(20)}, 20.0),
        ({"retry-after": http_date(-5)}, -5.0),
        ({"retry-after": "soon"}, None),
        ({"retry-after": "nan"}, None),
        ({"retry-after": ""}, None),
    ],
)
def test_retry_after_forms(headers: dict[str, str], expected: float | None) -> None:
    got = retry_after(headers, now=NOW)
    if expected is None:
        assert got is None
    else:
        assert got == pytest.approx(expected)


def test_minus_zero_date_is_gmt() -> None:
    gmt = http_date(40)
    assert retry_after({"retry-after": gmt.replace("GMT", "-0000")}, now=NOW) == pytest.approx(40)


@pytest.mark.parametrize(
    ("status", "retry"),
    [
        (None, True),  # connection error / timeout
        (408, True),
        (409, True),
        (429, True),
        (500, True),
        (501, False),  # Not Implemented: the server lacks the feature (llama.cpp, issue 10)
        (502, True),
        (529, True),  # Anthropic's overloaded_error
        (503, True),
        (504, True),
        (599, True),
        (400, False),
        (401, False),
        (403, False),
        (404, False),
        (422, False),
    ],
)
def test_statuses(status: int | None, retry: bool) -> None:
    delay = evaluate(status, {}, None, 0, 2, now=NOW, rng=0.0).delay
    assert (delay is not None) is retry


@pytest.mark.parametrize(
    ("status", "value", "retry"),
    [
        (400, "true", True),  # header overrides a non-retryable status
        (503, "false", False),  # and a retryable one
        (503, "FALSE", False),
        (429, "True", True),
        (503, "maybe", True),  # unknown values are ignored
    ],
)
def test_x_should_retry(status: int, value: str, retry: bool) -> None:
    delay = evaluate(status, {"x-should-retry": value}, None, 0, 2, now=NOW, rng=0.0).delay
    assert (delay is not None) is retry


def test_insufficient_quota_is_never_retried() -> None:
    headers = {"x-should-retry": "true", "retry-after": "1"}
    decision = evaluate(429, headers, "insufficient_quota", 0, 2, now=NOW, rng=0.0)
    assert decision.delay is None
    assert evaluate(429, {}, "rate_limit_exceeded", 0, 2, now=NOW, rng=0.0).delay is not None


@pytest.mark.parametrize(
    ("headers", "delay"),
    [
        ({"retry-after": "1"}, 1.0),
        ({"retry-after-ms": "120000"}, 120.0),  # exactly the cap: waited for
        ({"retry-after": "120.5"}, None),  # above the cap: give up
        ({"retry-after": "121", "x-should-retry": "true"}, None),  # cap beats the override
        ({"retry-after": http_date(30)}, 30.0),
        ({"retry-after": http_date(3600)}, None),
        ({"retry-after": "0"}, 0.5),  # not positive: backoff
        ({"retry-after": "-3"}, 0.5),
        ({"retry-after": http_date(-10)}, 0.5),
    ],
)
def test_server_delay_and_cap(headers: dict[str, str], delay: float | None) -> None:
    got = evaluate(429, headers, None, 0, 2, now=NOW, rng=0.0, max_retry_after=120.0).delay
    assert got == (pytest.approx(delay) if delay is not None else None)


def test_cap_is_configurable() -> None:
    def delay(seconds: str) -> float | None:
        headers = {"retry-after": seconds}
        return evaluate(503, headers, None, 0, 2, now=NOW, rng=0, max_retry_after=10).delay

    assert delay("30") is None
    assert delay("5") == 5


@pytest.mark.parametrize(
    ("attempt", "low", "high"),
    [(0, 0.375, 0.5), (1, 0.75, 1.0), (2, 1.5, 2.0), (3, 3.0, 4.0), (4, 6.0, 8.0), (9, 6.0, 8.0)],
)
def test_backoff_sequence(attempt: int, low: float, high: float) -> None:
    assert backoff(attempt, 0.0) == pytest.approx(high)
    assert backoff(attempt, 1.0) == pytest.approx(low)


@given(attempt=st.integers(0, 30), rng=st.floats(0.0, 1.0, exclude_max=True))
def test_jitter_bounds(attempt: int, rng: float) -> None:
    base = min(0.5 * 2.0**attempt, 8.0)
    assert 0.75 * base <= backoff(attempt, rng) <= base


def test_gives_up_after_max_retries() -> None:
    assert evaluate(503, {}, None, 1, 2, now=NOW, rng=0.0).delay is not None
    decision = evaluate(503, {}, None, 2, 2, now=NOW, rng=0.0)
    assert decision.delay is None and decision.reason == "gave up after 2 retries"
    off = evaluate(503, {}, None, 0, 0, now=NOW, rng=0.0)
    assert off.delay is None and "retries are off" in off.reason


def test_reasons_are_readable() -> None:
    assert (
        "x-should-retry"
        in evaluate(503, {"x-should-retry": "false"}, None, 0, 2, now=NOW, rng=0).reason
    )
    assert (
        "above the 120 s limit"
        in evaluate(429, {"retry-after": "300"}, None, 0, 2, now=NOW, rng=0).reason
    )
    assert evaluate(503, {}, None, 0, 2, now=NOW, rng=0).retry


def test_constants_match_the_sdk() -> None:
    assert (policy.DEFAULT_MAX_RETRIES, policy.INITIAL_RETRY_DELAY, policy.MAX_RETRY_DELAY) == (
        2,
        0.5,
        8.0,
    )
    assert policy.MAX_RETRY_AFTER == 120.0


def test_spend_limit_is_retried_only_when_the_server_says_when() -> None:
    decision = evaluate(429, {}, "spend_limit", 0, 2, now=NOW, rng=0.0)
    assert decision.delay is None and "spend-limit" in decision.reason
    assert evaluate(429, {"retry-after": "3"}, "spend_limit", 0, 2, now=NOW, rng=0.0).delay == 3

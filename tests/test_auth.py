"""Basic credentials and the per-address limit on failed attempts."""

from __future__ import annotations

import base64

from hypothesis import given
from hypothesis import strategies as st

from workflowapp.auth import FailureLimiter, credentials_match


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _basic(text: str) -> str:
    return "Basic " + base64.b64encode(text.encode()).decode()


def test_credentials_match_only_the_exact_pair() -> None:
    expected = ("wfgen", "p:ss word")
    assert credentials_match(_basic("wfgen:p:ss word"), expected)
    assert credentials_match("basic  " + _basic("wfgen:p:ss word")[6:], expected)
    for header in ("", "Basic", "Basic !!", "Bearer x", _basic("wfgen:p:ss"), _basic("wfgen")):
        assert not credentials_match(header, expected)


@given(st.lists(st.tuples(st.floats(0, 30), st.sampled_from(["a", "b", "c"])), max_size=80),
       st.integers(1, 5))
def test_no_address_gets_more_than_the_limit_of_tries_a_minute(
    events: list[tuple[float, str]], limit: int
) -> None:
    """Whatever the timing, an address is let through only while it has fewer than ``limit``
    failures in the last 60 s, and is told how long to wait otherwise."""
    clock = Clock()
    limiter = FailureLimiter(limit, clock=clock)
    tried: dict[str, list[float]] = {}
    for delay, client in events:
        clock.now += delay
        recent = [t for t in tried.get(client, []) if t > clock.now - 60]
        wait = limiter.retry_after(client)
        assert (wait == 0) == (len(recent) < limit)
        if wait:
            assert 0 < wait <= 60
            assert min(recent[-limit:]) + 60 - clock.now <= wait + 1e-6
            continue
        limiter.failed(client)
        tried.setdefault(client, []).append(clock.now)


def test_zero_disables_the_limit_and_the_table_is_bounded() -> None:
    unlimited = FailureLimiter(0)
    for _ in range(100):
        unlimited.failed("a")
    assert unlimited.retry_after("a") == 0
    bounded = FailureLimiter(1, max_clients=3)
    for client in "abcde":
        bounded.failed(client)
    assert [bounded.retry_after(c) > 0 for c in "abcde"] == [False, False, True, True, True]

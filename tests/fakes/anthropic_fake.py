"""Loopback Anthropic Messages API fake: the public API and the command line.

It validates every ``POST …/v1/messages`` with the pinned ``anthropic`` SDK's request types
(0.125.0, API version 2023-06-01; unknown keys forbidden at every level) plus the rules the
types do not express (see :mod:`tests.fakes.anthropic_spec`), answers invalid requests with
400 ``invalid_request_error`` like the API and records them in ``invalid``; every answer it
sends is checked against the SDK's ``Message`` model. Responses carry a ``request-id`` header.

In tests::

    def test_x(fake_anthropic):                    # or: with FakeAnthropic() as fake:
        fake_anthropic.push(tool_use_reply(("get_weather", {"city": "Paris"}), text="Let me"),
                            anthropic_rate_limit_reply(retry_after=2), text_reply("Sunny"))
        requests.post(fake_anthropic.messages_url, json=body,
                      headers={"x-api-key": key, "anthropic-version": "2023-06-01"})
        assert fake_anthropic.last_request.json["max_tokens"] == 1024

API (same style as ``FakeOpenAI``):

- ``FakeAnthropic(host="127.0.0.1", port=0, *, delay=0.0, validate=True, api_key=None,
  require_auth=True, api_versions=("2023-06-01",), record_limit=None, server="threaded")``;
  ``start()``/``stop()``/``with``, ``serve_forever(ready)``; ``url``, ``base_url`` (= ``url``,
  as the SDK's ``base_url``), ``messages_url`` (``…/v1/messages``).
- ``push(*replies, endpoint=None)`` (a :class:`Reply` or ``f(recorded_request) -> Reply |
  None``; ``None`` = the default answer), ``pending``, ``reset()``.
- ``requests``, ``last_request``, ``requests_for("messages")``, ``wait_for_requests(n)``,
  ``invalid``, ``errors``, ``expect_invalid()``, ``teardown_problems()``,
  ``assert_secret_only_in_auth(secret)`` (legitimate places: ``x-api-key`` or Bearer),
  ``stats()``; settings ``delay``, ``validate``, ``api_key``, ``require_auth``,
  ``api_versions`` (restored by ``reset()``).
- Recorded requests (:class:`RecordedRequest`): ``json``, ``headers`` (lower-case),
  ``api_key``, ``auth`` (``x-api-key``/``bearer``), ``request_id``, ``status``, ``invalid``.
- The pytest fixture ``fake_anthropic`` (``tests.fakes.fixtures``) resets the session server
  per test and fails the test on unexpected invalid requests or script errors.
- Reply builders: see :mod:`tests.fakes.anthropic_replies` (re-exported here), plus
  ``delay_reply(seconds, reply=None)`` and ``drop_reply(reply=None)``.

As a separate process (benchmarks)::

    python -m tests.fakes.anthropic_fake --port 8902 --delay-ms 2000 --server gevent \\
        --no-validate

It prints ``listening on http://HOST:PORT/v1/messages`` on stdout once ready and stops cleanly
on the first SIGTERM or SIGINT.
"""

from __future__ import annotations

import sys


def _gevent_requested(argv: list[str]) -> bool:
    return "--server=gevent" in argv or any(
        arg == "--server" and argv[i + 1:i + 2] == ["gevent"] for i, arg in enumerate(argv))


if __name__ == "__main__" and _gevent_requested(sys.argv[1:]):
    # Patch before werkzeug/pydantic import socket, ssl and threading.
    from gevent import monkey

    monkey.patch_all()

import argparse  # noqa: E402
import contextlib  # noqa: E402
import signal  # noqa: E402
from collections.abc import Sequence  # noqa: E402
from typing import Any  # noqa: E402

from tests.fakes.anthropic_replies import (  # noqa: E402
    DEFAULT_MODEL,
    UsageSpec,
    anthropic_error,
    anthropic_rate_limit_reply,
    api_error_reply,
    default_message_reply,
    error_body,
    max_tokens_reply,
    message_reply,
    overloaded_reply,
    refusal_reply,
    spend_limit_reply,
    structured_reply,
    text_block,
    text_reply,
    tool_use_block,
    tool_use_reply,
)
from tests.fakes.anthropic_server import FakeAnthropic  # noqa: E402
from tests.fakes.anthropic_spec import (  # noqa: E402
    API_VERSION,
    SDK_VERSION,
    check_error,
    check_message,
    check_request,
)
from tests.fakes.records import RecordedRequest  # noqa: E402
from tests.fakes.replies import Reply, ReplyLike, delay_reply, drop_reply, raw_reply  # noqa: E402

__all__ = [
    "API_VERSION",
    "DEFAULT_MODEL",
    "SDK_VERSION",
    "FakeAnthropic",
    "RecordedRequest",
    "Reply",
    "ReplyLike",
    "UsageSpec",
    "anthropic_error",
    "anthropic_rate_limit_reply",
    "api_error_reply",
    "check_error",
    "check_message",
    "check_request",
    "default_message_reply",
    "delay_reply",
    "drop_reply",
    "error_body",
    "main",
    "max_tokens_reply",
    "message_reply",
    "overloaded_reply",
    "raw_reply",
    "refusal_reply",
    "spend_limit_reply",
    "structured_reply",
    "text_block",
    "text_reply",
    "tool_use_block",
    "tool_use_reply",
]


def _exit(*_: Any) -> None:
    raise SystemExit(0)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the fake in the foreground until SIGINT/SIGTERM."""
    parser = argparse.ArgumentParser(prog="python -m tests.fakes.anthropic_fake",
                                     description="Loopback Anthropic Messages API fake server.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--delay-ms", type=float, default=0.0,
                        help="wait before every default answer")
    parser.add_argument("--server", choices=("threaded", "gevent"), default="threaded")
    parser.add_argument("--no-validate", action="store_true",
                        help="benchmark mode: skip request/answer checks")
    parser.add_argument("--api-key", help="the only key accepted (default: any)")
    parser.add_argument("--no-auth", action="store_true", help="accept requests without a key")
    parser.add_argument("--record-limit", type=int, default=1000,
                        help="keep the last N requests in memory")
    args = parser.parse_args(argv)
    if args.server == "gevent":
        from gevent import monkey

        if not monkey.is_module_patched("socket"):  # main() called from Python, not -m
            monkey.patch_all()
    fake = FakeAnthropic(args.host, args.port, delay=args.delay_ms / 1000,
                         validate=not args.no_validate, api_key=args.api_key,
                         require_auth=not args.no_auth, record_limit=args.record_limit,
                         server=args.server)
    signal.signal(signal.SIGTERM, _exit)

    def ready(url: str) -> None:
        print(f"listening on {url}/v1/messages", flush=True)
        print(f"server={args.server} delay_ms={args.delay_ms:g} validate={fake.validate} "
              f"anthropic={SDK_VERSION} api_version={API_VERSION}", file=sys.stderr, flush=True)

    with contextlib.suppress(KeyboardInterrupt):
        fake.serve_forever(ready)
    return 0


if __name__ == "__main__":
    sys.exit(main())

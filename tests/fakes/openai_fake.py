"""Loopback OpenAI-compatible fake server: the public API and the command line.

In tests::

    with FakeOpenAI() as fake:                      # or the ``fake_openai`` fixture
        fake.push(chat_reply("Hi", usage=(3, 1, 4)), rate_limit_reply(retry_after=1))
        requests.post(fake.chat_url, json=..., headers={"Authorization": "Bearer sk-x"})
        assert fake.invalid == []

For benchmarks, as a separate process (1,000 concurrent 2-s answers are cheap under gevent)::

    python -m tests.fakes.openai_fake --host 127.0.0.1 --port 8901 --delay-ms 2000 \\
        --server gevent --no-validate

It prints ``listening on http://HOST:PORT/v1`` on stdout once ready; ``GET /_fake/stats``
returns request counters (``max_in_flight`` shows the concurrency reached).

Mistral and Gemini: ``FakeOpenAI(mode="mistral")`` / ``FakeOpenAI(mode="gemini")`` (fixtures
``fake_mistral`` / ``fake_gemini``, command line ``--mode``) enforce those providers' rules and
error shapes on top of the OpenAI checks (:mod:`tests.fakes.compat_spec`); scripted answers:
``mistral_reply``, ``mistral_tool_call``, ``mistral_error_reply``,
``mistral_unknown_field_reply``, ``gemini_error_reply`` (Gemini answers are OpenAI-shaped:
``chat_reply``).
"""

from __future__ import annotations

import sys


def _gevent_requested(argv: list[str]) -> bool:
    return "--server=gevent" in argv or any(
        arg == "--server" and argv[i + 1:i + 2] == ["gevent"] for i, arg in enumerate(argv))


if __name__ == "__main__" and _gevent_requested(sys.argv[1:]):
    # Patch before jsonschema/werkzeug import socket, ssl and threading.
    from gevent import monkey

    monkey.patch_all()

import argparse  # noqa: E402
import contextlib  # noqa: E402
import signal  # noqa: E402
from collections.abc import Sequence  # noqa: E402
from typing import Any  # noqa: E402

from tests.fakes.compat_replies import (  # noqa: E402
    gemini_error_reply,
    mistral_error_reply,
    mistral_reply,
    mistral_tool_call,
    mistral_unknown_field_reply,
)
from tests.fakes.records import FileInfo, RecordedRequest  # noqa: E402
from tests.fakes.replies import (  # noqa: E402
    CATEGORIES,
    IMAGE_CATEGORIES,
    Reply,
    ReplyLike,
    azure_content_filter_reply,
    chat_choice,
    chat_reply,
    context_length_reply,
    default_reply,
    delay_reply,
    drop_reply,
    error_body,
    error_reply,
    html_error_reply,
    insufficient_quota_reply,
    json_reply,
    llamacpp_error_reply,
    moderation_reply,
    moderation_result,
    openai_error,
    rate_limit_reply,
    raw_reply,
    tool_call,
    transcription_reply,
    unsupported_parameter_reply,
    unsupported_value_reply,
)
from tests.fakes.server import ENDPOINTS, MODES, FakeOpenAI  # noqa: E402
from tests.fakes.spec import (  # noqa: E402
    ENV_VAR,
    MAX_AUDIO_BYTES,
    InvalidReply,
    Problem,
    load_spec,
)

__all__ = [
    "CATEGORIES",
    "ENDPOINTS",
    "ENV_VAR",
    "IMAGE_CATEGORIES",
    "MAX_AUDIO_BYTES",
    "MODES",
    "FakeOpenAI",
    "FileInfo",
    "InvalidReply",
    "Problem",
    "RecordedRequest",
    "Reply",
    "ReplyLike",
    "azure_content_filter_reply",
    "chat_choice",
    "chat_reply",
    "context_length_reply",
    "default_reply",
    "delay_reply",
    "drop_reply",
    "error_body",
    "error_reply",
    "gemini_error_reply",
    "html_error_reply",
    "insufficient_quota_reply",
    "json_reply",
    "llamacpp_error_reply",
    "load_spec",
    "main",
    "mistral_error_reply",
    "mistral_reply",
    "mistral_tool_call",
    "mistral_unknown_field_reply",
    "moderation_reply",
    "moderation_result",
    "openai_error",
    "rate_limit_reply",
    "raw_reply",
    "tool_call",
    "transcription_reply",
    "unsupported_parameter_reply",
    "unsupported_value_reply",
]


def _exit(*_: Any) -> None:
    raise SystemExit(0)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the fake in the foreground until SIGINT/SIGTERM."""
    parser = argparse.ArgumentParser(prog="python -m tests.fakes.openai_fake",
                                     description="Loopback OpenAI-compatible fake server.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--delay-ms", type=float, default=0.0,
                        help="wait before every default answer")
    parser.add_argument("--server", choices=("threaded", "gevent"), default="threaded")
    parser.add_argument("--no-validate", action="store_true",
                        help="benchmark mode: skip request/answer schema checks")
    parser.add_argument("--api-key", help="the only key accepted (default: any)")
    parser.add_argument("--no-auth", action="store_true", help="accept requests without a key")
    parser.add_argument("--deployments", help="comma-separated Azure deployments (default: any)")
    parser.add_argument("--record-limit", type=int, default=1000,
                        help="keep the last N requests in memory")
    parser.add_argument("--mode", choices=MODES, default="openai",
                        help="enforce Mistral's or Gemini's rules and error shapes")
    args = parser.parse_args(argv)
    if args.server == "gevent":
        from gevent import monkey

        if not monkey.is_module_patched("socket"):  # main() called from Python, not -m
            monkey.patch_all()
    fake = FakeOpenAI(
        args.host, args.port, delay=args.delay_ms / 1000, validate=not args.no_validate,
        api_key=args.api_key, require_auth=not args.no_auth,
        deployments=args.deployments.split(",") if args.deployments else None,
        record_limit=args.record_limit, server=args.server, mode=args.mode)
    signal.signal(signal.SIGTERM, _exit)

    def ready(url: str) -> None:
        print(f"listening on {fake.base_url}", flush=True)
        print(f"server={args.server} delay_ms={args.delay_ms:g} validate={fake.validate} "
              f"schema={'skipped' if fake.spec is None else fake.spec.directory}",
              file=sys.stderr, flush=True)

    with contextlib.suppress(KeyboardInterrupt):
        fake.serve_forever(ready)
    return 0


if __name__ == "__main__":
    sys.exit(main())

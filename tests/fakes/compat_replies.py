"""Scripted answers for the Mistral and Gemini modes of the OpenAI fake.

``mistral_reply`` builds a chat completion as Mistral sends it (no ``refusal``/``logprobs``,
``finish_reason`` possibly ``model_length`` or ``error``, content possibly a list of chunks,
tool-call ids of 9 alphanumerics), checked when built and when served. Gemini's compatible
endpoint answers OpenAI-shaped completions (use :func:`tests.fakes.replies.chat_reply`), but
its errors are a JSON list: :func:`gemini_error_reply`.
"""

from __future__ import annotations

import itertools
import json
import string
import time
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from tests.fakes.compat_spec import (
    GEMINI_STATUS,
    check_mistral_reply,
    gemini_error_body,
    mistral_error_body,
)
from tests.fakes.records import RecordedRequest
from tests.fakes.replies import Reply
from tests.fakes.spec import load_spec

__all__ = [
    "DEFAULT_MISTRAL_MODEL",
    "default_mistral_reply",
    "gemini_error_reply",
    "mistral_error_reply",
    "mistral_reply",
    "mistral_tool_call",
    "mistral_unknown_field_reply",
]

DEFAULT_MISTRAL_MODEL = "mistral-small-latest"
_ALPHABET = string.ascii_letters + string.digits
_ids = itertools.count(1)

MistralCallSpec = (tuple[str, Mapping[str, Any] | str]
                   | tuple[str, Mapping[str, Any] | str, str] | Mapping[str, Any])


def _tool_id() -> str:
    """A fresh 9-character alphanumeric id, as Mistral issues them."""
    number, chars = next(_ids), []
    for _ in range(9):
        number, digit = divmod(number * 7919 + 13, len(_ALPHABET))
        chars.append(_ALPHABET[digit])
    return "".join(chars)


def mistral_tool_call(name: str, arguments: Mapping[str, Any] | str = "{}",
                      call_id: str | None = None, index: int = 0) -> dict[str, Any]:
    """A Mistral tool call (``arguments`` a dict, JSON-encoded, or a raw string)."""
    text = arguments if isinstance(arguments, str) else json.dumps(arguments)
    return {"id": call_id or _tool_id(), "type": "function",
            "function": {"name": name, "arguments": text}, "index": index}


def mistral_reply(content: str | Sequence[Mapping[str, Any]] | None = "Hello!", *,
                  tool_calls: Sequence[MistralCallSpec] | None = None,
                  finish_reason: str | None = None,
                  usage: tuple[int, int, int] | Mapping[str, Any] | None = (10, 5, 15),
                  model: str | None = None, headers: Mapping[str, str] | None = None,
                  delay: float = 0.0) -> Reply:
    """A Mistral chat completion.

    :param content: a string, ``None``, or a list of chunks (``{"type": "thinking",
        "thinking": [...]}``, ``{"type": "text", "text": "…"}``) as reasoning models send.
    :param tool_calls: ``(name, args)``, ``(name, args, id)`` or :func:`mistral_tool_call`
        dicts; ``finish_reason`` then defaults to ``tool_calls`` (else ``stop``; Mistral also
        sends ``length``, ``model_length`` and ``error``).
    :param usage: ``(prompt, completion, total)`` or a full dict; the request's model is echoed
        unless ``model`` is given.
    """
    calls = [dict(call) if isinstance(call, Mapping) else
             mistral_tool_call(call[0], call[1], call[2] if len(call) > 2 else None, index=i)
             for i, call in enumerate(tool_calls or [])]
    message: dict[str, Any] = {"role": "assistant", "content": content if isinstance(
        content, str | None) else [dict(chunk) for chunk in content], "tool_calls": calls or None,
        "prefix": False}
    body: dict[str, Any] = {
        "id": f"cmpl-fake{next(_ids):08d}", "object": "chat.completion",
        "created": int(time.time()), "model": model or DEFAULT_MISTRAL_MODEL,
        "choices": [{"index": 0, "message": message,
                     "finish_reason": finish_reason or ("tool_calls" if calls else "stop")}],
    }
    if usage is not None:
        body["usage"] = dict(usage) if isinstance(usage, Mapping) else {
            "prompt_tokens": usage[0], "completion_tokens": usage[1], "total_tokens": usage[2]}
    check_mistral_reply(body, load_spec()[0])

    def echo(data: Any, request: RecordedRequest) -> Any:
        data["model"] = request.model or DEFAULT_MISTRAL_MODEL
        return data

    return Reply(body=body, kind="chat", headers=dict(headers or {}), delay=delay,
                 adapt=None if model else echo)


def mistral_error_reply(status: int, message: str | Mapping[str, Any], *,
                        type_: str = "invalid_request_error", code: str | None = None,
                        headers: Mapping[str, str] | None = None) -> Reply:
    """``{"object": "error", "message", "type", "param", "code", "raw_status_code"}``;
    ``message`` may be an object (validation errors)."""
    return Reply(status=status, body=mistral_error_body(message, status, type_=type_, code=code),
                 headers=dict(headers or {}), content_type="application/json")


def mistral_unknown_field_reply(field: str = "max_completion_tokens", value: Any = 1000) -> Reply:
    """The 422 Mistral sends for a field it does not know."""
    return mistral_error_reply(422, {"detail": [{
        "type": "extra_forbidden", "loc": ["body", field],
        "msg": "Extra inputs are not permitted", "input": value}]})


def gemini_error_reply(status: int = 400, message: str | None = None, *,
                       status_text: str | None = None,
                       details: Iterable[Mapping[str, Any]] = (),
                       headers: Mapping[str, str] | None = None, delay: float = 0.0) -> Reply:
    """Gemini's error list ``[{"error": {"code", "message", "status"}}]``; ``status_text``
    defaults by status (400 INVALID_ARGUMENT, 429 RESOURCE_EXHAUSTED, 503 UNAVAILABLE, …)."""
    text = message or {
        400: "Request contains an invalid argument.",
        429: "Resource has been exhausted (e.g. check quota).",
        500: "An internal error has occurred. Please retry or report in "
             "https://developers.generativeai.google/guide/troubleshooting",
        503: "The model is overloaded. Please try again later.",
    }.get(status, GEMINI_STATUS.get(status, f"HTTP {status}"))
    return Reply(status=status, body=gemini_error_body(status, text, status_text, details),
                 headers=dict(headers or {}), delay=delay, content_type="application/json")


def default_mistral_reply() -> Reply:
    """What the Mistral mode answers when nothing is scripted (not re-checked here)."""
    return mistral_reply()

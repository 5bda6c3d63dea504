"""Scripted answers of the Anthropic fake: Messages API bodies and errors (API 2023-06-01).

Every builder returns a :class:`~tests.fakes.replies.Reply` (``kind="messages"`` for
answers). Success bodies are checked against the SDK's ``Message`` model when built, so a wrong
fixture fails in the test that writes it; the server checks them again after adapting them to
the request. Unless ``model`` is given, the answer echoes the request's model. Error bodies are
``{"type": "error", "error": {"type", "message"}, "request_id"}`` with the request id of the
request they answer (the same value as the ``request-id`` header).

``usage`` everywhere: ``(input, output)``, ``(input, output, cache_creation, cache_read)`` or a
full ``usage`` dict.
"""

from __future__ import annotations

import copy
import itertools
import json
from collections.abc import Mapping, Sequence
from typing import Any

from tests.fakes import anthropic_spec
from tests.fakes.records import RecordedRequest
from tests.fakes.replies import Reply, delay_reply, drop_reply

__all__ = [
    "DEFAULT_MODEL",
    "UsageSpec",
    "anthropic_error",
    "anthropic_rate_limit_reply",
    "api_error_reply",
    "default_message_reply",
    "delay_reply",
    "drop_reply",
    "error_body",
    "max_tokens_reply",
    "message_reply",
    "overloaded_reply",
    "refusal_reply",
    "spend_limit_reply",
    "structured_reply",
    "text_block",
    "text_reply",
    "tool_use_block",
    "tool_use_reply",
]

DEFAULT_MODEL = "claude-sonnet-4-5"
UsageSpec = tuple[int, int] | tuple[int, int, int, int] | Mapping[str, Any]
ToolUseSpec = (tuple[str, Mapping[str, Any]] | tuple[str, Mapping[str, Any], str]
               | Mapping[str, Any])

_ids = itertools.count(1)


def _new_id(prefix: str) -> str:
    """An id shaped like the API's (``msg_01…``, ``toolu_01…``): prefix, ``01``, 22 chars."""
    return f"{prefix}_01Fake{next(_ids):018d}"


# -- blocks ----------------------------------------------------------------------------------


def text_block(text: str) -> dict[str, Any]:
    """``{"type": "text", "text": …}``."""
    return {"type": "text", "text": text}


def tool_use_block(name: str, input: Mapping[str, Any] | None = None,  # noqa: A002
                   id: str | None = None) -> dict[str, Any]:  # noqa: A002
    """``{"type": "tool_use", "id", "name", "input"}`` (id ``toolu_01…`` by default)."""
    return {"type": "tool_use", "id": id or _new_id("toolu"), "name": name,
            "input": dict(input or {})}


def _usage(usage: UsageSpec) -> dict[str, Any]:
    if isinstance(usage, Mapping):
        return dict(usage)
    if len(usage) == 2:
        created, read = 0, 0
        prompt, completion = usage
    else:
        prompt, completion, created, read = usage
    return {"input_tokens": prompt, "output_tokens": completion,
            "cache_creation_input_tokens": created, "cache_read_input_tokens": read,
            "cache_creation": {"ephemeral_5m_input_tokens": created,
                               "ephemeral_1h_input_tokens": 0},
            "server_tool_use": None, "service_tier": "standard"}


# -- answers ---------------------------------------------------------------------------------


def _echo_model(body: Any, request: RecordedRequest) -> Any:
    body["model"] = request.model or DEFAULT_MODEL
    return body


def _message(content: Sequence[str | Mapping[str, Any]], *, stop_reason: str | None,
             stop_sequence: str | None, usage: UsageSpec, model: str | None,
             headers: Mapping[str, str] | None, delay: float,
             extra: Mapping[str, Any] | None = None) -> Reply:
    blocks = [text_block(item) if isinstance(item, str) else dict(item) for item in content]
    if stop_reason is None:
        stop_reason = "tool_use" if any(b.get("type") == "tool_use" for b in blocks) else (
            "end_turn")
    body: dict[str, Any] = {
        "id": _new_id("msg"), "type": "message", "role": "assistant",
        "model": model or DEFAULT_MODEL, "content": blocks, "stop_reason": stop_reason,
        "stop_sequence": stop_sequence, "usage": _usage(usage), **(extra or {}),
    }
    return Reply(body=body, kind="messages", headers=dict(headers or {}), delay=delay,
                 adapt=None if model else _echo_model)


def _checked(reply: Reply) -> Reply:
    anthropic_spec.check_message(reply.body)
    return reply


def message_reply(*content: str | Mapping[str, Any], stop_reason: str | None = None,
                  stop_sequence: str | None = None, usage: UsageSpec = (10, 5),
                  model: str | None = None, headers: Mapping[str, str] | None = None,
                  delay: float = 0.0, extra: Mapping[str, Any] | None = None) -> Reply:
    """Any assistant message: strings become text blocks, dicts are blocks as they are.

    ``stop_reason`` defaults to ``tool_use`` when a tool_use block is present, else
    ``end_turn``. ``extra`` adds top-level keys (e.g. ``stop_details``).
    """
    return _checked(_message(content, stop_reason=stop_reason, stop_sequence=stop_sequence,
                             usage=usage, model=model, headers=headers, delay=delay, extra=extra))


def text_reply(text: str = "Hello!", *, stop_reason: str = "end_turn",
               stop_sequence: str | None = None, usage: UsageSpec = (10, 5),
               model: str | None = None, headers: Mapping[str, str] | None = None,
               delay: float = 0.0) -> Reply:
    """One text block (``stop_reason`` ``end_turn``; ``stop_sequence`` with its string)."""
    if stop_sequence is not None and stop_reason == "end_turn":
        stop_reason = "stop_sequence"
    return message_reply(text, stop_reason=stop_reason, stop_sequence=stop_sequence,
                         usage=usage, model=model, headers=headers, delay=delay)


def tool_use_reply(*calls: ToolUseSpec, text: str | None = None, usage: UsageSpec = (10, 5),
                   model: str | None = None, headers: Mapping[str, str] | None = None,
                   delay: float = 0.0) -> Reply:
    """``stop_reason: tool_use`` with one block per call, after an optional text block.

    A call is ``(name, input)``, ``(name, input, id)`` or a :func:`tool_use_block` dict.
    """
    if not calls:
        raise ValueError("tool_use_reply needs at least one call")
    blocks: list[str | Mapping[str, Any]] = [] if text is None else [text]
    blocks += [call if isinstance(call, Mapping) else tool_use_block(*call) for call in calls]
    return message_reply(*blocks, stop_reason="tool_use", usage=usage, model=model,
                         headers=headers, delay=delay)


def structured_reply(data: Any, *, usage: UsageSpec = (10, 5), model: str | None = None,
                     headers: Mapping[str, str] | None = None, delay: float = 0.0) -> Reply:
    """A structured answer, shaped by the request when served.

    With ``output_config.format`` (JSON outputs): one text block holding ``json.dumps(data)``,
    ``end_turn``. With a forced tool (``tool_choice: {"type": "tool", "name": N}``, the
    fallback technique): a ``tool_use`` block named ``N`` whose ``input`` is ``data``,
    ``stop_reason: tool_use``. Otherwise the JSON text.
    """
    reply = _message([json.dumps(data)], stop_reason="end_turn", stop_sequence=None,
                     usage=usage, model=model, headers=headers, delay=delay)
    anthropic_spec.check_message(reply.body)

    def adapt(body: Any, request: RecordedRequest) -> Any:
        sent = request.json if isinstance(request.json, dict) else {}
        choice = sent.get("tool_choice")
        if isinstance(choice, dict) and choice.get("type") == "tool" and not (
                sent.get("output_config") or {}).get("format"):
            if not isinstance(data, Mapping):
                raise ValueError("a forced tool's input must be an object")
            body["content"] = [tool_use_block(str(choice.get("name")), copy.deepcopy(data))]
            body["stop_reason"] = "tool_use"
        return body if model else _echo_model(body, request)

    return reply.with_(adapt=adapt)


def refusal_reply(text: str | None = None, *, usage: UsageSpec = (10, 0),
                  model: str | None = None, category: str | None = None,
                  headers: Mapping[str, str] | None = None) -> Reply:
    """``stop_reason: refusal`` (with ``text`` as a partial text block, if given) and
    ``stop_details`` (``category`` e.g. ``cyber``/``bio``, or ``None``)."""
    details = {"type": "refusal", "category": category, "explanation": None}
    return message_reply(*([text] if text else []), stop_reason="refusal", usage=usage,
                         model=model, headers=headers, extra={"stop_details": details})


def max_tokens_reply(text: str = "This answer was cut", *, usage: UsageSpec = (10, 5),
                     model: str | None = None, headers: Mapping[str, str] | None = None) -> Reply:
    """``stop_reason: max_tokens`` with a truncated text block."""
    return message_reply(text, stop_reason="max_tokens", usage=usage, model=model,
                         headers=headers)


def default_message_reply() -> Reply:
    """What the fake answers when nothing is scripted: ``"Hello!"``, the request's model."""
    return _message(["Hello!"], stop_reason="end_turn", stop_sequence=None, usage=(10, 5),
                    model=None, headers=None, delay=0.0)


# -- errors ----------------------------------------------------------------------------------

_MESSAGES = {
    400: "Invalid request.",
    401: "invalid x-api-key",
    402: "Your credit balance is too low to access the Anthropic API. Please go to Plans & "
         "Billing to upgrade or purchase credits.",
    403: "Your API key does not have permission to use the specified resource.",
    404: "model: claude-fake-0",
    409: "Conflict.",
    413: "Request exceeds the maximum allowed number of bytes.",
    429: "This request would exceed the rate limit for your organization of 50 input tokens "
         "per minute. For details, refer to: https://docs.claude.com/en/api/rate-limits. You "
         "can see the response headers for current usage. Please reduce the prompt length or "
         "the maximum tokens requested, or try again later.",
    500: "Internal server error",
    504: "Request timed out.",
    529: "Overloaded",
}


def error_body(status: int, message: str | None = None, type_: str | None = None,
               details: Mapping[str, Any] | None = None,
               request_id: str | None = None) -> dict[str, Any]:
    """``{"type": "error", "error": {"type", "message"[, "details"]}, "request_id"}``."""
    error: dict[str, Any] = {"type": type_ or anthropic_spec.error_type(status),
                             "message": message or _MESSAGES.get(status, f"HTTP {status}")}
    if details is not None:
        error["details"] = dict(details)
    return {"type": "error", "error": error, "request_id": request_id}


def _with_request_id(body: Any, request: RecordedRequest) -> Any:
    body["request_id"] = request.request_id
    return body


def anthropic_error(status: int, message: str | None = None, *, type_: str | None = None,
                    details: Mapping[str, Any] | None = None,
                    headers: Mapping[str, str] | None = None, delay: float = 0.0) -> Reply:
    """An Anthropic error; ``type_`` and ``message`` default to the API's for ``status``
    (400 invalid_request_error, 401 authentication_error, 402 billing_error, 403
    permission_error, 404 not_found_error, 413 request_too_large, 429 rate_limit_error, 500
    api_error, 504 timeout_error, 529 overloaded_error). Checked against ``ErrorResponse``."""
    body = error_body(status, message, type_, details, "req_unset")
    anthropic_spec.check_error(body)
    return Reply(status=status, body=body, headers=dict(headers or {}), delay=delay,
                 content_type="application/json", adapt=_with_request_id)


def _rate_headers(retry_after: float | str | None,
                  retry_after_ms: float | None) -> dict[str, str]:
    headers = {
        "anthropic-ratelimit-requests-limit": "50",
        "anthropic-ratelimit-requests-remaining": "0",
        "anthropic-ratelimit-requests-reset": "2026-01-01T00:00:20Z",
        "anthropic-ratelimit-input-tokens-limit": "30000",
        "anthropic-ratelimit-input-tokens-remaining": "0",
        "anthropic-ratelimit-input-tokens-reset": "2026-01-01T00:00:20Z",
    }
    if retry_after is not None:
        headers["retry-after"] = _number(retry_after)
    if retry_after_ms is not None:
        headers["retry-after-ms"] = _number(retry_after_ms)
    return headers


def anthropic_rate_limit_reply(*, retry_after: float | str | None = 1,
                               retry_after_ms: float | None = None,
                               headers: Mapping[str, str] | None = None,
                               delay: float = 0.0) -> Reply:
    """429 ``rate_limit_error`` with ``retry-after`` / ``retry-after-ms`` (each omitted when
    ``None``) and ``anthropic-ratelimit-*`` headers."""
    return anthropic_error(429, headers={**_rate_headers(retry_after, retry_after_ms),
                                         **(headers or {})}, delay=delay)


def spend_limit_reply(headers: Mapping[str, str] | None = None) -> Reply:
    """429 for a reached spend limit: no ``retry-after`` and ``error.details.error_code =
    "enforced_spend_limit_reached"`` (retrying cannot help)."""
    return anthropic_error(
        429, "You have reached your specified workspace API usage limits. You will regain "
        "access on 2026-02-01 at 00:00 UTC.",
        details={"error_code": "enforced_spend_limit_reached"}, headers=headers)


def overloaded_reply(*, retry_after: float | str | None = None,
                     headers: Mapping[str, str] | None = None, delay: float = 0.0) -> Reply:
    """529 ``overloaded_error`` (global overload; ``retry-after`` only when given)."""
    extra = {} if retry_after is None else {"retry-after": _number(retry_after)}
    return anthropic_error(529, headers={**extra, **(headers or {})}, delay=delay)


def api_error_reply(headers: Mapping[str, str] | None = None, delay: float = 0.0) -> Reply:
    """500 ``api_error`` ("Internal server error")."""
    return anthropic_error(500, headers=headers, delay=delay)


def _number(value: float | str) -> str:
    if isinstance(value, str):
        return value
    return str(int(value)) if float(value).is_integer() else str(value)

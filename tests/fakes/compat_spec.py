"""Mistral's and Gemini's rules on top of the OpenAI chat checks (``FakeOpenAI(mode=…)``).

Mistral (``https://api.mistral.ai/v1/chat/completions``, from ``mistralai/client-python``'s
``ChatCompletionRequest`` and reported API answers, see ``../shared/docs/providers.md`` §3.2):

- fields outside :data:`MISTRAL_FIELDS` → 422 whose ``message`` is an object
  ``{"detail": [{"type": "extra_forbidden", "loc": ["body", field], "msg": "Extra inputs are
  not permitted", "input": value}]}`` (so ``max_completion_tokens``, ``seed``, ``user`` are
  refused); a ``developer`` role → 422 ``union_tag_invalid``; other schema errors → 422 too;
- tool-call ids (assistant ``tool_calls[].id``, tool ``tool_call_id``) must match
  ``[a-zA-Z0-9]{9}`` → 400 ``invalid_function_call`` / ``3280``;
- the last message must be ``user`` or ``tool`` (or ``assistant`` with ``prefix: true``), and
  a ``user`` message cannot follow a ``tool`` message → 400 ``invalid_request_message_order``
  / ``3230``;
- the request is otherwise checked as an OpenAI one (Mistral-only fields and values mapped).

Gemini (OpenAI-compatible endpoint ``…/v1beta/openai/chat/completions``, §3.1): errors are a
JSON list ``[{"error": {"code", "message", "status"}}]``; schema keywords it does not know
(by default ``$schema``) in ``response_format.json_schema.schema`` or a tool's
``function.parameters`` → 400 ``INVALID_ARGUMENT`` "Invalid JSON payload received. Unknown
name "$schema" at '…': Cannot find field."; the rest is checked as an OpenAI request, without
OpenAI's "json" word rule for ``json_object`` (neither provider has it).
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from tests.fakes import spec as specs
from tests.fakes.spec import InvalidReply, Problem, Spec

__all__ = [
    "GEMINI_KEYWORDS",
    "GEMINI_STATUS",
    "MISTRAL_FIELDS",
    "MISTRAL_FINISH_REASONS",
    "MISTRAL_TOOL_ID",
    "check_gemini_chat",
    "check_mistral_chat",
    "check_mistral_reply",
    "gemini_error_body",
    "mistral_error_body",
]

MISTRAL_FIELDS = frozenset({
    "model", "messages", "temperature", "top_p", "max_tokens", "stream", "stop",
    "random_seed", "metadata", "response_format", "tools", "tool_choice", "presence_penalty",
    "frequency_penalty", "n", "prediction", "parallel_tool_calls", "reasoning_effort",
    "prompt_mode", "guardrails", "prompt_cache_key", "safe_prompt",
})
"""The fields of Mistral's ``ChatCompletionRequest``; any other is a 422."""
_MISTRAL_ONLY = ("random_seed", "prompt_mode", "guardrails", "safe_prompt")
MISTRAL_TOOL_ID = re.compile(r"^[a-zA-Z0-9]{9}$")
MISTRAL_FINISH_REASONS = frozenset({"stop", "length", "model_length", "error", "tool_calls"})
_MISTRAL_ROLES = ("assistant", "system", "tool", "user")
_MISTRAL_CHUNKS = frozenset({"text", "image_url", "document_url", "file", "reference",
                             "thinking", "input_audio"})

GEMINI_KEYWORDS = frozenset({"$schema", "additionalProperties", "const", "propertyNames"})
"""Keywords reported as refused by Gemini; the fake refuses ``$schema`` unless told more."""
GEMINI_STATUS = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED",
                 404: "NOT_FOUND", 429: "RESOURCE_EXHAUSTED", 500: "INTERNAL",
                 503: "UNAVAILABLE", 504: "DEADLINE_EXCEEDED"}


# -- bodies ----------------------------------------------------------------------------------


def mistral_error_body(message: str | Mapping[str, Any], status: int, *,
                       type_: str = "invalid_request_error",
                       code: str | None = None) -> dict[str, Any]:
    """``{"object": "error", "message", "type", "param": null, "code", "raw_status_code"}``."""
    return {"object": "error", "message": message if isinstance(message, str) else dict(message),
            "type": type_, "param": None, "code": code, "raw_status_code": status}


def gemini_error_body(status: int, message: str, status_text: str | None = None,
                      details: Iterable[Mapping[str, Any]] = ()) -> list[dict[str, Any]]:
    """``[{"error": {"code", "message", "status"[, "details"]}}]``."""
    error: dict[str, Any] = {"code": status, "message": message,
                             "status": status_text or GEMINI_STATUS.get(status, "UNKNOWN")}
    if details:
        error["details"] = [dict(item) for item in details]
    return [{"error": error}]


def _validation_problem(detail: list[dict[str, Any]]) -> Problem:
    first = detail[0]
    where = ".".join(str(part) for part in first["loc"][1:])
    return Problem(f"{where}: {first['msg']}", where, status=422,
                   body=mistral_error_body({"detail": detail}, 422))


# -- Mistral ---------------------------------------------------------------------------------


def check_mistral_chat(body: Any, spec: Spec | None) -> None:
    """Raise :class:`Problem` (with a Mistral-shaped body) unless Mistral accepts ``body``."""
    if not isinstance(body, dict):
        raise _validation_problem([{"type": "model_attributes_type", "loc": ["body"],
                                    "msg": "Input should be a valid dictionary", "input": body}])
    extra = [{"type": "extra_forbidden", "loc": ["body", name],
              "msg": "Extra inputs are not permitted", "input": value}
             for name, value in body.items() if name not in MISTRAL_FIELDS]
    raw = body.get("messages")
    messages: list[Any] = raw if isinstance(raw, list) else []
    extra += [{"type": "union_tag_invalid", "loc": ["body", "messages", index],
               "msg": f"Input tag '{message.get('role')}' found using 'role' does not match any "
                      f"of the expected tags: {', '.join(repr(r) for r in _MISTRAL_ROLES)}",
               "input": message}
              for index, message in enumerate(messages)
              if isinstance(message, dict) and message.get("role") not in _MISTRAL_ROLES]
    if extra:
        raise _validation_problem(extra)
    try:
        specs.check_chat(_openai_view(body), spec, json_word=False)
    except Problem as problem:
        if problem.status != 400 or problem.message.startswith(("An assistant", "Invalid param")):
            raise _order_problem(problem.message) from None  # tool-call pairing
        loc = ["body", *_loc(problem.param)]
        raise _validation_problem([{"type": "value_error", "loc": loc, "msg": problem.message,
                                    "input": _at(body, loc[1:])}]) from None
    _check_mistral_messages(messages)


def _openai_view(body: Mapping[str, Any]) -> dict[str, Any]:
    """``body`` as the OpenAI checks understand it (Mistral-only fields and values mapped)."""
    view = {key: value for key, value in body.items() if key not in _MISTRAL_ONLY}
    if view.get("tool_choice") == "any":
        view["tool_choice"] = "required"
    messages = []
    raw = view.get("messages")
    for message in raw if isinstance(raw, list) else []:
        if isinstance(message, dict):
            message = {key: value for key, value in message.items() if key != "prefix"}
            content = message.get("content")
            if isinstance(content, list):
                message["content"] = [_openai_part(part) for part in content]
        messages.append(message)
    if "messages" in view:
        view["messages"] = messages
    return view


def _openai_part(part: Any) -> Any:
    if not isinstance(part, dict):
        return part
    if part.get("type") == "image_url" and isinstance(part.get("image_url"), str):
        return {"type": "image_url", "image_url": {"url": part["image_url"]}}
    if part.get("type") == "document_url" and isinstance(part.get("document_url"), str):
        return {"type": "text", "text": "(document)"}
    return part


def _check_mistral_messages(messages: list[Any]) -> None:
    previous = None
    for message in messages:
        if not isinstance(message, dict):
            continue
        role = message.get("role")
        calls = message.get("tool_calls") if role == "assistant" else None
        ids = [call.get("id") for call in calls if isinstance(call, dict)] if isinstance(
            calls, list) else []
        if role == "tool":
            ids = [message.get("tool_call_id")]
        for call_id in ids:
            if not isinstance(call_id, str) or not MISTRAL_TOOL_ID.match(call_id):
                text = (f"Tool call id was {call_id} but must be a-z, A-Z, 0-9, with a length "
                        "of 9.")
                raise Problem(text, status=400, body=mistral_error_body(
                    text, 400, type_="invalid_function_call", code="3280"))
        if role == "user" and previous == "tool":
            raise _order_problem("Unexpected role 'user' after role 'tool'")
        previous = role
    last = messages[-1] if messages and isinstance(messages[-1], dict) else {}
    role = last.get("role")
    if role not in ("user", "tool") and not (role == "assistant" and last.get("prefix") is True):
        raise _order_problem(f"Expected last role User or Tool (or Assistant with prefix True) "
                             f"for serving but got {role}")


def _order_problem(text: str) -> Problem:
    return Problem(text, status=400, body=mistral_error_body(
        text, 400, type_="invalid_request_message_order", code="3230"))


def check_mistral_reply(body: Any, spec: Spec | None) -> None:
    """Raise :class:`InvalidReply` unless ``body`` is a chat completion as Mistral sends it:
    ``finish_reason`` in :data:`MISTRAL_FINISH_REASONS`, content a string, ``null`` or a list
    of chunks, tool-call ids of 9 alphanumerics; the rest as OpenAI's response schema."""
    if not isinstance(body, dict):
        raise InvalidReply("a Mistral chat completion is an object")
    view = copy.deepcopy(body)
    if isinstance(view.get("usage"), dict):
        view["usage"].pop("prompt_audio_seconds", None)
    for choice in view.get("choices") or []:
        reason = choice.get("finish_reason")
        if reason not in MISTRAL_FINISH_REASONS:
            raise InvalidReply(f"finish_reason {reason!r} is not one of "
                               f"{sorted(MISTRAL_FINISH_REASONS)}")
        choice["finish_reason"] = {"model_length": "length", "error": "stop"}.get(reason, reason)
        choice.setdefault("logprobs", None)
        message = choice.get("message") or {}
        message.pop("prefix", None)
        message.setdefault("refusal", None)
        content = message.get("content")
        if isinstance(content, list):
            message["content"] = "".join(_chunk_text(chunk) for chunk in content)
        if message.get("tool_calls") is None:
            message.pop("tool_calls", None)
        for call in message.get("tool_calls") or []:
            call.pop("index", None)
            if not MISTRAL_TOOL_ID.match(str(call.get("id"))):
                raise InvalidReply(f"Mistral tool-call ids are 9 alphanumerics, not "
                                   f"{call.get('id')!r}")
    specs.check_reply("chat", view, spec)


def _chunk_text(chunk: Any) -> str:
    if not isinstance(chunk, dict) or chunk.get("type") not in _MISTRAL_CHUNKS:
        raise InvalidReply(f"not a Mistral content chunk: {chunk!r}")
    if chunk["type"] == "text":
        if not isinstance(chunk.get("text"), str):
            raise InvalidReply(f"a text chunk needs a string text: {chunk!r}")
        return str(chunk["text"])
    return ""


# -- Gemini ----------------------------------------------------------------------------------


def check_gemini_chat(body: Any, spec: Spec | None, refused: Iterable[str]) -> None:
    """Raise :class:`Problem` (with a Gemini list body) unless Gemini accepts ``body``."""
    try:
        specs.check_chat(body, spec, json_word=False)
    except Problem as problem:
        raise Problem(problem.message, problem.param, status=400,
                      body=gemini_error_body(400, problem.message)) from None
    refused = frozenset(refused)
    response_format = body.get("response_format")
    schema = (response_format.get("json_schema") or {}).get("schema") if isinstance(
        response_format, dict) and isinstance(response_format.get("json_schema"), dict) else None
    places = [("generation_config.response_schema", schema)]
    tools = body.get("tools")
    for index, tool in enumerate(tools if isinstance(tools, list) else []):
        function = tool.get("function") if isinstance(tool, dict) else None
        if isinstance(function, dict):
            places.append((f"tools[0].function_declarations[{index}].parameters",
                           function.get("parameters")))
    for where, value in places:
        for path, keyword in _keywords(value, where):
            if keyword in refused:
                text = (f'Invalid JSON payload received. Unknown name "{keyword}" at '
                        f"'{path}': Cannot find field.")
                raise Problem(text, status=400, body=gemini_error_body(400, text, details=[{
                    "@type": "type.googleapis.com/google.rpc.BadRequest",
                    "fieldViolations": [{"field": path, "description": text}]}]))


def _keywords(schema: Any, path: str) -> Iterator[tuple[str, str]]:
    """``(path, keyword)`` of every keyword of a JSON schema and its subschemas (property
    names are not keywords)."""
    if not isinstance(schema, dict):
        return
    for key, value in schema.items():
        yield path, key
        if key in ("properties", "$defs", "definitions", "patternProperties") and isinstance(
                value, dict):
            for position, sub in enumerate(value.values()):
                yield from _keywords(sub, f"{path}.{key}[{position}].value")
        elif key in ("anyOf", "oneOf", "allOf", "prefixItems") and isinstance(value, list):
            for position, sub in enumerate(value):
                yield from _keywords(sub, f"{path}.{key}[{position}]")
        elif key in ("items", "additionalProperties", "not", "propertyNames") and isinstance(
                value, dict):
            yield from _keywords(value, f"{path}.{key}")


def _loc(param: str | None) -> list[Any]:
    parts: list[Any] = []
    for name, index in re.findall(r"([^.\[\]]+)|\[(\d+)\]", param or ""):
        parts.append(int(index) if index else name)
    return parts


def _at(data: Any, path: list[Any]) -> Any:
    for part in path:
        try:
            data = data[part]
        except (KeyError, IndexError, TypeError):
            return None
    return data

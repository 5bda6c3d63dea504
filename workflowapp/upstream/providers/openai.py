"""OpenAI Chat Completions, with the rules of Azure, compatible servers, Mistral and Gemini.

Known quirks of OpenAI-compatible servers (``docs/openai-api.md`` §5, ``providers.md`` §3):

==============  ================================================================================
server          quirk and what we do about it
==============  ================================================================================
Azure OpenAI    ``api-key`` header; classic ``/openai/deployments/{name}/…`` URLs need
                ``api-version`` (added when missing), v1 ``/openai/v1/…`` URLs take none; the
                deployment name (not the model name) selects the model, a wrong one is 404
                ``DeploymentNotFound``; a filtered prompt is 400 ``content_filter``; reasoning
                deployments reject ``max_tokens`` (learned and renamed on the fly).
Ollama          ignores ``max_completion_tokens`` silently (no cap!), so compatible servers get
                ``max_tokens``; ignores ``tool_choice``, ``logit_bias``, ``n``,
                ``parallel_tool_calls``; ``finish_reason`` may be null.
vLLM            ``tool_choice: auto`` needs server flags (else 400); ``parallel_tool_calls``
                honoured only by newer versions; ``user`` ignored.
llama.cpp       ``llama-server``: ``error.code`` is an *integer*; accepts ``developer`` and
                content parts; honours ``n``. ``llama-cpp-python``: answers ``developer``,
                assistant ``content: null``, ``json_schema`` with HTTP **500** and 500s on
                content-part arrays: hence ``developer`` -> ``system``, ``null`` -> ``""`` and
                flattened text parts for every compatible server.
LiteLLM         raises ``UnsupportedParamsError`` (400) for parameters a target model does not
                take unless ``drop_params`` is on; its capability tables can be wrong.
Mistral         ``max_tokens`` only (``max_completion_tokens`` is a 422: unknown fields are
                refused), ``random_seed`` instead of ``seed``; tool-call ids must be 9 letters
                or digits (rewritten on the way out by a deterministic mapping);
                ``finish_reason`` ``model_length``; content may be a list of chunks.
Gemini          errors wrapped in a JSON list (parsed leniently); ``$schema`` and other schema
                keywords refused (removed from what is sent); penalties refused by some models.
==============  ================================================================================

The reasoning-model adaptations (:func:`adaptation_for`) follow §1.3: on a 400
``unsupported_parameter`` for a token field the other field is used; on a 400
``unsupported_value``/``unsupported_parameter`` for a sampling parameter that parameter is
dropped. Each is tried once per call and remembered per (host, model).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping
from typing import Any

from ...errors import BadUpstreamAnswer
from ...messages import Message, assistant_from_openai
from ..chat import ChatRequest, Choice, Usage
from .base import (
    Adaptation,
    Capabilities,
    ChatProfile,
    Encoded,
    Endpoint,
    Provider,
    auth_headers,
    check_sampling,
    with_api_version,
)

#: The two names of the completion-token limit; callers always pass ``max_tokens``.
TOKEN_FIELDS = ("max_tokens", "max_completion_tokens")
#: Parameters a reasoning model may reject and that can be left out without changing the task.
DROPPABLE = frozenset(
    {
        "temperature",
        "top_p",
        "frequency_penalty",
        "presence_penalty",
        "logprobs",
        "top_logprobs",
        "logit_bias",
        "stop",
        "parallel_tool_calls",
        "n",
        "reasoning_effort",
    }
)
# Parameters that only make sense together: dropping the first drops the others.
_DROP_ALSO = {"logprobs": ("top_logprobs",)}
_UNSUPPORTED = re.compile(r"[Uu]nsupported (?:parameter|value):?\s*'([A-Za-z_]+)'")
_BOTH = re.compile(r"temperature.{0,8}and.{0,8}top_p.{0,20}cannot both be specified", re.I)
_DEPRECATED = re.compile(r"[`'\"]?(temperature|top_p|top_k)[`'\"]? is deprecated", re.I)
_EXTRA = re.compile(r"\b(temperature|top_p|top_k)\b[^.;]{0,40}(?:extra inputs|not permitted)",
                    re.I)
_MISTRAL_ID = re.compile(r"^[A-Za-z0-9]{9}$")
_ALPHANUMERIC = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
#: Schema keywords Gemini's OpenAI layer refuses; removed from what is sent to it.
GEMINI_REFUSED_KEYWORDS = frozenset({
    "$schema", "$id", "$comment", "propertyNames", "patternProperties",
    "unevaluatedProperties", "dependentRequired", "dependentSchemas", "if", "then", "else",
    "not", "contains", "minContains", "maxContains",
})
_SCHEMA_MAPS = frozenset({"properties", "$defs", "definitions"})

_OPENAI_FEATURES: dict[str, str | None] = {
    "TEMPERATURE": "temperature", "TOP_P": "top_p", "FREQUENCY_PENALTY": "frequency_penalty",
    "PRESENCE_PENALTY": "presence_penalty", "MAX_TOKENS": "max_completion_tokens",
    "NUMBER_OF_CHOICES": "n", "json_object": "response_format (needs the word JSON)",
    "json_schema": "response_format", "TOOLS": "tools", "TOOL_CHOICE_REQUIRED":
    "tool_choice required", "PARALLEL_TOOL": "parallel_tool_calls",
    "REASONING_EFFORT": "reasoning_effort",
    "RESULT_CACHED_TOKENS": "prompt_tokens_details.cached_tokens",
    "images": "image_url part", "PDF": "file part",
}
CAPABILITIES = {
    Provider.OPENAI: Capabilities(_OPENAI_FEATURES, frozenset({"text", "image", "pdf"})),
    Provider.AZURE: Capabilities(
        {**_OPENAI_FEATURES, "MAX_TOKENS": "max_tokens (max_completion_tokens when refused)",
         "PDF": None}, frozenset({"text", "image"})),
    Provider.COMPATIBLE: Capabilities(
        {**_OPENAI_FEATURES, "MAX_TOKENS": "max_tokens (max_completion_tokens when refused)",
         "json_object": "response_format", "PDF": None}, frozenset({"text", "image"})),
    Provider.MISTRAL: Capabilities(
        {**_OPENAI_FEATURES, "MAX_TOKENS": "max_tokens", "json_object": "response_format",
         "RESULT_CACHED_TOKENS": "prompt_tokens_details.cached_tokens (when sent)",
         "PDF": None}, frozenset({"text", "image"})),
    Provider.GEMINI: Capabilities(
        {**_OPENAI_FEATURES, "MAX_TOKENS": "max_tokens", "json_object": "response_format",
         "json_schema": "response_format ($schema and refused keywords removed)",
         "FREQUENCY_PENALTY": None, "PRESENCE_PENALTY": None,
         "RESULT_CACHED_TOKENS": "prompt_tokens_details.cached_tokens (when sent)",
         "PDF": None}, frozenset({"text", "image"})),
}


class OpenAIAdapter:
    """Chat Completions for ``provider`` (openai, azure, compatible, mistral or gemini)."""

    fan_out = False  # n > 1 is one request with "n"

    def __init__(self, provider: Provider) -> None:
        self.provider = provider
        self.capabilities = CAPABILITIES[provider]

    def encode(self, request: ChatRequest, endpoint: Endpoint, profile: ChatProfile
               ) -> Encoded:
        """The URL (Azure's api-version added), auth header and body for ``request``."""
        provider = self.provider
        messages = [m.to_openai() for m in request.messages]
        body: dict[str, Any] = {"model": request.model, "messages": messages}
        body.update(check_sampling(request, self.capabilities, provider))
        body["max_tokens"] = request.max_tokens
        if request.n > 1:
            body["n"] = request.n
        if request.response_format is not None:
            body["response_format"] = request.response_format.to_openai()
        if request.tools:
            body["tools"] = [tool.to_openai() for tool in request.tools]
            body["parallel_tool_calls"] = request.parallel_tools
            if request.tool_choice_required:
                body["tool_choice"] = "required"
        if request.reasoning_effort is not None:
            body["reasoning_effort"] = request.reasoning_effort
        body = prepare_chat_body(body, provider, profile)
        url = with_api_version(endpoint.url, provider, endpoint.options.azure_api_version)
        headers = auth_headers(provider, endpoint.api_key) if endpoint.api_key else {}
        return Encoded(url, headers, body)

    def decode(self, data: Any, text: str, encoded: Encoded) -> tuple[list[Choice], Usage]:
        """The choices (index order) and usage of a Chat Completions answer."""
        return decode_choices(data, self.provider), decode_usage(data)

    def adaptation(self, status: int | None, code: str | None, param: str | None,
                   message: str | None, body: Mapping[str, Any]) -> Adaptation | None:
        """The change a rejected parameter calls for (Mistral never renames its token field)."""
        found = adaptation_for(status, code, param, message, body)
        if found is not None and found.kind == "rename" and self.provider is Provider.MISTRAL:
            return None
        return found or refused_sampling(status, message, body)



# --- encoding ---------------------------------------------------------------------------


def default_token_field(provider: Provider) -> str:
    """The token-limit field to send first: OpenAI wants the new name, the others the old one."""
    return "max_completion_tokens" if provider is Provider.OPENAI else "max_tokens"


def prepare_chat_body(
    body: Mapping[str, Any], provider: Provider, profile: ChatProfile | None = None
) -> dict[str, Any]:
    """A copy of ``body`` ready for ``provider``: token field, learned drops, message rules."""
    profile = profile or ChatProfile()
    out = dict(body)
    field = profile.token_field if provider is not Provider.MISTRAL else None
    _set_token_field(out, field or default_token_field(provider))
    for name in profile.dropped:
        _drop(out, name)
    messages = out.get("messages")
    if provider is Provider.COMPATIBLE and isinstance(messages, list):
        out["messages"] = compatible_messages(messages)
    if provider is Provider.MISTRAL:
        if "seed" in out:
            out["random_seed"] = out.pop("seed")
        if isinstance(messages, list):
            out["messages"] = mistral_messages(messages)
    if provider is Provider.GEMINI:
        if isinstance(messages, list):
            out["messages"] = [_developer_as_system(m) for m in messages]
        out.update(gemini_schemas(out))
    return out


def _set_token_field(body: dict[str, Any], name: str) -> None:
    values = [body.pop(f) for f in TOKEN_FIELDS if f in body]
    if values:
        body[name] = values[0]  # max_tokens first: it is the field callers fill


def _drop(body: dict[str, Any], name: str) -> None:
    body.pop(name, None)
    for other in _DROP_ALSO.get(name, ()):
        body.pop(other, None)


def compatible_messages(messages: Iterable[Any]) -> list[Any]:
    """Messages rewritten for compatible servers (see the quirks table), without mutation."""
    return [_compatible_message(m) if isinstance(m, dict) else m for m in messages]


def _compatible_message(message: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = _developer_as_system(message)
    if out.get("role") == "assistant" and out.get("content") is None:
        out["content"] = ""
    content = out.get("content")
    if isinstance(content, list) and content and all(_is_text_part(p) for p in content):
        out["content"] = "\n".join(p["text"] for p in content)
    return out


def _developer_as_system(message: Any) -> Any:
    if not isinstance(message, dict):
        return message
    out = dict(message)
    if out.get("role") == "developer":
        out["role"] = "system"
    return out


def _is_text_part(part: Any) -> bool:
    return (
        isinstance(part, dict) and part.get("type") == "text" and isinstance(part.get("text"), str)
    )


def mistral_id(call_id: str) -> str:
    """Mistral's form of a tool-call id: 9 letters or digits. An id already of that form (one
    Mistral produced) is kept; any other maps to the same 9 characters every time."""
    if _MISTRAL_ID.match(call_id):
        return call_id
    number = int.from_bytes(hashlib.sha256(call_id.encode("utf-8")).digest()[:8], "big")
    chars = []
    for _ in range(9):
        number, digit = divmod(number, len(_ALPHANUMERIC))
        chars.append(_ALPHANUMERIC[digit])
    return "".join(chars)


def mistral_messages(messages: Iterable[Any]) -> list[Any]:
    """Messages with every tool-call id in Mistral's form and ``developer`` as ``system``."""
    out = []
    for message in messages:
        message = _developer_as_system(message)
        if isinstance(message, dict):
            if isinstance(message.get("tool_call_id"), str):
                message["tool_call_id"] = mistral_id(message["tool_call_id"])
            if isinstance(message.get("tool_calls"), list):
                message["tool_calls"] = [
                    {**c, "id": mistral_id(c["id"])} if isinstance(c, dict)
                    and isinstance(c.get("id"), str) else c for c in message["tool_calls"]
                ]
        out.append(message)
    return out


def gemini_schemas(body: Mapping[str, Any]) -> dict[str, Any]:
    """The response format and tools of ``body`` with the schema keywords Gemini refuses
    removed (the full schema is still used to check the answer locally)."""
    changed: dict[str, Any] = {}
    response_format = body.get("response_format")
    if isinstance(response_format, dict) and isinstance(response_format.get("json_schema"), dict):
        wrapped = dict(response_format["json_schema"])
        wrapped["schema"] = gemini_schema(wrapped.get("schema"))
        changed["response_format"] = {**response_format, "json_schema": wrapped}
    tools = body.get("tools")
    if isinstance(tools, list):
        changed["tools"] = [
            {**tool, "function": {**tool["function"],
                                  "parameters": gemini_schema(tool["function"]["parameters"])}}
            if isinstance(tool, dict) and isinstance(tool.get("function"), dict)
            and "parameters" in tool["function"] else tool
            for tool in tools
        ]
    return changed


def gemini_schema(schema: Any) -> Any:
    """``schema`` without the keywords Gemini refuses (``const`` becomes a one-value ``enum``);
    property names are never touched."""
    if isinstance(schema, list):
        return [gemini_schema(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key in GEMINI_REFUSED_KEYWORDS:
            continue
        if key == "const":
            out.setdefault("enum", [value])
        elif key in _SCHEMA_MAPS and isinstance(value, dict):
            out[key] = {name: gemini_schema(sub) for name, sub in value.items()}
        else:
            out[key] = gemini_schema(value)
    return out


# --- run-time adaptations ---------------------------------------------------------------


def rejected_param(param: str | None, message: str | None) -> str | None:
    """The parameter an error names: ``param``, else the quoted name in "Unsupported …: 'x'"."""
    if param:
        return param
    match = _UNSUPPORTED.search(message or "")
    return match.group(1) if match else None


def adaptation_for(
    status: int | None,
    code: str | None,
    param: str | None,
    message: str | None,
    body: Mapping[str, Any],
) -> Adaptation | None:
    """The change that answers a rejected parameter in ``body``, or ``None`` if none applies."""
    if status != 400 or code not in ("unsupported_parameter", "unsupported_value"):
        return None
    name = rejected_param(param, message)
    if name is None or name not in body:
        return None
    if name in TOKEN_FIELDS:
        if code != "unsupported_parameter":
            return None  # a bad value (too many tokens) is the caller's to fix
        other = TOKEN_FIELDS[1 - TOKEN_FIELDS.index(name)]
        return Adaptation("rename", name, other)
    if name in DROPPABLE:
        return Adaptation("drop", name)
    return None


def refused_sampling(status: int | None, message: str | None, body: Mapping[str, Any]
                     ) -> Adaptation | None:
    """A sampling parameter a model refuses in words (Anthropic's models, also behind proxies):
    "temperature and top_p cannot both be specified" drops ``top_p``; "'temperature' is
    deprecated for this model" or "temperature: Extra inputs are not permitted" drops it."""
    if status not in (400, 422) or not message:
        return None
    if _BOTH.search(message) and "top_p" in body:
        return Adaptation("drop", "top_p")
    found = _DEPRECATED.search(message) or _EXTRA.search(message)
    if found and found.group(1).lower() in body:
        return Adaptation("drop", found.group(1).lower())
    return None


def apply(body: Mapping[str, Any], adaptation: Adaptation) -> dict[str, Any]:
    """A copy of ``body`` with ``adaptation`` made."""
    out = dict(body)
    if adaptation.kind == "rename" and adaptation.to is not None:
        _set_token_field(out, adaptation.to)
    else:
        _drop(out, adaptation.param)
    return out


# --- decoding ---------------------------------------------------------------------------

_FINISH = {"model_length": "length"}  # Mistral's


def decode_choices(data: Any, provider: Provider) -> list[Choice]:
    """The choices of a Chat Completions answer, in index order, messages in OpenAI shape."""
    choices = data.get("choices") if isinstance(data, dict) else None
    if not isinstance(choices, list) or not choices or \
            not all(isinstance(c, dict) and isinstance(c.get("message"), dict) for c in choices):
        raise BadUpstreamAnswer("The chat answer has no choices with a message.", http_status=200)
    ordered = sorted(choices,
                     key=lambda c: c.get("index") if isinstance(c.get("index"), int) else 0)
    decoded = []
    for position, choice in enumerate(ordered):
        finish = choice.get("finish_reason")
        finish = _FINISH.get(finish, finish) if isinstance(finish, str) else None
        message: Message = assistant_from_openai(choice["message"])
        decoded.append(Choice(message, finish, position))
    return decoded


def decode_usage(data: Any) -> Usage:
    """OpenAI's ``usage``, with ``prompt_tokens_details.cached_tokens`` (0 when absent)."""
    usage = data.get("usage") if isinstance(data, dict) else None
    if not isinstance(usage, dict):
        return Usage()
    details = usage.get("prompt_tokens_details")
    cached = details.get("cached_tokens") if isinstance(details, dict) else None
    return Usage(_int(usage.get("prompt_tokens")), _int(usage.get("completion_tokens")),
                 _int(usage.get("total_tokens")), _int(cached) or 0)


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def json_text(value: Any) -> str:
    """``value`` as compact JSON text."""
    return json.dumps(value, ensure_ascii=False)

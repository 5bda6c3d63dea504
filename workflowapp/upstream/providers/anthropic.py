"""Anthropic's native Messages API (``POST /v1/messages``), from and to OpenAI shapes.

Request (``providers.md`` §2): ``x-api-key`` and ``anthropic-version`` headers; system and
developer messages joined into the top-level ``system``; ``max_tokens`` always; assistant tool
calls become ``tool_use`` blocks and tool messages ``tool_result`` blocks, merged into one user
turn and placed first in it (turns of the same role are merged, so roles alternate); images as
``image`` blocks, PDFs as ``document`` blocks; tools with ``input_schema``; ``tool_choice``
``any`` for TOOL_CHOICE_REQUIRED, ``disable_parallel_tool_use`` for PARALLEL_TOOL=N;
``json_schema`` and ``json_object`` as ``output_config.format`` (JSON outputs), or, for a model
that refuses it, as a forced tool whose input is the answer; REASONING_EFFORT as
``output_config.effort`` (nearest level); long system prompts and tool lists marked for prompt
caching. No ``n``: several choices are several requests (the sender does it).

Answer: text blocks joined, ``tool_use`` blocks as OpenAI ``tool_calls`` (``arguments`` the JSON
text of ``input``), ``stop_reason`` mapped to OpenAI's ``finish_reason``, usage with
prompt = input + cache creation + cache read tokens and cached = cache read tokens.

How a refused structured output is recognised: a 400 whose message names ``output_config``,
``output_format``, "structured output(s)" or "json_schema" (what Anthropic says of a model
without JSON outputs, e.g. "output_config.format: Extra inputs are not permitted" or "This model
does not support structured outputs") while the body carried ``output_config.format``: the call
is resent once with the forced tool, and the (host, model) remembered.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from typing import Any

from ...errors import BadUpstreamAnswer, ParameterError
from ...messages import (
    FilePart,
    ImagePart,
    Message,
    OtherPart,
    Part,
    TextPart,
    ToolCall,
    data_view,
)
from ..chat import EFFORTS, ChatRequest, Choice, Usage
from .base import (
    Adaptation,
    Capabilities,
    ChatProfile,
    Encoded,
    Endpoint,
    Provider,
    auth_headers,
    check_sampling,
)
from .openai import refused_sampling

#: The name of the forced tool that carries a JSON answer when JSON outputs are refused.
JSON_TOOL = "json_answer"
#: A system prompt plus tool list at least this long (characters, ~1,000 tokens) is marked
#: for prompt caching: shorter prefixes are below Anthropic's minimum cacheable length.
CACHE_MIN_CHARS = 4000
STOP_REASONS = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "pause_turn": "stop",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "tool_use": "tool_calls",
    "refusal": "content_filter",
}
#: REASONING_EFFORT -> output_config.effort (Anthropic has low, medium, high, xhigh, max).
EFFORT = {"none": "low", "minimal": "low", "low": "low", "medium": "medium", "high": "high",
          "xhigh": "xhigh"}
assert set(EFFORT) == set(EFFORTS)
_STRUCTURED_REFUSED = re.compile(
    r"output_config|output_format|structured outputs?|json_schema", re.IGNORECASE
)
_IMAGE_TYPES = ("image/jpeg", "image/png", "image/gif", "image/webp")
_TOOL_ID = re.compile(r"^[A-Za-z0-9_-]+$")

CAPABILITIES = Capabilities(
    {
        "TEMPERATURE": "temperature (0 to 1)", "TOP_P": "top_p",
        "FREQUENCY_PENALTY": None, "PRESENCE_PENALTY": None,
        "MAX_TOKENS": "max_tokens (always sent)",
        "NUMBER_OF_CHOICES": "one request per choice, usage summed",
        "json_object": "output_config.format {type: object}",
        "json_schema": "output_config.format (forced tool when refused)",
        "TOOLS": "tools (input_schema)", "TOOL_CHOICE_REQUIRED": "tool_choice any",
        "PARALLEL_TOOL": "disable_parallel_tool_use",
        "REASONING_EFFORT": "output_config.effort (nearest level)",
        "RESULT_CACHED_TOKENS": "cache_read_input_tokens",
        "images": "image block", "PDF": "document block",
    },
    frozenset({"text", "image", "pdf"}),
)


class AnthropicAdapter:
    """Anthropic Messages."""

    provider = Provider.ANTHROPIC
    capabilities = CAPABILITIES
    fan_out = True  # no "n": one request per choice

    def encode(self, request: ChatRequest, endpoint: Endpoint, profile: ChatProfile
               ) -> Encoded:
        """URL, headers (``x-api-key``, ``anthropic-version``) and Messages body."""
        system, messages = encode_messages(request.messages)
        if not messages:
            raise ParameterError(
                "Anthropic needs a user message besides the system message(s): fill "
                "USER_MESSAGE (or a user message in MESSAGE_JSON or MESSAGE_HISTORY).",
                parameter="USER_MESSAGE",
            )
        body: dict[str, Any] = {"model": request.model, "max_tokens": request.max_tokens,
                                "messages": messages}
        sampling = check_sampling(request, self.capabilities, self.provider)
        if sampling.get("temperature", 0.0) > 1:
            value = sampling["temperature"]
            raise ParameterError(
                f"TEMPERATURE must be between 0 and 1 for Anthropic, not {value:g}.",
                parameter="TEMPERATURE",
            )
        body.update({k: v for k, v in sampling.items() if k not in profile.dropped})
        tools = [encode_tool(tool.name, tool.description, tool.parameters, tool.strict)
                 for tool in request.tools]
        json_tool = None
        output: dict[str, Any] = {}
        if request.response_format is not None:
            schema = request.response_format.schema if \
                request.response_format.type == "json_schema" else None
            schema = schema or {"type": "object"}
            if profile.json_tool:
                json_tool = JSON_TOOL
                tools.append(encode_tool(JSON_TOOL, "Give the answer as this tool's input.",
                                         schema, None))
            else:
                output["format"] = {"type": "json_schema", "schema": schema}
        if request.reasoning_effort is not None:
            output["effort"] = EFFORT[request.reasoning_effort]
        if output:
            body["output_config"] = output
        if tools:
            body["tools"] = tools
            choice = _tool_choice(request, json_tool)
            if choice is not None:
                body["tool_choice"] = choice
        if system:
            body["system"] = system
        if endpoint.prompt_cache:
            mark_cache(body)
        headers = {**auth_headers(self.provider, endpoint.api_key),
                   "anthropic-version": endpoint.anthropic_version}
        return Encoded(endpoint.url, headers, body, json_tool)

    def decode(self, data: Any, text: str, encoded: Encoded) -> tuple[list[Choice], Usage]:
        """One choice (a Messages answer has one) and the usage."""
        return [decode_message(data, encoded.json_tool)], decode_usage(data)

    def adaptation(self, status: int | None, code: str | None, param: str | None,
                   message: str | None, body: Mapping[str, Any]) -> Adaptation | None:
        """A refused structured output (forced tool instead) or sampling parameter (dropped)."""
        output = body.get("output_config")
        if status == 400 and message and isinstance(output, dict) and "format" in output \
                and _STRUCTURED_REFUSED.search(message):
            return Adaptation("json_tool", "output_config.format")
        return refused_sampling(status, message, body)



def _tool_choice(request: ChatRequest, json_tool: str | None) -> dict[str, Any] | None:
    if json_tool is not None:
        return {"type": "tool", "name": json_tool}
    if request.tool_choice_required:
        choice: dict[str, Any] = {"type": "any"}
    elif not request.parallel_tools:
        choice = {"type": "auto"}
    else:
        return None
    if not request.parallel_tools:
        choice["disable_parallel_tool_use"] = True
    return choice


def encode_tool(name: str, description: str | None, parameters: dict[str, Any] | None,
                strict: bool | None) -> dict[str, Any]:
    """An OpenAI function as an Anthropic tool (``input_schema`` must be an object schema)."""
    schema = parameters if parameters else {"type": "object", "properties": {}}
    tool: dict[str, Any] = {"name": name, "input_schema": schema}
    if description:
        tool["description"] = description
    if strict is not None:
        tool["strict"] = strict
    return tool


def mark_cache(body: dict[str, Any]) -> None:
    """Mark the end of a long system prompt (else of a long tool list) for prompt caching:
    Anthropic caches the prefix up to the mark (tools, then system)."""
    tools, system = body.get("tools") or [], body.get("system")
    length = len(json.dumps(tools)) + (len(system) if isinstance(system, str) else 0)
    if length < CACHE_MIN_CHARS:
        return
    marker = {"type": "ephemeral"}
    if isinstance(system, str) and system:
        body["system"] = [{"type": "text", "text": system, "cache_control": marker}]
    elif tools:
        tools[-1] = {**tools[-1], "cache_control": marker}


# --- messages ---------------------------------------------------------------------------


def encode_messages(messages: tuple[Message, ...] | list[Message]
                    ) -> tuple[str, list[dict[str, Any]]]:
    """(system text, Anthropic messages): system/developer messages hoisted; tool results
    merged into user turns, first in each; consecutive turns of one role merged."""
    system = [m.text for m in messages if m.role in ("system", "developer") and m.text]
    turns: list[dict[str, Any]] = []
    for message in messages:
        if message.role in ("system", "developer"):
            continue
        role = "assistant" if message.role == "assistant" else "user"
        blocks = _blocks(message)
        if not blocks:
            continue
        if turns and turns[-1]["role"] == role:
            turns[-1]["content"].extend(blocks)
        else:
            turns.append({"role": role, "content": blocks})
    for turn in turns:  # tool results first in their user turn
        if turn["role"] == "user":
            turn["content"].sort(key=lambda b: b.get("type") != "tool_result")
    return "\n\n".join(system), turns


def _blocks(message: Message) -> list[dict[str, Any]]:
    if message.role == "tool":
        content: Any = message.text if isinstance(message.content, str) else \
            [encode_part(p) for p in message.parts]
        return [{"type": "tool_result", "tool_use_id": tool_use_id(message.tool_call_id),
                 "content": content}]
    blocks = [encode_part(part) for part in message.parts if not _empty_text(part)]
    if message.role == "assistant":
        if not blocks and message.refusal and not message.tool_calls:
            blocks = [{"type": "text", "text": message.refusal}]
        blocks += [encode_tool_use(call) for call in message.tool_calls]
    return blocks


def _empty_text(part: Part) -> bool:
    return isinstance(part, TextPart) and not part.text.strip()


def encode_tool_use(call: ToolCall) -> dict[str, Any]:
    """An OpenAI tool call as a ``tool_use`` block."""
    return {"type": "tool_use", "id": tool_use_id(call.id), "name": call.name,
            "input": call.parameters()}


def tool_use_id(call_id: str | None) -> str:
    """``call_id`` as Anthropic accepts it (letters, digits, ``_`` and ``-``): kept when it
    is, else mapped to the same ``toolu_…`` id every time (its tool_result follows it);
    MESSAGE_HISTORY keeps the id as received."""
    if call_id and _TOOL_ID.match(call_id):
        return call_id
    return "toolu_" + hashlib.sha256((call_id or "").encode("utf-8")).hexdigest()[:24]


def encode_part(part: Part) -> dict[str, Any]:
    """An OpenAI content part as an Anthropic block (text, image, document); the base64 of an
    attachment stays in its data URL (a :class:`~workflowapp.messages.DataView`)."""
    if isinstance(part, TextPart):
        return {"type": "text", "text": part.text}
    if isinstance(part, ImagePart):
        image = data_view(part.url)
        if image is None:
            return {"type": "image", "source": {"type": "url", "url": part.url}}
        if part.media_type not in _IMAGE_TYPES:
            raise ParameterError(
                f"An image of type {part.media_type} cannot be sent to Anthropic (PNG, JPEG, "
                "GIF or WebP only)."
            )
        return {"type": "image", "source": {"type": "base64", "media_type": part.media_type,
                                            "data": image}}
    document = data_view(part.file_data) if isinstance(part, FilePart) else None
    if isinstance(part, FilePart) and document is not None \
            and part.media_type == "application/pdf":
        block: dict[str, Any] = {"type": "document", "source": {
            "type": "base64", "media_type": "application/pdf", "data": document}}
        if part.filename:
            block["title"] = part.filename
        return block
    kind = part.type if isinstance(part, OtherPart) else "file"
    raise ParameterError(f"A {kind} content part cannot be sent to Anthropic (text, images and "
                         "PDF documents only).")


# --- answers ----------------------------------------------------------------------------


def decode_message(data: Any, json_tool: str | None = None) -> Choice:
    """A Messages answer as one OpenAI choice."""
    if not isinstance(data, dict) or not isinstance(data.get("content"), list):
        raise BadUpstreamAnswer("The Anthropic answer has no content.", http_status=200)
    texts: list[str] = []
    calls: list[ToolCall] = []
    answer: Any = None
    for block in data["content"]:
        if not isinstance(block, dict):
            continue
        if block.get("type") == "text" and isinstance(block.get("text"), str):
            texts.append(block["text"])
        elif block.get("type") == "tool_use":
            if json_tool is not None and block.get("name") == json_tool:
                answer = block.get("input")
                continue
            calls.append(ToolCall(block.get("id") if isinstance(block.get("id"), str) else None,
                                  str(block.get("name") or ""),
                                  json.dumps(block.get("input") or {}, ensure_ascii=False)))
    reason = data.get("stop_reason")
    finish = STOP_REASONS.get(reason, reason) if isinstance(reason, str) else None
    content: str | None = "".join(texts) if texts or not calls else None
    if answer is not None:
        content, finish = json.dumps(answer, ensure_ascii=False), (
            "stop" if finish == "tool_calls" else finish)
    message = Message("assistant", content, tuple(calls))
    return Choice(message, finish, 0, json_tool=answer is not None)


def decode_usage(data: Any) -> Usage:
    """Usage in OpenAI's terms: prompt = input + cache creation + cache read tokens."""
    usage = data.get("usage") if isinstance(data, dict) else None
    if not isinstance(usage, dict):
        return Usage()

    def count(name: str) -> int:
        value = usage.get(name)
        return value if isinstance(value, int) and not isinstance(value, bool) else 0

    prompt = count("input_tokens") + count("cache_creation_input_tokens") \
        + count("cache_read_input_tokens")
    completion = count("output_tokens")
    return Usage(prompt, completion, prompt + completion, count("cache_read_input_tokens"))

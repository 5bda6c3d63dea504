"""Each provider adapter's encoding and decoding, without a network."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.helpers import typed
from workflowapp.errors import BadUpstreamAnswer, ParameterError
from workflowapp.messages import (
    PART_KINDS,
    FilePart,
    ImagePart,
    Message,
    OtherPart,
    TextPart,
    ToolCall,
)
from workflowapp.upstream import CallOptions, ChatRequest, ResponseFormat, Tool
from workflowapp.upstream.client import _json_payload
from workflowapp.upstream.providers import (
    ADAPTERS,
    FEATURES,
    AnthropicAdapter,
    ChatProfile,
    Encoded,
    Endpoint,
    OpenAIAdapter,
    Provider,
    mistral_id,
)
from workflowapp.upstream.providers.anthropic import CACHE_MIN_CHARS, decode_message
from workflowapp.upstream.providers.openai import gemini_schema

KEY = "k-0123456789"
CALL_A = ToolCall("call_A", "lookup", '{"q": "vis"}')
CALL_B = ToolCall("call_B", "lookup", '{"q": "boulons"}')
PNG = "data:image/png;base64,iVBORw0KGgo="
PDF = "data:application/pdf;base64,JVBERi0xLjQ="
CONVERSATION = (
    Message("system", "Be brief."),
    Message("developer", "Use metric units."),
    Message("user", "Stock?"),
    Message("assistant", "Looking.", (CALL_A, CALL_B)),
    Message("tool", "12", tool_call_id="call_A"),
    Message("tool", "3", tool_call_id="call_B"),
    Message("user", "Thanks, and the total?"),
)


def endpoint(provider: Provider, url: str = "https://h.example/v1/x", **kw: Any) -> Endpoint:
    return Endpoint(provider, url, KEY, CallOptions(), **kw)


def request(**kw: Any) -> ChatRequest:
    return ChatRequest(**{"model": "m", "messages": (Message("user", "hi"),), **kw})


def anthropic(req: ChatRequest, profile: ChatProfile | None = None, **kw: Any) -> Encoded:
    return AnthropicAdapter().encode(req, endpoint(Provider.ANTHROPIC, **kw),
                                     profile or ChatProfile())


def openai(provider: Provider, req: ChatRequest) -> Encoded:
    return OpenAIAdapter(provider).encode(req, endpoint(provider), ChatProfile())


# --- Anthropic --------------------------------------------------------------------------


def test_anthropic_conversation_mapping() -> None:
    encoded = anthropic(request(messages=CONVERSATION))
    assert encoded.headers == {"x-api-key": KEY, "anthropic-version": "2023-06-01"}
    body = encoded.body
    assert body["system"] == "Be brief.\n\nUse metric units."
    assert body["max_tokens"] == 256
    assert body["messages"] == [
        {"role": "user", "content": [{"type": "text", "text": "Stock?"}]},
        {"role": "assistant", "content": [
            {"type": "text", "text": "Looking."},
            {"type": "tool_use", "id": "call_A", "name": "lookup", "input": {"q": "vis"}},
            {"type": "tool_use", "id": "call_B", "name": "lookup", "input": {"q": "boulons"}}]},
        {"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": "call_A", "content": "12"},
            {"type": "tool_result", "tool_use_id": "call_B", "content": "3"},
            {"type": "text", "text": "Thanks, and the total?"}]},
    ]


def test_anthropic_tool_results_come_first_in_their_turn() -> None:
    messages = (Message("user", "q"), Message("assistant", None, (CALL_A,)),
                Message("user", "extra"), Message("tool", "12", tool_call_id="call_A"))
    turn = anthropic(request(messages=messages)).body["messages"][-1]
    assert [b["type"] for b in turn["content"]] == ["tool_result", "text"]


def test_anthropic_images_and_pdfs() -> None:
    parts = (TextPart("Look"), ImagePart(PNG, "high"), ImagePart("https://x.example/a.png"),
             FilePart("a.pdf", PDF))
    body = anthropic(request(messages=(Message("user", parts),))).body
    image, document = body["messages"][0]["content"][1], body["messages"][0]["content"][3]
    assert image["source"]["data"].url is PNG and document["source"]["data"].url is PDF  # no copy
    data = _json_payload(body).data
    assert isinstance(data, bytes | bytearray)
    content = json.loads(bytes(data))["messages"][0]["content"]
    assert content == [
        {"type": "text", "text": "Look"},
        {"type": "image", "source": {"type": "base64", "media_type": "image/png",
                                     "data": "iVBORw0KGgo="}},
        {"type": "image", "source": {"type": "url", "url": "https://x.example/a.png"}},
        {"type": "document", "title": "a.pdf", "source": {
            "type": "base64", "media_type": "application/pdf", "data": "JVBERi0xLjQ="}},
    ]
    with pytest.raises(ParameterError, match="input_audio"):
        anthropic(request(messages=(Message("user", (OtherPart({"type": "input_audio"}),)),)))


def test_anthropic_tools_choice_and_parallel() -> None:
    tool = Tool("lookup", "Look up", {"type": "object", "properties": {}})
    body = anthropic(request(tools=(tool,), tool_choice_required=True,
                             parallel_tools=False)).body
    assert body["tools"] == [{"name": "lookup", "description": "Look up",
                              "input_schema": {"type": "object", "properties": {}}}]
    assert body["tool_choice"] == {"type": "any", "disable_parallel_tool_use": True}
    assert anthropic(request(tools=(tool,), parallel_tools=False)).body["tool_choice"] == {
        "type": "auto", "disable_parallel_tool_use": True}
    assert "tool_choice" not in anthropic(request(tools=(tool,))).body


def test_anthropic_structured_output_and_its_forced_tool_fallback() -> None:
    schema = {"type": "object", "properties": {"a": {"type": "string"}}}
    fmt = ResponseFormat("json_schema", "answer", schema)
    body = anthropic(request(response_format=fmt)).body
    assert body["output_config"] == {"format": {"type": "json_schema", "schema": schema}}
    fallback = anthropic(request(response_format=fmt), ChatProfile(json_tool=True))
    assert "output_config" not in fallback.body
    assert fallback.body["tool_choice"] == {"type": "tool", "name": "json_answer"}
    assert fallback.body["tools"][-1]["input_schema"] == schema
    answer = {"content": [{"type": "tool_use", "id": "t", "name": "json_answer",
                           "input": {"a": "x"}}], "stop_reason": "tool_use"}
    choice = decode_message(answer, fallback.json_tool)
    assert (json.loads(choice.message.text), choice.finish_reason) == ({"a": "x"}, "stop")
    assert choice.message.tool_calls == ()
    obj = anthropic(request(response_format=ResponseFormat("json_object"))).body
    assert obj["output_config"]["format"] == {"type": "json_schema", "schema": {"type": "object"}}


def test_anthropic_refused_structured_output_is_recognised() -> None:
    adapter = AnthropicAdapter()
    body = {"output_config": {"format": {"type": "json_schema", "schema": {}}}}
    for message in ("output_config.format: Extra inputs are not permitted",
                    "This model does not support structured outputs."):
        found = adapter.adaptation(400, None, None, message, body)
        assert found is not None and found.kind == "json_tool"
    assert adapter.adaptation(400, None, None, "messages: roles must alternate", body) is None
    assert adapter.adaptation(500, None, None, "output_config", body) is None


@pytest.mark.parametrize(("effort", "sent"), [
    ("none", "low"), ("minimal", "low"), ("low", "low"), ("medium", "medium"),
    ("high", "high"), ("xhigh", "xhigh")])
def test_anthropic_effort(effort: str, sent: str) -> None:
    assert anthropic(request(reasoning_effort=effort)).body["output_config"] == {"effort": sent}


def test_anthropic_sampling() -> None:
    body = anthropic(request(sampling={"temperature": 0.3, "top_p": 0.9,
                                       "frequency_penalty": 0.0})).body
    assert (body["temperature"], body["top_p"]) == (0.3, 0.9)
    assert "frequency_penalty" not in body  # the API default: dropped silently
    with pytest.raises(ParameterError) as caught:
        anthropic(request(sampling={"presence_penalty": 0.5}))
    assert caught.value.parameter == "PRESENCE_PENALTY" and "Anthropic" in caught.value.message
    with pytest.raises(ParameterError, match="between 0 and 1"):
        anthropic(request(sampling={"temperature": 1.5}))
    dropped = anthropic(request(sampling={"temperature": 0.3, "top_p": 0.9}),
                        ChatProfile(dropped=frozenset({"top_p"}))).body
    assert "top_p" not in dropped and dropped["temperature"] == 0.3


def test_anthropic_prompt_cache_marks_long_prefixes_only() -> None:
    long_system = Message("system", "x" * CACHE_MIN_CHARS)
    body = anthropic(request(messages=(long_system, Message("user", "hi")))).body
    assert body["system"] == [{"type": "text", "text": "x" * CACHE_MIN_CHARS,
                               "cache_control": {"type": "ephemeral"}}]
    off = anthropic(request(messages=(long_system, Message("user", "hi"))),
                    prompt_cache=False).body
    assert off["system"] == "x" * CACHE_MIN_CHARS
    short = anthropic(request(messages=(Message("system", "s"), Message("user", "hi")))).body
    assert short["system"] == "s"
    big_tool = Tool("t", "d" * CACHE_MIN_CHARS, {"type": "object"})
    tools = anthropic(request(tools=(big_tool,))).body["tools"]
    assert tools[-1]["cache_control"] == {"type": "ephemeral"}


@pytest.mark.parametrize(("stop", "finish"), [
    ("end_turn", "stop"), ("stop_sequence", "stop"), ("max_tokens", "length"),
    ("model_context_window_exceeded", "length"), ("tool_use", "tool_calls"),
    ("refusal", "content_filter"), ("pause_turn", "stop")])
def test_anthropic_stop_reasons(stop: str, finish: str) -> None:
    answer = {"content": [{"type": "text", "text": "x"}], "stop_reason": stop}
    assert decode_message(answer).finish_reason == finish


def test_anthropic_decode_tool_use_and_usage() -> None:
    data = {"content": [{"type": "text", "text": "Let me "}, {"type": "text", "text": "see."},
                        {"type": "tool_use", "id": "toolu_1", "name": "f", "input": {"a": 1}}],
            "stop_reason": "tool_use",
            "usage": {"input_tokens": 10, "output_tokens": 5, "cache_creation_input_tokens": 3,
                      "cache_read_input_tokens": 4}}
    (choice,), usage = AnthropicAdapter().decode(data, "", Encoded("u", {}, {}))
    assert choice.message.content == "Let me see."
    assert typed(choice.message.tool_calls) == typed([ToolCall("toolu_1", "f", '{"a": 1}')])
    assert (usage.prompt, usage.completion, usage.total, usage.cached) == (17, 5, 22, 4)
    with pytest.raises(BadUpstreamAnswer):
        decode_message({"type": "message"})


# --- OpenAI family ----------------------------------------------------------------------


def test_openai_family_token_field_and_auth() -> None:
    assert openai(Provider.OPENAI, request()).body["max_completion_tokens"] == 256
    for provider in (Provider.AZURE, Provider.COMPATIBLE, Provider.MISTRAL, Provider.GEMINI):
        assert openai(provider, request()).body["max_tokens"] == 256
    assert openai(Provider.AZURE, request()).headers == {"api-key": KEY}
    assert openai(Provider.MISTRAL, request()).headers == {"Authorization": f"Bearer {KEY}"}
    effort = openai(Provider.GEMINI, request(reasoning_effort="low")).body
    assert effort["reasoning_effort"] == "low"


def test_mistral_ids_rewritten_deterministically() -> None:
    body = openai(Provider.MISTRAL, request(messages=CONVERSATION)).body
    assistant = body["messages"][3]
    ids = [c["id"] for c in assistant["tool_calls"]]
    assert ids == [mistral_id("call_A"), mistral_id("call_B")]
    assert [m["tool_call_id"] for m in body["messages"][4:6]] == ids
    assert body["messages"][1]["role"] == "system"  # developer
    assert CONVERSATION[3].tool_calls[0].id == "call_A"  # not mutated
    assert mistral_id("aB3dE6gH9") == "aB3dE6gH9"


@given(st.text(min_size=1, max_size=60))
def test_mistral_id_form(call_id: str) -> None:
    made = mistral_id(call_id)
    assert len(made) == 9 and made.isascii() and made.isalnum()
    assert mistral_id(call_id) == made == mistral_id(made)


def test_mistral_decode_chunks_and_model_length() -> None:
    data = {"choices": [{"index": 0, "finish_reason": "model_length", "message": {
        "role": "assistant", "content": [{"type": "thinking", "thinking": []},
                                         {"type": "text", "text": "a"},
                                         {"type": "text", "text": "b"}]}}],
            "usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5}}
    (choice,), usage = ADAPTERS[Provider.MISTRAL].decode(data, "", Encoded("u", {}, {}))
    assert (choice.message.content, choice.finish_reason) == ("ab", "length")
    assert (usage.prompt, usage.cached) == (3, 0)


def test_gemini_schema_stripped_but_property_names_kept() -> None:
    schema = {"$schema": "x", "type": "object", "properties": {
        "const": {"type": "string", "const": "a"}, "not": {"type": "number"}},
        "propertyNames": {"pattern": "^a"}, "additionalProperties": False}
    assert gemini_schema(schema) == {"type": "object", "properties": {
        "const": {"type": "string", "enum": ["a"]}, "not": {"type": "number"}},
        "additionalProperties": False}
    fmt = ResponseFormat("json_schema", "s", schema)
    sent = openai(Provider.GEMINI, request(response_format=fmt)).body["response_format"]
    assert "$schema" not in sent["json_schema"]["schema"]
    assert schema["$schema"] == "x"  # local validation keeps the full schema
    with pytest.raises(ParameterError, match="FREQUENCY_PENALTY"):
        openai(Provider.GEMINI, request(sampling={"frequency_penalty": 0.5}))


def test_openai_usage_cached_tokens() -> None:
    data = {"choices": [{"message": {"role": "assistant", "content": "x"}}],
            "usage": {"prompt_tokens": 30, "completion_tokens": 2, "total_tokens": 32,
                      "prompt_tokens_details": {"cached_tokens": 24}}}
    _, usage = ADAPTERS[Provider.OPENAI].decode(data, "", Encoded("u", {}, {}))
    assert usage.cached == 24


# --- declarations -----------------------------------------------------------------------


def test_every_adapter_declares_every_feature_and_parts() -> None:
    for provider, adapter in ADAPTERS.items():
        assert set(adapter.capabilities.features) == set(FEATURES), provider
        assert "text" in adapter.capabilities.parts <= set(PART_KINDS)
        assert ("image" in adapter.capabilities.parts) == adapter.capabilities.supports("images")
        assert ("pdf" in adapter.capabilities.parts) == adapter.capabilities.supports("PDF")
    assert {p for p, a in ADAPTERS.items() if "pdf" in a.capabilities.parts} == {
        Provider.OPENAI, Provider.ANTHROPIC}


def test_anthropic_ids_it_would_refuse_are_mapped_consistently() -> None:
    odd = ToolCall("call:1/x", "f", "{}")
    messages = (Message("user", "q"), Message("assistant", None, (odd,)),
                Message("tool", "r", tool_call_id="call:1/x"))
    turns = anthropic(request(messages=messages)).body["messages"]
    used = turns[1]["content"][0]["id"]
    assert used.startswith("toolu_") and used == turns[2]["content"][0]["tool_use_id"]
    assert used == anthropic(request(messages=messages)).body["messages"][1]["content"][0]["id"]


def test_anthropic_needs_a_user_message() -> None:
    with pytest.raises(ParameterError) as caught:
        anthropic(request(messages=(Message("system", "only a system prompt"),)))
    assert caught.value.parameter == "USER_MESSAGE"


def test_gemini_too_deep_a_schema_is_a_parameter_error() -> None:
    schema: dict[str, Any] = {"type": "object"}
    for _ in range(3000):
        schema = {"type": "array", "items": schema}
    fmt = ResponseFormat("json_schema", "s", schema)
    with pytest.raises(ParameterError, match="nested too deeply"):
        openai(Provider.GEMINI, request(response_format=fmt))

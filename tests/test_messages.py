"""The conversation model: parsing and checking OpenAI-shaped messages, parts and tool calls."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.helpers import typed
from workflowapp.errors import ParameterError
from workflowapp.messages import (
    FilePart,
    ImagePart,
    Message,
    OtherPart,
    TextPart,
    ToolCall,
    assistant_from_openai,
    data_url_parts,
    parse_message,
    parse_messages,
    part_kind,
)

OPENAI_CALL = {"id": "call_1", "type": "function",
               "function": {"name": "f", "arguments": '{"a": 1}'}}


def test_round_trip_keeps_openai_json() -> None:
    messages = [
        {"role": "system", "content": "s"},
        {"role": "user", "content": [
            {"type": "text", "text": "look"},
            {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAA=",
                                                "detail": "low"}},
            {"type": "file", "file": {"filename": "a.pdf",
                                      "file_data": "data:application/pdf;base64,JVB="}},
            {"type": "input_audio", "input_audio": {"data": "x", "format": "wav"}}]},
        {"role": "assistant", "content": None, "tool_calls": [OPENAI_CALL]},
        {"role": "tool", "content": "42", "tool_call_id": "call_1", "name": "f"},
    ]
    parsed = parse_messages(messages, "MESSAGE_JSON")
    assert [m.to_openai() for m in parsed] == messages
    parts = parsed[1].parts
    assert [part_kind(p) for p in parts] == ["text", "image", "pdf", "input_audio"]
    assert isinstance(parts[1], ImagePart) and parts[1].media_type == "image/png"
    assert isinstance(parts[2], FilePart) and parts[2].data == "JVB="
    assert isinstance(parts[3], OtherPart)
    assert parsed[3].extra == {"name": "f"}


@pytest.mark.parametrize(("value", "message"), [
    ("text", "MESSAGE_JSON[0] must be a message object."),
    ({"role": "wizard", "content": "x"}, "has role 'wizard'"),
    ({"role": "user"}, "MESSAGE_JSON[0] (user) has no content."),
    ({"role": "user", "content": 3}, "content must be text or a list of content parts"),
    ({"role": "tool", "content": "x"}, "(tool) has no tool_call_id."),
    ({"role": "assistant"}, "(assistant) has neither content nor tool_calls."),
    ({"role": "assistant", "tool_calls": [{"function": {"name": "f"}}]},
     "tool_calls must be a list of calls with ids"),
    ({"role": "assistant", "tool_calls": [{"id": "1", "function": {"arguments": "{}"}}]},
     "has no tool name"),
    ({"role": "assistant", "tool_calls": [{"id": "1", "function": {"name": "f",
                                                                  "arguments": "{x"}}]},
     "not valid JSON"),
    ({"role": "user", "content": [{"type": "image_url", "image_url": {}}]}, "has no url"),
    ({"role": "user", "content": [{"type": "text"}]}, "(text) has no text"),
    ({"role": "user", "content": [{"type": "file", "file": {"filename": "a"}}]},
     "needs file_data or file_id"),
    ({"role": "user", "content": ["x"]}, "must be a content part with a type"),
])
def test_bad_messages_name_the_parameter(value: Any, message: str) -> None:
    with pytest.raises(ParameterError) as caught:
        parse_messages([value], "MESSAGE_JSON")
    assert message in caught.value.message and caught.value.parameter == "MESSAGE_JSON"


def test_tool_call_forms() -> None:
    openai = ToolCall.parse(OPENAI_CALL, "X", "X")
    flat = ToolCall.parse({"name": "f", "id": "call_1", "parameters": {"a": 1}}, "X", "X")
    assert openai.to_selected() == flat.to_selected() == {"name": "f", "id": "call_1",
                                                          "parameters": {"a": 1}}
    assert openai.to_openai() == OPENAI_CALL
    assert json.loads(flat.to_openai()["function"]["arguments"]) == {"a": 1}


def test_assistant_from_openai_is_lenient() -> None:
    message = assistant_from_openai({"role": "assistant", "content": [
        {"type": "text", "text": "a"}, {"type": "thinking"}, {"type": "text", "text": "b"}],
        "tool_calls": [{"id": 3, "function": {"arguments": {"x": 1}}}]})
    assert message.content == "ab"
    assert typed(message.tool_calls) == typed([ToolCall(None, "", '{"x": 1}')])
    assert assistant_from_openai(None) == Message("assistant")


def test_text_of_parts() -> None:
    message = Message("user", (TextPart("a"), ImagePart("https://x"), TextPart("b")))
    assert message.text == "a\nb"
    assert data_url_parts("https://x") == (None, None)


@given(st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=5),
                    lambda inner: st.lists(inner, max_size=3)
                    | st.dictionaries(st.sampled_from(["role", "content", "tool_calls",
                                                       "tool_call_id", "type", "text", "id",
                                                       "function", "name"]), inner,
                                      max_size=4), max_leaves=12))
def test_any_json_is_a_message_or_a_parameter_error(value: Any) -> None:
    try:
        parse_message(value, "M[0]", "M")
    except ParameterError as exc:
        assert exc.parameter == "M"


def test_deeply_nested_arguments_are_a_parameter_error() -> None:
    deep = "[" * 100_000 + "]" * 100_000
    call = {"id": "c1", "type": "function", "function": {"name": "f", "arguments": deep}}
    with pytest.raises(ParameterError, match="nested (too )?deep") as caught:
        parse_messages([{"role": "assistant", "tool_calls": [call]}], "MESSAGE_HISTORY")
    assert caught.value.parameter == "MESSAGE_HISTORY"
    with pytest.raises(ParameterError, match="nested (too )?deep"):
        ToolCall.parse({"name": "f", "parameters": deep}, "TOOL_DATA", "TOOL_DATA")

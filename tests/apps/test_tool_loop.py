"""A whole WorkflowGen tool loop through the Flask app and the fake OpenAI server.

OPENAICHAT (tools; the model calls two tools in parallel) -> GETAGENTTOOL for each call ->
OPENAIADDMESSAGE assistant + ASSISTANT_TOOL_CALL (a no-op: OPENAICHAT already appended it) ->
OPENAIADDMESSAGE tool for each result -> OPENAICHAT with only the history. The fake validates
the final conversation (each tool call answered, in place) and we check every message it got.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from werkzeug.test import Client as WebClient

from tests.fakes import anthropic_replies as areplies
from tests.fakes import replies
from tests.fakes.server import FakeOpenAI
from tests.helpers import FORMATS, out, param, post
from workflowapp.context.model import Format

TOOLS = [
    {"name": "GET_STOCK_INFORMATION", "description": "Get stock information about a product.",
     "parameters": {"type": "object",
                    "properties": {"product_name": {"type": "string"},
                                   "serial_number": {"type": "string"}},
                    "additionalProperties": False, "required": ["serial_number"]}},
]
CALLS = [("GET_STOCK_INFORMATION", {"product_name": "vis", "serial_number": "V45645"}, "call_1"),
         ("GET_STOCK_INFORMATION", {"product_name": "boulons", "serial_number": "b456"}, "call_2")]
STOCK = {"V45645": "12 in stock", "b456": "3 in stock"}


def history_param(history: str | None) -> Any:
    return param("MESSAGE_HISTORY", history, "INOUT", "TEXT")


@pytest.mark.parametrize("fmt", FORMATS)
def test_tool_loop(client: WebClient, fake_openai: FakeOpenAI, fmt: Format) -> None:
    fake_openai.push(replies.chat_reply(tool_calls=CALLS),
                     replies.chat_reply("Vis: 12 in stock; boulons: 3 in stock."))

    first = post(client, "OPENAICHAT", param("MODEL", "gpt-4o-mini"),
                 param("SYSTEM_MESSAGE", "You answer stock questions."),
                 param("USER_MESSAGE", "Stock of vis V45645 and boulons b456?"),
                 param("TOOLS", json.dumps(TOOLS)), history_param(None),
                 out("SELECTED_TOOLS_PARAM"), out("SELECTED_TOOLS_COUNT", "NUMERIC"), fmt=fmt)
    assert first.status == 200, first.text
    selected, history = first["SELECTED_TOOLS_PARAM"], first["MESSAGE_HISTORY"]
    assert first["SELECTED_TOOLS_COUNT"] == 2

    results = []
    for index in range(int(first["SELECTED_TOOLS_COUNT"])):
        tool = post(client, "GETAGENTTOOL", param("TOOLS", selected), param("TOOL_INDEX", index),
                    out("TOOL_ID"), out("TOOL_NAME"), out("serial_number"), fmt=fmt)
        assert tool.status == 200, tool.text
        assert tool["TOOL_NAME"] == "GET_STOCK_INFORMATION"
        results.append((tool["TOOL_ID"], STOCK[tool["serial_number"]]))
    assert [call_id for call_id, _ in results] == ["call_1", "call_2"]

    again = post(client, "OPENAIADDMESSAGE", param("ROLE", "assistant"),
                 param("ASSISTANT_TOOL_CALL", selected), history_param(history), fmt=fmt)
    assert again.status == 200, again.text
    assert json.loads(again["MESSAGE_HISTORY"]) == json.loads(history), "no duplicate"
    history = again["MESSAGE_HISTORY"]

    for call_id, result in results:
        added = post(client, "OPENAIADDMESSAGE", param("ROLE", "tool"),
                     param("TOOL_CALL_ID", call_id), param("CONTENT", result),
                     history_param(history), fmt=fmt)
        assert added.status == 200, added.text
        history = added["MESSAGE_HISTORY"]

    final = post(client, "OPENAICHAT", param("MODEL", "gpt-4o-mini"), history_param(history),
                 out("RESULT_CONTENT"), fmt=fmt)
    assert final.status == 200, final.text
    assert final["RESULT_CONTENT"] == "Vis: 12 in stock; boulons: 3 in stock."
    assert fake_openai.invalid == []

    first_sent, last_sent = (r.json["messages"] for r in fake_openai.requests_for("chat"))
    assert first_sent == [
        {"role": "system", "content": "You answer stock questions."},
        {"role": "user", "content": "Stock of vis V45645 and boulons b456?"},
    ]
    assistant = {"role": "assistant", "content": None, "tool_calls": [
        {"id": call_id, "type": "function",
         "function": {"name": name, "arguments": json.dumps(arguments)}}
        for name, arguments, call_id in CALLS]}
    tool_results = [{"role": "tool", "tool_call_id": "call_1", "content": "12 in stock"},
                    {"role": "tool", "tool_call_id": "call_2", "content": "3 in stock"}]
    # The loopback URL is a "compatible" provider: its null assistant content is sent as "".
    assert last_sent == [*first_sent, {**assistant, "content": ""}, *tool_results]
    conversation = json.loads(final["MESSAGE_HISTORY"])
    assert conversation[:-1] == [*first_sent, assistant, *tool_results]
    assert conversation[-1] == {"role": "assistant",
                                "content": "Vis: 12 in stock; boulons: 3 in stock."}


def test_a_missing_tool_result_is_caught_before_openai(client: WebClient,
                                                       fake_openai: FakeOpenAI) -> None:
    """Adding the next user message while a call is unanswered fails here, not upstream."""
    fake_openai.push(replies.chat_reply(tool_calls=CALLS))
    first = post(client, "OPENAICHAT", param("MODEL", "gpt-4o-mini"),
                 param("USER_MESSAGE", "Stock?"), param("TOOLS", json.dumps(TOOLS)),
                 history_param(None))
    answered = post(client, "OPENAIADDMESSAGE", param("ROLE", "tool"),
                    param("TOOL_CALL_ID", "call_1"), param("CONTENT", "12"),
                    history_param(first["MESSAGE_HISTORY"]))
    reply = post(client, "OPENAIADDMESSAGE", param("ROLE", "user"), param("CONTENT", "And?"),
                 history_param(answered["MESSAGE_HISTORY"]))
    assert reply.status == 400
    assert "call_2" in reply.text and "not answered yet" in reply.text
    assert len(fake_openai.requests) == 1


# --- the same loop on each provider, and across a provider change ------------------------

LOOP_KEYS = {"anthropic": "sk-ant-loop-SECRET-0123456789", "mistral": "mistral-loop-SECRET-0123",
             "gemini": "gemini-loop-SECRET-0123"}
LOOP_IDS = {"openai": ["call_1", "call_2"], "gemini": ["call_1", "call_2"],
            "mistral": ["a1B2c3D4e", "f5G6h7J8k"], "anthropic": ["toolu_01A", "toolu_01B"]}


def _loop_client(request: pytest.FixtureRequest, make_client: Any) -> tuple[WebClient, dict[
        str, Any]]:
    fakes = {"openai": request.getfixturevalue("fake_openai"),
             "anthropic": request.getfixturevalue("fake_anthropic"),
             "mistral": request.getfixturevalue("fake_mistral"),
             "gemini": request.getfixturevalue("fake_gemini")}
    settings = {"AnthropicApiKey": LOOP_KEYS["anthropic"],
                "AnthropicChatApiUrl": fakes["anthropic"].messages_url,
                "MistralApiKey": LOOP_KEYS["mistral"],
                "MistralChatApiUrl": fakes["mistral"].chat_url,
                "GeminiApiKey": LOOP_KEYS["gemini"], "GeminiChatApiUrl": fakes["gemini"].chat_url}
    return make_client(**settings), fakes


def _push_tools(name: str, fake: Any) -> None:
    calls = [(tool, arguments, call_id) for (tool, arguments, _), call_id
             in zip(CALLS, LOOP_IDS[name], strict=True)]
    if name == "anthropic":
        fake.push(areplies.tool_use_reply(*calls))
    else:
        fake.push(replies.chat_reply(tool_calls=calls))


def _push_text(name: str, fake: Any, text: str) -> None:
    fake.push(areplies.text_reply(text) if name == "anthropic" else replies.chat_reply(text))


@pytest.mark.parametrize(("first", "second", "fmt"), [
    ("anthropic", "anthropic", Format.DATASET), ("anthropic", "anthropic", Format.JSON),
    ("mistral", "mistral", Format.DATASET), ("gemini", "gemini", Format.JSON),
    ("openai", "anthropic", Format.DATASET), ("anthropic", "openai", Format.JSON),
    ("anthropic", "mistral", Format.DATASET), ("mistral", "anthropic", Format.JSON),
    ("openai", "mistral", Format.JSON), ("gemini", "anthropic", Format.DATASET),
])
def test_tool_loop_on_each_provider_and_across_a_change(
    request: pytest.FixtureRequest, make_client: Any, first: str, second: str, fmt: Format
) -> None:
    client, fakes = _loop_client(request, make_client)
    _push_tools(first, fakes[first])
    _push_text(second, fakes[second], "Vis: 12 in stock; boulons: 3 in stock.")
    ids = LOOP_IDS[first]

    opened = post(client, "OPENAICHAT", param("MODEL", "model-x"), param("PROVIDER", first),
                  param("SYSTEM_MESSAGE", "You answer stock questions."),
                  param("USER_MESSAGE", "Stock of vis V45645 and boulons b456?"),
                  param("TOOLS", json.dumps(TOOLS)), history_param(None),
                  out("SELECTED_TOOLS_PARAM"), out("SELECTED_TOOLS_COUNT", "NUMERIC"), fmt=fmt)
    assert opened.status == 200, opened.text
    selected, history = opened["SELECTED_TOOLS_PARAM"], opened["MESSAGE_HISTORY"]
    assert [t["id"] for t in json.loads(selected)] == ids  # as the provider produced them
    for index, call_id in enumerate(ids):
        tool = post(client, "GETAGENTTOOL", param("TOOLS", selected), param("TOOL_INDEX", index),
                    out("TOOL_ID"), out("serial_number"), fmt=fmt)
        assert tool.status == 200 and tool["TOOL_ID"] == call_id, tool.text
    again = post(client, "OPENAIADDMESSAGE", param("ROLE", "assistant"),
                 param("ASSISTANT_TOOL_CALL", selected), history_param(history), fmt=fmt)
    assert json.loads(again["MESSAGE_HISTORY"]) == json.loads(history), "no duplicate"
    for call_id, result in zip(ids, ("12 in stock", "3 in stock"), strict=True):
        added = post(client, "OPENAIADDMESSAGE", param("ROLE", "tool"),
                     param("TOOL_CALL_ID", call_id), param("CONTENT", result),
                     history_param(history), fmt=fmt)
        assert added.status == 200, added.text
        history = added["MESSAGE_HISTORY"]
    final = post(client, "OPENAICHAT", param("MODEL", "model-x"), param("PROVIDER", second),
                 history_param(history), out("RESULT_CONTENT"), fmt=fmt)
    assert final.status == 200, final.text
    assert final["RESULT_CONTENT"] == "Vis: 12 in stock; boulons: 3 in stock."

    conversation = json.loads(final["MESSAGE_HISTORY"])  # OpenAI's shape, the ids as received
    assert [m["role"] for m in conversation] == ["system", "user", "assistant", "tool", "tool",
                                                 "assistant"]
    assert [c["id"] for c in conversation[2]["tool_calls"]] == ids
    assert [m["tool_call_id"] for m in conversation[3:5]] == ids
    sent = fakes[second].requests[-1].json
    if second == "anthropic":
        assert sent["system"] == "You answer stock questions."
        assistant, results = sent["messages"][1], sent["messages"][2]
        assert [b["id"] for b in assistant["content"] if b["type"] == "tool_use"] == ids
        assert [(b["type"], b["tool_use_id"], b["content"]) for b in results["content"]] == [
            ("tool_result", ids[0], "12 in stock"), ("tool_result", ids[1], "3 in stock")]
    elif second == "mistral":
        sent_ids = [c["id"] for c in sent["messages"][2]["tool_calls"]]
        assert all(len(i) == 9 and i.isalnum() for i in sent_ids)
        assert sent_ids == ids if first == "mistral" else sent_ids != ids
        assert [m["tool_call_id"] for m in sent["messages"][3:5]] == sent_ids
    else:
        assert [c["id"] for c in sent["messages"][2]["tool_calls"]] == ids

"""OPENAICHAT end to end: WorkflowGen contexts -> Flask app -> loopback fake OpenAI -> reply."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from werkzeug.test import Client as WebClient

from tests.fakes import replies
from tests.fakes.server import FakeOpenAI
from tests.helpers import FORMATS, SECRET_KEY, out, param, post
from workflowapp.context.model import Format

DOC_TOOLS = [
    {"name": "GET_STOCK_INFORMATION", "description": "Get stock information about a product...",
     "parameters": {"type": "object",
                    "properties": {"product_name": {"type": "string"},
                                   "serial_number": {"type": "string"}},
                    "additionalProperties": False, "required": ["serial_number"]}},
    {"name": "PURCHASE_ORDER", "description": "Make a purchase order for a product.",
     "parameters": {"type": "object",
                    "properties": {"product_name": {"type": "string"},
                                   "serial_number": {"type": "string"},
                                   "quantity": {"type": "number"}},
                    "additionalProperties": False, "required": ["serial_number", "quantity"]}},
]
DOC_SELECTED: list[dict[str, Any]] = [
    {"name": "GET_STOCK_INFORMATION", "id": "call_Vuc2Ga8jP7vUksxG9C0fwpY8",
     "parameters": {"product_name": "vis", "serial_number": "V45645"}},
    {"name": "GET_STOCK_INFORMATION", "id": "call_nq3SCVUk0FjAHCeqOZGNXpC8",
     "parameters": {"product_name": "boulons", "serial_number": "b456"}},
]
DOC_SCHEMA = {
    "name": "schema",
    "schema": {"$schema": "http://json-schema.org/draft-04/schema#", "type": "object",
               "properties": {"advice": {"type": "string"},
                              "next_action": {"type": "string",
                                              "enum": ["expert", "sales", "support", "logistics",
                                                       None]},
                              "confidence_level": {"type": "number"}},
               "required": ["advice", "next_action", "confidence_level"]},
}
STANDARD_OUTS = (
    out("RESULT"), out("RESULT_CONTENT"), out("RESULT_CONTENTS"), out("FINISH_REASON"),
    out("RESULT_TOTAL_TOKENS", "NUMERIC"), out("RESULT_COMPLETION_TOKENS", "NUMERIC"),
    out("RESULT_PROMPT_TOKENS", "NUMERIC"), out("APP_RESPONSE_STATUS"),
    out("APP_RESPONSE_CONTENT"), out("RESULT_RETRIES", "NUMERIC"),
    out("RESULT_DURATION_MS", "NUMERIC"), out("RESULT_REQUEST_ID"),
)


def chat(client: WebClient, *params: Any, fmt: Format = Format.DATASET) -> Any:
    return post(client, "OPENAICHAT", param("MODEL", "gpt-4o-mini"), *params, fmt=fmt)


def sent(fake: FakeOpenAI) -> dict[str, Any]:
    body = fake.requests_for("chat")[-1].json
    assert isinstance(body, dict)
    return body


@pytest.mark.parametrize("fmt", FORMATS)
def test_simple_call_fills_every_standard_output(
    client: WebClient, fake_openai: FakeOpenAI, fmt: Format
) -> None:
    fake_openai.push(replies.chat_reply("Bonjour !", usage=(11, 7, 18)))
    reply = chat(client, param("USER_MESSAGE", "Dis bonjour"), param("API_KEY", SECRET_KEY),
                 *STANDARD_OUTS, fmt=fmt)
    assert reply.status == 200, reply.text
    assert reply["RESULT_CONTENT"] == "Bonjour !"
    assert json.loads(reply["RESULT"])["choices"][0]["message"]["content"] == "Bonjour !"
    assert json.loads(reply["RESULT_CONTENTS"]) == ["Bonjour !"]
    assert reply["FINISH_REASON"] == "stop"
    assert (reply["RESULT_PROMPT_TOKENS"], reply["RESULT_COMPLETION_TOKENS"],
            reply["RESULT_TOTAL_TOKENS"]) == (11, 7, 18)
    assert reply["APP_RESPONSE_STATUS"] == "200"
    assert reply["APP_RESPONSE_CONTENT"] == reply["RESULT"]
    assert reply["RESULT_RETRIES"] == 0
    assert reply["RESULT_REQUEST_ID"].startswith("req_")
    assert reply["RESULT_DURATION_MS"] > 0
    assert reply["API_KEY"] is None, "the key is never written back"
    assert SECRET_KEY not in reply.text
    body = sent(fake_openai)
    assert body["messages"] == [{"role": "user", "content": "Dis bonjour"}]
    assert body["max_tokens"] == 256
    for absent in ("temperature", "top_p", "frequency_penalty", "presence_penalty", "n", "tools"):
        assert absent not in body
    fake_openai.assert_secret_only_in_auth(SECRET_KEY)


def test_message_order_across_the_three_configurations(
    client: WebClient, fake_openai: FakeOpenAI
) -> None:
    history = [{"role": "system", "content": "h0"}, {"role": "user", "content": "h1"},
               {"role": "assistant", "content": "h2"}]
    reply = chat(
        client,
        param("USER_MESSAGE", "u"), param("SYSTEM_MESSAGE", "s"),
        param("MESSAGE_ROLE2", "assistant"), param("MESSAGE_CONTENT2", "n2"),
        param("MESSAGE_ROLE10", "user"), param("MESSAGE_CONTENT10", "n10"),
        *[p for i in range(3, 10) for p in (param(f"MESSAGE_ROLE{i}", "user"),
                                            param(f"MESSAGE_CONTENT{i}", f"n{i}"))],
        param("MESSAGE_ROLE1", "USER"), param("MESSAGE_CONTENT1", "n1"),
        param("MESSAGE_JSON", json.dumps([{"role": "user", "content": "j"}])),
        param("MESSAGE_HISTORY", json.dumps(history), "INOUT"),
    )
    assert reply.status == 200, reply.text
    contents = [m["content"] for m in sent(fake_openai)["messages"]]
    assert contents == ["h0", "h1", "h2", "j", *[f"n{i}" for i in range(1, 11)], "s", "u"]
    returned = json.loads(reply["MESSAGE_HISTORY"])
    assert [m["content"] for m in returned] == [*contents, "Hello!"]
    assert returned[-1]["role"] == "assistant"


def test_empty_numbered_pair_is_skipped(client: WebClient, fake_openai: FakeOpenAI) -> None:
    reply = chat(client, param("MESSAGE_ROLE1", "user"), param("MESSAGE_CONTENT1", "a"),
                 param("MESSAGE_ROLE2", None), param("MESSAGE_CONTENT2", None))
    assert reply.status == 200, reply.text
    assert len(sent(fake_openai)["messages"]) == 1


@pytest.mark.parametrize(
    ("params", "named"),
    [
        ([], "USER_MESSAGE"),
        ([param("MESSAGE_ROLE1", "robot"), param("MESSAGE_CONTENT1", "x")], "MESSAGE_ROLE1"),
        ([param("MESSAGE_ROLE1", "user"), param("MESSAGE_CONTENT1", None)], "MESSAGE_CONTENT1"),
        ([param("MESSAGE_ROLE1", None), param("MESSAGE_CONTENT1", "x")], "MESSAGE_ROLE1"),
        ([param("MESSAGE_ROLE1", "user")], "MESSAGE_CONTENT1"),
        ([param("MESSAGE_ROLE1", "user"), param("MESSAGE_CONTENT1", "a"),
          param("MESSAGE_ROLE3", "user"), param("MESSAGE_CONTENT3", "c")], "MESSAGE_ROLE2"),
        ([param("MESSAGE_JSON", "[{\"role\": \"user\", ")], "MESSAGE_JSON"),
        ([param("MESSAGE_JSON", '[{"role": "wizard", "content": "x"}]')], "MESSAGE_JSON"),
        ([param("MESSAGE_JSON", '[{"role": "user"}]')], "MESSAGE_JSON"),
        ([param("MESSAGE_JSON", '"just text"')], "MESSAGE_JSON"),
        ([param("USER_MESSAGE", "x"), param("MESSAGE_HISTORY", "{not json", "INOUT")],
         "MESSAGE_HISTORY"),
        ([param("USER_MESSAGE", "x"), param("TEMPERATURE", 2.5)], "between 0 and 2"),
        ([param("USER_MESSAGE", "x"), param("TOP_P", -0.1)], "TOP_P"),
        ([param("USER_MESSAGE", "x"), param("FREQUENCY_PENALTY", 3)], "FREQUENCY_PENALTY"),
        ([param("USER_MESSAGE", "x"), param("PRESENCE_PENALTY", -2.5)], "PRESENCE_PENALTY"),
        ([param("USER_MESSAGE", "x"), param("MAX_TOKENS", 10.5)], "whole number"),
        ([param("USER_MESSAGE", "x"), param("MAX_TOKENS", 0)], "MAX_TOKENS"),
        ([param("USER_MESSAGE", "x"), param("NUMBER_OF_CHOICES", 200)], "NUMBER_OF_CHOICES"),
        ([param("USER_MESSAGE", "x"), param("TEMPERATURE", "warm", data_type="TEXT")],
         "TEMPERATURE"),
        ([param("USER_MESSAGE", "x"), param("TOOL_CHOICE_REQUIRED", "maybe")],
         "TOOL_CHOICE_REQUIRED"),
        ([param("USER_MESSAGE", "x"), param("TOOL_CHOICE_REQUIRED", "Y")], "TOOLS is empty"),
        ([param("USER_MESSAGE", "x"), param("TOOLS", "[{]")], "TOOLS"),
        ([param("USER_MESSAGE", "x"), param("TOOLS", '[{"description": "no name"}]')], "TOOLS"),
        ([param("USER_MESSAGE", "x"), param("TOOLS", '[{"type": "function", "name": "f"}]')],
         "TOOLS"),
        ([param("USER_MESSAGE", "x"), param("RESPONSE_FORMAT", "xml")], "RESPONSE_FORMAT"),
        ([param("USER_MESSAGE", "x"), param("RESPONSE_FORMAT", "json_object"),
          param("PROVIDER", "openai")], "JSON"),
        ([param("USER_MESSAGE", "x"), param("RESPONSE_FORMAT", "json_schema")],
         "RESPONSE_FORMAT_JSON_SCHEMA"),
        ([param("USER_MESSAGE", "x"), param("RESPONSE_FORMAT", "json_schema"),
          param("RESPONSE_FORMAT_JSON_SCHEMA", '{"name": "bad name!", "schema": {}}')],
         "RESPONSE_FORMAT_JSON_SCHEMA"),
        ([param("USER_MESSAGE", "x"), param("RESPONSE_FORMAT", "json_schema"),
          param("RESPONSE_FORMAT_JSON_SCHEMA", '{"type": "nonsense"}')],
         "RESPONSE_FORMAT_JSON_SCHEMA"),
        ([param("USER_MESSAGE", "x"), param("PROVIDER", "bedrock")], "PROVIDER"),
        ([param("USER_MESSAGE", "x"), param("URL", "https://evil.example/v1/chat/completions")],
         "WorkflowAppAllowedHosts"),
    ],
)
def test_bad_inputs_are_400_naming_the_parameter_before_any_call(
    client: WebClient, fake_openai: FakeOpenAI, params: list[Any], named: str
) -> None:
    reply = chat(client, *params)
    assert reply.status == 400, reply.text
    assert named in reply.text
    assert fake_openai.requests == [], "nothing is sent upstream"


def test_ignore_error_turns_an_input_error_into_status_and_content(
    client: WebClient, fake_openai: FakeOpenAI
) -> None:
    reply = chat(client, param("USER_MESSAGE", "x"), param("TEMPERATURE", 5),
                 param("APP_RESPONSE_IGNORE_ERROR", "y"), *STANDARD_OUTS)
    assert reply.status == 200
    assert reply["APP_RESPONSE_STATUS"] == "invalid_parameter"
    assert "TEMPERATURE" in reply["APP_RESPONSE_CONTENT"]
    assert reply["RESULT_CONTENT"] is None


def test_missing_key_names_the_setting(
    make_client: Callable[..., WebClient], fake_openai: FakeOpenAI
) -> None:
    client = make_client(OpenAIApiKey="")
    reply = chat(client, param("USER_MESSAGE", "x"), param("PROVIDER", "openai"))
    assert reply.status == 400
    assert "OpenAIApiKey" in reply.text and "API_KEY" in reply.text


def test_compatible_server_without_a_key(
    make_client: Callable[..., WebClient], fake_openai: FakeOpenAI
) -> None:
    fake_openai.require_auth = False
    client = make_client(OpenAIApiKey="")
    reply = chat(client, param("USER_MESSAGE", "x"), param("PROVIDER", "compatible"))
    assert reply.status == 200, reply.text
    assert "authorization" not in fake_openai.last_request.headers


def test_sampling_parameters_sent_only_when_given(
    client: WebClient, fake_openai: FakeOpenAI
) -> None:
    reply = chat(client, param("USER_MESSAGE", "x"), param("TEMPERATURE", 0.2),
                 param("TOP_P", 0.9), param("FREQUENCY_PENALTY", -1),
                 param("PRESENCE_PENALTY", 1.5),
                 param("MAX_TOKENS", 100), param("NUMBER_OF_CHOICES", 1), param("TOP_P_OUT", None))
    assert reply.status == 200, reply.text
    body = sent(fake_openai)
    assert (body["temperature"], body["top_p"], body["frequency_penalty"],
            body["presence_penalty"], body["max_tokens"]) == (0.2, 0.9, -1, 1.5, 100)
    assert "n" not in body


def test_openai_provider_sends_max_completion_tokens(
    client: WebClient, fake_openai: FakeOpenAI
) -> None:
    reply = chat(client, param("USER_MESSAGE", "x"), param("PROVIDER", "OpenAI"))
    assert reply.status == 200, reply.text
    body = sent(fake_openai)
    assert body["max_completion_tokens"] == 256 and "max_tokens" not in body


def test_url_parameter_and_setting(
    make_client: Callable[..., WebClient], fake_openai: FakeOpenAI
) -> None:
    client = make_client(OpenAIChatApiUrl="")
    reply = chat(client, param("USER_MESSAGE", "x"), param("URL", fake_openai.chat_url))
    assert reply.status == 200, reply.text
    assert fake_openai.requests_for("chat")


def test_several_choices(client: WebClient, fake_openai: FakeOpenAI) -> None:
    fake_openai.push(replies.chat_reply(choices=["one", "two", "three"]))
    reply = chat(client, param("USER_MESSAGE", "x"), param("NUMBER_OF_CHOICES", 3),
                 param("MESSAGE_HISTORY", None, "INOUT"), *STANDARD_OUTS)
    assert reply.status == 200, reply.text
    assert sent(fake_openai)["n"] == 3
    assert json.loads(reply["RESULT_CONTENTS"]) == ["one", "two", "three"]
    assert reply["RESULT_CONTENT"] == "one"
    history = json.loads(reply["MESSAGE_HISTORY"])
    # only the first choice continues the conversation (llama.cpp finding, issue 10)
    assert [m["content"] for m in history] == ["x", "one"]


@pytest.mark.parametrize("fmt", FORMATS)
def test_documented_tools_example(
    client: WebClient, fake_openai: FakeOpenAI, fmt: Format
) -> None:
    fake_openai.push(replies.chat_reply(tool_calls=[
        ("GET_STOCK_INFORMATION", DOC_SELECTED[0]["parameters"], DOC_SELECTED[0]["id"]),
        ("GET_STOCK_INFORMATION", DOC_SELECTED[1]["parameters"], DOC_SELECTED[1]["id"]),
    ]))
    reply = chat(client, param("USER_MESSAGE", "stock of vis V45645 and boulons b456?"),
                 param("TOOLS", json.dumps(DOC_TOOLS)), param("MESSAGE_HISTORY", None, "INOUT"),
                 out("SELECTED_TOOLS"), out("SELECTED_TOOLS_PARAM"), out("SELECTED_TOOLS_PARAMS"),
                 out("SELECTED_TOOLS_COUNT", "NUMERIC"), *STANDARD_OUTS, fmt=fmt)
    assert reply.status == 200, reply.text
    assert reply["SELECTED_TOOLS"] == "GET_STOCK_INFORMATION,GET_STOCK_INFORMATION"
    assert json.loads(reply["SELECTED_TOOLS_PARAM"]) == DOC_SELECTED
    assert json.loads(reply["SELECTED_TOOLS_PARAMS"]) == DOC_SELECTED
    assert reply["SELECTED_TOOLS_COUNT"] == 2
    assert reply["FINISH_REASON"] == "tool_calls"
    body = sent(fake_openai)
    assert body["tools"][0] == {"type": "function", "function": DOC_TOOLS[0]}
    assert body["parallel_tool_calls"] is True and "tool_choice" not in body
    last = json.loads(reply["MESSAGE_HISTORY"])[-1]
    assert last["role"] == "assistant" and len(last["tool_calls"]) == 2


def test_native_tools_required_and_not_parallel(
    client: WebClient, fake_openai: FakeOpenAI
) -> None:
    native = [{"type": "function", "function": DOC_TOOLS[1]}]
    reply = chat(client, param("USER_MESSAGE", "order"), param("TOOLS", json.dumps(native)),
                 param("TOOL_CHOICE_REQUIRED", "Y"), param("PARALLEL_TOOL", "N"))
    assert reply.status == 200, reply.text
    body = sent(fake_openai)
    assert body["tools"] == native
    assert body["tool_choice"] == "required" and body["parallel_tool_calls"] is False


def test_invalid_tool_arguments_are_reported(client: WebClient, fake_openai: FakeOpenAI) -> None:
    fake_openai.push(replies.chat_reply(tool_calls=[("PURCHASE_ORDER", '{"quantity": ')]))
    reply = chat(client, param("USER_MESSAGE", "x"), param("TOOLS", json.dumps(DOC_TOOLS)))
    assert reply.status == 502
    assert "PURCHASE_ORDER" in reply.text and "not valid JSON" in reply.text


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("wrapped", [True, False])
def test_documented_json_schema_use_case(
    client: WebClient, fake_openai: FakeOpenAI, fmt: Format, wrapped: bool
) -> None:
    answer = {"advice": "Call the expert", "next_action": "expert", "confidence_level": 0.87}
    fake_openai.push(replies.chat_reply(json.dumps(answer)))
    schema = DOC_SCHEMA if wrapped else DOC_SCHEMA["schema"]
    reply = chat(client, param("USER_MESSAGE", "Advise me"),
                 param("RESPONSE_FORMAT", "JSON_SCHEMA"),
                 param("RESPONSE_FORMAT_JSON_SCHEMA", json.dumps(schema)),
                 out("advice"), out("next_action"), out("confidence_level", "NUMERIC"), fmt=fmt)
    assert reply.status == 200, reply.text
    assert (reply["advice"], reply["next_action"], reply["confidence_level"]) == (
        "Call the expert", "expert", 0.87)
    body = sent(fake_openai)
    assert body["response_format"] == {"type": "json_schema", "json_schema": DOC_SCHEMA}


def test_json_object_with_fences_and_typed_properties(
    client: WebClient, fake_openai: FakeOpenAI
) -> None:
    answer = {"when": "2024-03-15T09:30:00-05:00", "tags": ["a", "b"], "count": "12",
              "detail": {"k": 1}}
    fake_openai.push(replies.chat_reply("```json\n" + json.dumps(answer) + "\n```"))
    reply = chat(client, param("USER_MESSAGE", "Answer in json"), param("RESPONSE_FORMAT", "Json"),
                 out("when", "DATETIME"), out("tags"), out("count", "NUMERIC"), out("detail"),
                 out("absent"))
    assert reply.status == 200, reply.text
    assert reply["when"].isoformat() == "2024-03-15T14:30:00+00:00"
    assert json.loads(reply["tags"]) == ["a", "b"]
    assert reply["count"] == 12
    assert json.loads(reply["detail"]) == {"k": 1}
    assert reply["absent"] is None
    assert sent(fake_openai)["response_format"] == {"type": "json_object"}


@pytest.mark.parametrize(
    ("scripted", "code", "fragment"),
    [
        (replies.chat_reply('{"advice": "x", "next_action": "nowhere", "confidence_level": 1}'),
         "schema_mismatch", "next_action"),
        (replies.chat_reply('{"advice": "x", "next_action": "sales"}'), "schema_mismatch",
         "confidence_level"),
        (replies.chat_reply("not json at all"), "invalid_response", "not valid JSON"),
        (replies.chat_reply(refusal="I can't help with that."), "refusal", "refused"),
        (replies.chat_reply('{"advice": "x", "next', finish_reason="length"), "length",
         "MAX_TOKENS"),
        (replies.chat_reply("", finish_reason="content_filter"), "content_filter", "filter"),
    ],
)
def test_unusable_json_answers_are_their_own_errors(
    client: WebClient, fake_openai: FakeOpenAI, scripted: Any, code: str, fragment: str
) -> None:
    params = (param("USER_MESSAGE", "Advise"), param("RESPONSE_FORMAT", "json_schema"),
              param("RESPONSE_FORMAT_JSON_SCHEMA", json.dumps(DOC_SCHEMA)), out("advice"),
              out("APP_RESPONSE_STATUS"), out("APP_RESPONSE_CONTENT"))
    fake_openai.push(scripted)
    failed = chat(client, *params)
    assert failed.status == 502
    assert fragment in failed.text
    fake_openai.push(scripted)
    ignored = chat(client, *params, param("APP_RESPONSE_IGNORE_ERROR", "Y"))
    assert ignored.status == 200
    assert ignored["APP_RESPONSE_STATUS"] == code
    assert ignored["advice"] is None, "no half-filled results"


def test_property_that_cannot_take_the_declared_type(
    client: WebClient, fake_openai: FakeOpenAI
) -> None:
    fake_openai.push(replies.chat_reply('{"confidence_level": "high"}'))
    reply = chat(client, param("USER_MESSAGE", "json please"),
                 param("RESPONSE_FORMAT", "json_object"), out("confidence_level", "NUMERIC"))
    assert reply.status == 502
    assert "confidence_level" in reply.text


def test_upstream_error_status_and_body_are_preserved(
    client: WebClient, fake_openai: FakeOpenAI
) -> None:
    error = replies.openai_error(401, "Incorrect API key provided: sk-te***def.",
                                 code="invalid_api_key")
    fake_openai.push(error)
    failed = chat(client, param("USER_MESSAGE", "x"))
    assert failed.status == 502 and "401" in failed.text
    fake_openai.push(error)
    ignored = chat(client, param("USER_MESSAGE", "x"), param("APP_RESPONSE_IGNORE_ERROR", "Y"),
                   *STANDARD_OUTS)
    assert ignored.status == 200
    assert ignored["APP_RESPONSE_STATUS"] == "401"
    assert json.loads(ignored["APP_RESPONSE_CONTENT"])["error"]["code"] == "invalid_api_key"
    assert ignored["RESULT"] is None


def test_refusal_on_a_text_answer_is_the_content(
    client: WebClient, fake_openai: FakeOpenAI
) -> None:
    fake_openai.push(replies.chat_reply(refusal="I cannot do that."))
    reply = chat(client, param("USER_MESSAGE", "x"), out("RESULT_CONTENT"))
    assert reply.status == 200
    assert reply["RESULT_CONTENT"] == "I cannot do that."


def test_only_declared_outputs_are_written(client: WebClient, fake_openai: FakeOpenAI) -> None:
    reply = chat(client, param("USER_MESSAGE", "x"), fmt=Format.JSON)
    assert reply.status == 200
    assert set(reply.values) == {"MODEL", "USER_MESSAGE"}


@pytest.mark.parametrize("fmt", FORMATS)
def test_control_characters_in_an_answer(
    client: WebClient, fake_openai: FakeOpenAI, fmt: Format
) -> None:
    fake_openai.push(replies.chat_reply("bell\x07 and tab\t"))
    reply = chat(client, param("USER_MESSAGE", "x"), out("RESULT_CONTENT"), fmt=fmt)
    assert reply.status == 200, reply.text
    expected = "bell\x07 and tab\t" if fmt is Format.JSON else "bell\ufffd and tab\t"
    assert reply["RESULT_CONTENT"] == expected


def test_huge_and_exact_integers_in_a_json_answer(
    client: WebClient, fake_openai: FakeOpenAI
) -> None:
    fake_openai.push(replies.chat_reply('{"id": 12345678901234567890, "n": 1' + "0" * 400 + "}"))
    params = (param("USER_MESSAGE", "json"), param("RESPONSE_FORMAT", "json_object"), out("id"))
    exact = chat(client, *params)
    assert exact.status == 200, exact.text
    assert exact["id"] == "12345678901234567890"
    fake_openai.push(replies.chat_reply('{"n": 1' + "0" * 400 + "}"))
    huge = chat(client, *params, out("n", "NUMERIC"))
    assert huge.status == 502 and "OUT parameter n is NUMERIC" in huge.text

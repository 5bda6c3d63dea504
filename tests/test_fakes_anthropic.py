"""The loopback Anthropic fake: valid requests pass, each rule refuses what it should, every
answer is a valid SDK ``Message``, errors have Anthropic's shape, the CLI stops cleanly."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import anthropic
import pytest
import requests
from anthropic.types import Message
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.fakes import anthropic_spec
from tests.fakes.anthropic_fake import (
    API_VERSION,
    FakeAnthropic,
    RecordedRequest,
    Reply,
    anthropic_error,
    anthropic_rate_limit_reply,
    api_error_reply,
    check_message,
    delay_reply,
    drop_reply,
    max_tokens_reply,
    message_reply,
    overloaded_reply,
    raw_reply,
    refusal_reply,
    spend_limit_reply,
    structured_reply,
    text_reply,
    tool_use_block,
    tool_use_reply,
)
from tests.fakes.replies import chat_reply
from tests.fakes.spec import InvalidReply, Problem

REPO = Path(__file__).resolve().parents[1]
KEY = "sk-ant-test-0123456789abcdef"
HEADERS = {"x-api-key": KEY, "anthropic-version": API_VERSION}
MODEL = "claude-sonnet-4-5"
USER = [{"role": "user", "content": "Hi"}]
TOOL = {"name": "get_weather", "description": "Weather of a city",
        "input_schema": {"type": "object", "properties": {"city": {"type": "string"}},
                         "required": ["city"]}}


def body(**changes: Any) -> dict[str, Any]:
    return {"model": MODEL, "max_tokens": 256, "messages": USER, **changes}


def post(fake: FakeAnthropic, data: Any = None, headers: dict[str, str] | None = None,
         timeout: float = 5) -> requests.Response:
    return requests.post(fake.messages_url, json=body() if data is None else data,
                         headers=HEADERS if headers is None else headers, timeout=timeout)


def message(response: requests.Response) -> Message:
    assert response.status_code == 200, response.text
    return Message.model_validate(response.json())


def assert_error(response: requests.Response, status: int, type_: str) -> str:
    """The error message, after checking Anthropic's error shape and the request id."""
    assert response.status_code == status, response.text
    data = response.json()
    assert set(data) == {"type", "error", "request_id"} and data["type"] == "error"
    assert data["error"]["type"] == type_
    assert data["request_id"] == response.headers["request-id"]
    return str(data["error"]["message"])


def sdk(fake: FakeAnthropic) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=fake.base_url, api_key=KEY, max_retries=0, timeout=5)


# -- answers ---------------------------------------------------------------------------------


def test_default_answer_is_a_valid_message_echoing_the_model(fake_anthropic):
    response = post(fake_anthropic, body(model="claude-opus-4-1"))
    answer = message(response)
    assert (answer.model, answer.stop_reason, answer.content[0].type) == (
        "claude-opus-4-1", "end_turn", "text")
    assert answer.content[0].text == "Hello!"  # type: ignore[union-attr]
    assert (answer.usage.input_tokens, answer.usage.output_tokens) == (10, 5)
    assert re.fullmatch(r"req_01\w{22}", response.headers["request-id"])
    recorded = fake_anthropic.last_request
    assert recorded.request_id == response.headers["request-id"]
    assert (recorded.auth, recorded.api_key, recorded.endpoint) == ("x-api-key", KEY, "messages")
    fake_anthropic.assert_secret_only_in_auth(KEY)


def test_the_official_sdk_talks_to_the_fake(fake_anthropic):
    fake_anthropic.push(tool_use_reply(("get_weather", {"city": "Paris"}, "toolu_1"),
                                       text="Let me look."),
                        text_reply("Sunny, 21 °C", usage=(120, 8, 100, 20)))
    client = sdk(fake_anthropic)
    first = client.messages.create(model=MODEL, max_tokens=256, tools=[TOOL],  # type: ignore[list-item]
                                   system="Be brief.", messages=[{"role": "user",
                                                                  "content": "Weather?"}])
    assert first.stop_reason == "tool_use" and first._request_id
    call = first.content[1]
    assert call.type == "tool_use" and call.input == {"city": "Paris"}
    second = client.messages.create(model=MODEL, max_tokens=256, tools=[TOOL],  # type: ignore[list-item]
                                    messages=[
                                        {"role": "user", "content": "Weather?"},
                                        {"role": "assistant", "content": first.content},
                                        {"role": "user", "content": [{
                                            "type": "tool_result", "tool_use_id": "toolu_1",
                                            "content": "sunny"}]}])
    assert second.content[0].text == "Sunny, 21 °C"  # type: ignore[union-attr]
    usage = second.usage
    assert (usage.cache_creation_input_tokens, usage.cache_read_input_tokens) == (100, 20)
    assert fake_anthropic.last_request.headers["anthropic-version"] == API_VERSION
    assert fake_anthropic.invalid == []


def test_scripted_answers_in_order(fake_anthropic):
    fake_anthropic.push(
        tool_use_reply(("a", {"x": 1}), tool_use_block("b", {"y": 2}, "toolu_b")),
        refusal_reply("I can't", category="cyber"),
        max_tokens_reply(),
        text_reply("done", stop_sequence="END"),
        message_reply("fixed", model="claude-haiku-4-5", headers={"x-extra": "1"}),
    )
    calls = message(post(fake_anthropic))
    assert calls.stop_reason == "tool_use"
    assert [(b.type, b.name) for b in calls.content] == [("tool_use", "a"), ("tool_use", "b")]  # type: ignore[union-attr]
    assert calls.content[1].id == "toolu_b"  # type: ignore[union-attr]
    assert re.fullmatch(r"toolu_01\w{22}", calls.content[0].id)  # type: ignore[union-attr]
    refusal = message(post(fake_anthropic))
    assert refusal.stop_reason == "refusal" and refusal.stop_details is not None
    assert refusal.stop_details.category == "cyber"
    assert message(post(fake_anthropic)).stop_reason == "max_tokens"
    stopped = message(post(fake_anthropic))
    assert (stopped.stop_reason, stopped.stop_sequence) == ("stop_sequence", "END")
    fixed = post(fake_anthropic)
    assert message(fixed).model == "claude-haiku-4-5" and fixed.headers["x-extra"] == "1"
    assert fake_anthropic.pending == 0


def test_structured_reply_follows_the_request(fake_anthropic):
    data = {"name": "Ada", "age": 36}
    schema = {"type": "object", "properties": {"name": {"type": "string"}},
              "additionalProperties": False}
    fake_anthropic.push(structured_reply(data), structured_reply(data))
    native = message(post(fake_anthropic, body(output_config={"format": {
        "type": "json_schema", "schema": schema}})))
    assert native.stop_reason == "end_turn"
    assert json.loads(native.content[0].text) == data  # type: ignore[union-attr]
    forced = message(post(fake_anthropic, body(
        tools=[{"name": "answer", "input_schema": {"type": "object"}}],
        tool_choice={"type": "tool", "name": "answer"})))
    block = forced.content[0]
    assert (forced.stop_reason, block.type, block.name, block.input) == (  # type: ignore[union-attr]
        "tool_use", "tool_use", "answer", data)


def test_callable_reply_sees_the_request(fake_anthropic):
    fake_anthropic.push(lambda req: text_reply(f"max {req.json['max_tokens']}"), lambda req: None)
    assert message(post(fake_anthropic)).content[0].text == "max 256"  # type: ignore[union-attr]
    assert message(post(fake_anthropic)).content[0].text == "Hello!"  # type: ignore[union-attr]


# -- request validation ----------------------------------------------------------------------

CALL = {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Oslo"}}
RESULT = {"type": "tool_result", "tool_use_id": "toolu_1", "content": "cold"}


def user(content: Any) -> dict[str, Any]:
    return {"role": "user", "content": content}


def assistant(content: Any) -> dict[str, Any]:
    return {"role": "assistant", "content": content}


VALID = {
    "tool_round_trip": body(tools=[TOOL], messages=[user("Weather?"), assistant(
        [{"type": "text", "text": "Checking."}, CALL]), user([RESULT, {"type": "text",
                                                                         "text": "thanks"}])]),
    "merged_user_turns": body(messages=[user("a"), user("b"), assistant("c"), user("d")]),
    "result_then_user_merged": body(tools=[TOOL], messages=[
        user("q"), assistant([CALL]), user([RESULT]), user("and now?")]),
    "system_blocks_cache": body(system=[{"type": "text", "text": "Be brief.",
                                         "cache_control": {"type": "ephemeral"}}]),
    "image_and_pdf": body(messages=[user([
        {"type": "image", "source": {"type": "base64", "media_type": "image/png",
                                     "data": "iVBORw0KGgo="}},
        {"type": "document", "source": {"type": "base64", "media_type": "application/pdf",
                                        "data": "JVBERi0="}, "title": "a.pdf"},
        {"type": "text", "text": "Describe"}])]),
    "sampling_and_stops": body(temperature=0.2, top_k=5, stop_sequences=["END"],
                               metadata={"user_id": "u1"}),
    "tool_choice_forms": body(tools=[TOOL], tool_choice={"type": "any",
                                                        "disable_parallel_tool_use": True}),
    "effort_and_format": body(output_config={"effort": "low", "format": {
        "type": "json_schema", "schema": {"type": "object"}}}),
    "prefill": body(messages=[user("Say hi"), assistant("Hi")]),
    "bearer_auth": body(),
}


@pytest.mark.parametrize("name", VALID)
def test_valid_requests_pass(fake_anthropic, name):
    headers = {"Authorization": f"Bearer {KEY}", "anthropic-version": API_VERSION} if (
        name == "bearer_auth") else None
    message(post(fake_anthropic, VALID[name], headers))
    assert fake_anthropic.invalid == []


BAD = {  # body, words of the message
    "n": (body(n=2), "n: Extra inputs are not permitted"),
    "response_format": (body(response_format={"type": "json_object"}),
                        "response_format: Extra inputs are not permitted"),
    "max_tokens_missing": ({"model": MODEL, "messages": USER}, "max_tokens: Field required"),
    "stream": (body(stream=True), "stream: Input should be False"),
    "nested_extra_key": (body(messages=[user([{"type": "text", "text": "x", "name": "n"}])]),
                         "messages.0.content.0.name: Extra inputs are not permitted"),
    "openai_tool": (body(tools=[{"type": "function", "function": {"name": "f"}}]),
                    "tools.0: Input tag 'function' found using 'type'"),
    "openai_image": (body(messages=[user([{"type": "image_url", "image_url": {
        "url": "data:image/png;base64,AAAA"}}])]), "Input tag 'image_url'"),
    "image_media_type": (body(messages=[user([{"type": "image", "source": {
        "type": "base64", "media_type": "image/bmp", "data": "AA"}}])]),
        "messages.0.content.0.source.media_type: Input should be"),
    "tool_choice_required": (body(tools=[TOOL], tool_choice={"type": "required"}),
                             "tool_choice: Input tag 'required'"),
    "system_role": (body(messages=[{"role": "system", "content": "x"}, *USER]),
                    "messages.0.role: Input should be 'user' or 'assistant'"),
    "first_assistant": (body(messages=[assistant("x"), user("y")]),
                        'first message must use the "user" role'),
    "empty_messages": (body(messages=[]), "at least one message is required"),
    "empty_text": (body(messages=[user("")]), "text content blocks must be non-empty"),
    "blank_text": (body(messages=[user([{"type": "text", "text": " \n"}])]),
                   "must contain non-whitespace text"),
    "empty_content_list": (body(messages=[user([]), assistant("x"), user("y")]),
                           "messages.0: all messages must have non-empty content"),
    "unanswered_tool_use": (body(tools=[TOOL], messages=[user("q"), assistant([CALL]),
                                                         user("go on")]),
                            "messages.1: `tool_use` ids were found without `tool_result` "
                            "blocks immediately after: toolu_1"),
    "tool_use_last": (body(tools=[TOOL], messages=[user("q"), assistant([CALL])]),
                      "without `tool_result` blocks immediately after: toolu_1"),
    "orphan_tool_result": (body(messages=[user("q"), assistant("a"), user([RESULT])]),
                           "messages.2.content.0: unexpected `tool_use_id` found in "
                           "`tool_result` blocks: toolu_1"),
    "result_after_text": (body(tools=[TOOL], messages=[user("q"), assistant([CALL]), user([
        {"type": "text", "text": "here"}, RESULT])]), "`tool_result` blocks must come first"),
    "merging_puts_text_first": (body(tools=[TOOL], messages=[
        user("q"), assistant([CALL]), user("note"), user([RESULT])]),
        "consecutive user messages 2-3 are merged into one turn"),
    "tool_use_from_user": (body(messages=[user([CALL])]),
                           "`tool_use` blocks can only be in `assistant` messages"),
    "duplicate_tool_use_id": (body(tools=[TOOL], messages=[
        user("q"), assistant([CALL]), user([RESULT]), assistant([CALL]), user([RESULT])]),
        "`tool_use` ids must be unique"),
    "temperature_and_top_p": (body(temperature=0.5, top_p=0.9),
                              "`temperature` and `top_p` cannot both be specified"),
    "temperature_range": (body(temperature=1.5), "temperature: range: 0..1"),
    "tool_name": (body(tools=[{**TOOL, "name": "get weather"}]),
                  "tools.0.custom.name: String should match pattern"),
    "tool_choice_without_tools": (body(tool_choice={"type": "auto"}),
                                  "tool_choice may only be specified while providing tools"),
    "forced_unknown_tool": (body(tools=[TOOL], tool_choice={"type": "tool", "name": "nope"}),
                            "Tool 'nope' not found"),
    "tool_result_name": (body(tools=[TOOL], messages=[user("q"), assistant([CALL]), user([
        {**RESULT, "name": "get_weather"}])]),
        "messages.2.content.0.name: Extra inputs are not permitted"),
    "image_over_5_mb": (body(messages=[user([{"type": "image", "source": {
        "type": "base64", "media_type": "image/png",
        "data": "A" * (anthropic_spec.MAX_IMAGE_BASE64 + 4)}}])]),
        "messages.0.content.0.image.source.base64: image exceeds 5 MB maximum: 5242884 bytes "
        "> 5242880 bytes"),
}


@pytest.mark.parametrize("name", BAD)
def test_bad_requests_are_refused_like_the_api(fake_anthropic, name):
    data, words = BAD[name]
    fake_anthropic.expect_invalid()
    text = assert_error(post(fake_anthropic, data), 400, "invalid_request_error")
    assert words in text
    assert fake_anthropic.invalid == [f"POST /v1/messages: {text}"]
    assert fake_anthropic.last_request.invalid == text
    assert fake_anthropic.teardown_problems() == []


def test_headers_are_checked(fake_anthropic):
    fake_anthropic.expect_invalid()
    no_version = post(fake_anthropic, headers={"x-api-key": KEY})
    assert "anthropic-version: header is required" in assert_error(
        no_version, 400, "invalid_request_error")
    future = post(fake_anthropic, headers={**HEADERS, "anthropic-version": "2026-10-21"})
    assert "invalid version" in assert_error(future, 400, "invalid_request_error")
    form = requests.post(fake_anthropic.messages_url, data="model=x", headers=HEADERS, timeout=5)
    assert "content-type" in assert_error(form, 400, "invalid_request_error")
    broken = requests.post(fake_anthropic.messages_url, data="{oops", timeout=5,
                           headers={**HEADERS, "content-type": "application/json"})
    assert "valid JSON" in assert_error(broken, 400, "invalid_request_error")
    no_key = post(fake_anthropic, headers={"anthropic-version": API_VERSION})
    assert assert_error(no_key, 401, "authentication_error") == "x-api-key header is required"
    assert len(fake_anthropic.invalid) == 5  # all five are client bugs


def test_a_wrong_key_is_a_scenario_not_a_client_bug(fake_anthropic):
    fake_anthropic.api_key = KEY
    wrong = post(fake_anthropic, headers={**HEADERS, "x-api-key": "sk-ant-wrong-000000"})
    assert assert_error(wrong, 401, "authentication_error") == "invalid x-api-key"
    assert "sk-ant-wrong" not in wrong.text
    message(post(fake_anthropic))
    fake_anthropic.require_auth = False
    message(post(fake_anthropic, headers={"anthropic-version": API_VERSION}))
    assert fake_anthropic.invalid == []
    fake_anthropic.reset()
    assert fake_anthropic.api_key is None and fake_anthropic.require_auth


def test_request_size_limit(fake_anthropic):
    fake_anthropic.max_request_bytes = 1000
    fake_anthropic.expect_invalid()
    big = post(fake_anthropic, body(messages=[user("x" * 1000)]))
    assert "maximum allowed number of bytes" in assert_error(big, 413, "request_too_large")
    assert fake_anthropic.invalid == [
        f"POST /v1/messages: body of {len(fake_anthropic.last_request.body)} bytes > 1000"]


def test_unknown_paths_are_404_and_invalid(fake_anthropic):
    fake_anthropic.expect_invalid()
    response = requests.post(f"{fake_anthropic.url}/v1/chat/completions", json=body(),
                             headers=HEADERS, timeout=5)
    assert assert_error(response, 404, "not_found_error") == "Not Found"
    get = requests.get(fake_anthropic.messages_url, headers=HEADERS, timeout=5)
    assert get.status_code == 404
    assert len(fake_anthropic.invalid) == 2


def test_unexpected_invalid_request_would_fail_the_test(fake_anthropic):
    assert post(fake_anthropic, body(n=2)).status_code == 400
    problems = fake_anthropic.teardown_problems()
    assert len(problems) == 1 and problems[0].startswith("invalid request: POST /v1/messages")
    fake_anthropic.reset()  # undo it here, or the fixture would fail this test


def test_validation_off_accepts_anything(fake_anthropic):
    fake_anthropic.validate = False
    message(post(fake_anthropic, {"n": 3}, headers={"x-api-key": KEY}))


# -- properties of the conversation rules ---------------------------------------------------

ROUND = st.tuples(st.integers(0, 3), st.booleans(), st.booleans(), st.randoms())
"""One tool round: tool_use count, leading assistant text, trailing user text, an order."""


def conversation(rounds: list[tuple[int, bool, bool, Any]]) -> list[dict[str, Any]]:
    """user, then per round an assistant turn and a user turn answering every tool_use (in a
    shuffled order), results first, then optional text."""
    messages: list[dict[str, Any]] = [user("start")]
    for number, (calls, lead, trail, order) in enumerate(rounds):
        ids = [f"toolu_{number}_{i}" for i in range(calls)]
        blocks = [{"type": "text", "text": "thinking"}] if lead or not ids else []
        messages.append(assistant(blocks + [{**CALL, "id": i} for i in ids]))
        results = [{**RESULT, "tool_use_id": i} for i in ids]
        order.shuffle(results)
        text = [{"type": "text", "text": "more"}] if trail or not results else []
        messages.append(user(results + text))
    return messages


def refused(messages: list[dict[str, Any]]) -> str:
    with pytest.raises(Problem) as caught:
        anthropic_spec.check_request(body(tools=[TOOL], messages=messages))
    return caught.value.message


@settings(max_examples=60, deadline=None)
@given(st.lists(ROUND, min_size=1, max_size=4), st.data())
def test_tool_round_trips_pass_and_each_break_is_refused(rounds, data):
    messages = conversation(rounds)
    anthropic_spec.check_request(body(tools=[TOOL], messages=messages))
    answered = [(i, j) for i, m in enumerate(messages) for j, b in enumerate(m["content"])
                if isinstance(b, dict) and b["type"] == "tool_result"]
    if not answered:
        return
    where, block = data.draw(st.sampled_from(answered))
    dropped = [dict(m) for m in messages]
    dropped[where] = user([b for k, b in enumerate(messages[where]["content"]) if k != block]
                          or [{"type": "text", "text": "nothing"}])
    assert "without `tool_result` blocks immediately after" in refused(dropped)
    renamed = [dict(m) for m in messages]
    renamed[where] = user([{**b, "tool_use_id": "toolu_other"} if k == block else b
                           for k, b in enumerate(messages[where]["content"])])
    assert "`tool_result`" in refused(renamed)  # unanswered or unexpected: both are true
    late = [dict(m) for m in messages]
    late[where] = user([{"type": "text", "text": "first"}, *messages[where]["content"]])
    assert "must come first" in refused(late)
    split = [*messages[:where], user([{"type": "text", "text": "between"}]), *messages[where:]]
    assert "merged into one turn" in refused(split)


JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False)
                    | st.text(max_size=5),
                    lambda inner: st.lists(inner, max_size=3)
                    | st.dictionaries(st.sampled_from(["type", "role", "content", "text", "id",
                                                       "tool_use_id", "input", "name", "x"]),
                                      inner, max_size=4), max_leaves=12)


@settings(max_examples=150, deadline=None)
@given(st.dictionaries(st.sampled_from(["model", "max_tokens", "messages", "tools", "system",
                                        "tool_choice", "temperature", "top_p", "stream"]),
                       JSON, max_size=6), st.booleans())
def test_any_body_is_accepted_or_refused_with_a_message(fields, base):
    data = {**body(), **fields} if base else fields
    try:
        anthropic_spec.check_request(data)
    except Problem as problem:
        assert problem.message and problem.status == 400


# -- faults ----------------------------------------------------------------------------------


def test_error_replies(fake_anthropic):
    fake_anthropic.push(
        anthropic_rate_limit_reply(retry_after=2, retry_after_ms=1500),
        anthropic_rate_limit_reply(retry_after=None),
        spend_limit_reply(),
        overloaded_reply(),
        api_error_reply(),
        anthropic_error(400, "messages.0: bad"),
        anthropic_error(401),
        anthropic_error(403),
        anthropic_error(404),
        anthropic_error(413),
    )
    limited = post(fake_anthropic)
    assert_error(limited, 429, "rate_limit_error")
    assert (limited.headers["retry-after"], limited.headers["retry-after-ms"]) == ("2", "1500")
    assert limited.headers["anthropic-ratelimit-requests-remaining"] == "0"
    bare = post(fake_anthropic)
    assert_error(bare, 429, "rate_limit_error")
    assert "retry-after" not in bare.headers and "retry-after-ms" not in bare.headers
    spend = post(fake_anthropic)
    assert "usage limits" in assert_error(spend, 429, "rate_limit_error")
    assert spend.json()["error"]["details"] == {"error_code": "enforced_spend_limit_reached"}
    assert "retry-after" not in spend.headers
    assert assert_error(post(fake_anthropic), 529, "overloaded_error") == "Overloaded"
    assert assert_error(post(fake_anthropic), 500, "api_error") == "Internal server error"
    assert assert_error(post(fake_anthropic), 400, "invalid_request_error") == "messages.0: bad"
    assert_error(post(fake_anthropic), 401, "authentication_error")
    assert_error(post(fake_anthropic), 403, "permission_error")
    assert_error(post(fake_anthropic), 404, "not_found_error")
    assert_error(post(fake_anthropic), 413, "request_too_large")
    assert fake_anthropic.invalid == []


@pytest.mark.parametrize(("reply", "error"), [
    (overloaded_reply(), anthropic.OverloadedError),
    (anthropic_rate_limit_reply(), anthropic.RateLimitError),
    (api_error_reply(), anthropic.InternalServerError),
    (anthropic_error(400), anthropic.BadRequestError),
])
def test_the_sdk_classifies_the_errors(fake_anthropic, reply, error):
    fake_anthropic.push(reply)
    with pytest.raises(error) as caught:
        sdk(fake_anthropic).messages.create(model=MODEL, max_tokens=10, messages=USER)  # type: ignore[arg-type]
    assert caught.value.request_id == fake_anthropic.last_request.request_id


def test_delay_and_drop(fake_anthropic):
    fake_anthropic.push(delay_reply(2.0), drop_reply(), drop_reply(text_reply("partial")))
    with pytest.raises(requests.exceptions.ReadTimeout):
        post(fake_anthropic, timeout=0.2)
    for _ in range(2):
        with pytest.raises(requests.exceptions.ChunkedEncodingError):
            post(fake_anthropic)
    fake_anthropic.delay = 0.05  # default delay: applies to default answers
    message(post(fake_anthropic))


def test_raw_and_off_spec_bodies(fake_anthropic):
    fake_anthropic.push(raw_reply('{"type": "message", "content": ['),
                        Reply(body={"type": "message"}, content_type="application/json"))
    with pytest.raises(ValueError):
        post(fake_anthropic).json()
    assert post(fake_anthropic).json() == {"type": "message"}


def test_bad_scripted_replies_fail_loudly():
    with pytest.raises(InvalidReply, match="stop_reason"):
        message_reply("x", stop_reason="stop")
    with pytest.raises(InvalidReply, match="content.0.citations"):
        message_reply({"type": "text", "text": "x", "citations": "none"})
    with pytest.raises(InvalidReply, match="extra: Extra inputs"):
        check_message({**message_reply("x").body, "extra": 1})
    with FakeAnthropic() as fake:
        def explode(request: RecordedRequest) -> Reply:
            raise ZeroDivisionError("scripted callable failed")

        fake.push(chat_reply("for OpenAI"), explode,
                  Reply(body={"type": "message"}, kind="messages"))
        for _ in range(3):
            assert_error(post(fake), 500, "api_error")
        assert "a chat reply was served to messages" in fake.errors[0]
        assert "ZeroDivisionError" in fake.errors[1]
        assert "Message invalid" in fake.errors[2]
        assert len(fake.teardown_problems()) == 3


# -- command line ----------------------------------------------------------------------------


@pytest.mark.parametrize("server", ["threaded", "gevent"])
def test_cli_serves_and_stops_on_the_first_sigterm(server):
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    command = [sys.executable, "-m", "tests.fakes.anthropic_fake", "--port", "0",
               "--server", server, "--api-key", KEY]
    with subprocess.Popen(command, cwd=REPO, env=env, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True) as process:
        try:
            assert process.stdout is not None
            line = process.stdout.readline()
            match = re.search(r"listening on (\S+)", line)
            assert match, line + (process.stderr.read() if process.stderr else "")
            response = requests.post(match[1], json=body(), headers=HEADERS, timeout=5)
            assert message(response).content[0].text == "Hello!"  # type: ignore[union-attr]
            process.send_signal(signal.SIGTERM)
            assert process.wait(timeout=10) == 0
        finally:
            if process.poll() is None:
                process.kill()
                process.wait(timeout=10)

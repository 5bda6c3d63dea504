"""The Mistral and Gemini modes of the OpenAI fake: each provider rule refuses what the real
API refuses, in that provider's error shape, and accepts what it accepts."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import requests
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.fakes import compat_spec as compat
from tests.fakes import spec as specs
from tests.fakes.openai_fake import (
    FakeOpenAI,
    InvalidReply,
    Problem,
    chat_reply,
    gemini_error_reply,
    mistral_error_reply,
    mistral_reply,
    mistral_tool_call,
    mistral_unknown_field_reply,
)

REPO = Path(__file__).resolve().parents[1]
KEY = "test-provider-key-0123456789"
AUTH = {"Authorization": f"Bearer {KEY}"}
USER = [{"role": "user", "content": "Hi"}]

needs_spec = pytest.mark.skipif(specs.load_spec()[0] is None,
                                reason="shared/openai-spec folder absent")


def chat(fake: FakeOpenAI, body: dict[str, Any] | None = None,
         headers: dict[str, str] | None = None) -> requests.Response:
    return requests.post(fake.chat_url, json=body or {"model": "m", "messages": USER},
                         headers=AUTH if headers is None else headers, timeout=5)


def body(**changes: Any) -> dict[str, Any]:
    return {"model": "mistral-small-latest", "messages": USER, **changes}


def call(call_id: str) -> dict[str, Any]:
    return {"id": call_id, "type": "function",
            "function": {"name": "lookup", "arguments": '{"q": "x"}'}}


def tool_loop(call_id: str, *after: dict[str, Any]) -> list[dict[str, Any]]:
    return [*USER, {"role": "assistant", "content": None, "tool_calls": [call(call_id)]},
            {"role": "tool", "tool_call_id": call_id, "content": "found"}, *after]


TOOLS = [{"type": "function", "function": {"name": "lookup", "parameters": {
    "type": "object", "properties": {"q": {"type": "string"}}, "required": ["q"]}}}]


# -- Mistral ---------------------------------------------------------------------------------


def test_mistral_accepts_its_own_fields_and_answers_like_mistral(fake_mistral):
    response = chat(fake_mistral, body(
        random_seed=7, safe_prompt=False, prompt_mode="reasoning", n=2, max_tokens=100,
        tools=TOOLS, tool_choice="any", parallel_tool_calls=False,
        response_format={"type": "json_object"},  # no "json" word needed
        messages=tool_loop("abcDEF123")))
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["model"] == "mistral-small-latest"
    assert "refusal" not in answer["choices"][0]["message"]
    assert "x-request-id" not in response.headers
    assert response.headers["mistral-correlation-id"] == fake_mistral.last_request.request_id
    assert fake_mistral.invalid == []


@pytest.mark.parametrize(("field", "value"), [
    ("max_completion_tokens", 100), ("seed", 1), ("user", "u1"), ("logprobs", True),
    ("store", False)])
def test_mistral_refuses_unknown_fields_with_422(fake_mistral, field, value):
    fake_mistral.expect_invalid()
    response = chat(fake_mistral, body(**{field: value}))
    assert response.status_code == 422
    assert response.json() == {
        "object": "error", "type": "invalid_request_error", "param": None, "code": None,
        "raw_status_code": 422, "message": {"detail": [{
            "type": "extra_forbidden", "loc": ["body", field],
            "msg": "Extra inputs are not permitted", "input": value}]}}
    assert fake_mistral.invalid == [f"POST /v1/chat/completions: {field}: Extra inputs are "
                                    "not permitted"]


def test_mistral_lists_every_unknown_field_and_refuses_developer(fake_mistral):
    fake_mistral.expect_invalid()
    both = chat(fake_mistral, body(seed=1, user="u")).json()["message"]["detail"]
    assert [d["loc"] for d in both] == [["body", "seed"], ["body", "user"]]
    developer = chat(fake_mistral, body(messages=[{"role": "developer", "content": "x"}, *USER]))
    detail = developer.json()["message"]["detail"][0]
    assert (developer.status_code, detail["type"], detail["loc"]) == (
        422, "union_tag_invalid", ["body", "messages", 0])


@needs_spec
def test_mistral_schema_errors_are_422_details(fake_mistral):
    fake_mistral.expect_invalid()
    response = chat(fake_mistral, body(temperature="hot"))
    detail = response.json()["message"]["detail"][0]
    assert (response.status_code, detail["loc"], detail["input"]) == (
        422, ["body", "temperature"], "hot")


@pytest.mark.parametrize("bad_id", ["call_abc123", "abc12345", "abcdefghij", "abc-12345"])
def test_mistral_tool_call_ids_must_be_nine_alphanumerics(fake_mistral, bad_id):
    fake_mistral.expect_invalid()
    response = chat(fake_mistral, body(tools=TOOLS, messages=tool_loop(bad_id)))
    assert response.status_code == 400
    assert response.json() == {
        "object": "error", "type": "invalid_function_call", "param": None, "code": "3280",
        "raw_status_code": 400,
        "message": f"Tool call id was {bad_id} but must be a-z, A-Z, 0-9, with a length of 9."}


@pytest.mark.parametrize(("messages", "words"), [
    ([*USER, {"role": "assistant", "content": "Hello"}],
     "Expected last role User or Tool (or Assistant with prefix True) for serving but got "
     "assistant"),
    ([{"role": "system", "content": "Be brief."}],
     "Expected last role User or Tool (or Assistant with prefix True) for serving but got "
     "system"),
    (tool_loop("abcDEF123", {"role": "user", "content": "and?"}),
     "Unexpected role 'user' after role 'tool'"),
])
def test_mistral_message_order(fake_mistral, messages, words):
    fake_mistral.expect_invalid()
    response = chat(fake_mistral, body(messages=messages))
    assert response.status_code == 400
    error = response.json()
    assert (error["message"], error["type"], error["code"]) == (
        words, "invalid_request_message_order", "3230")


def test_mistral_prefix_and_tool_last_are_fine(fake_mistral):
    prefix = body(messages=[*USER, {"role": "assistant", "content": "Sure:", "prefix": True}])
    assert chat(fake_mistral, prefix).status_code == 200
    assert chat(fake_mistral, body(tools=TOOLS, messages=tool_loop("A1b2C3d4E"))).status_code \
        == 200
    assert fake_mistral.invalid == []


def test_mistral_scripted_answers(fake_mistral):
    fake_mistral.push(
        mistral_reply([{"type": "thinking", "thinking": [{"type": "text", "text": "hmm"}]},
                       {"type": "text", "text": "Paris"}], finish_reason="model_length"),
        mistral_reply(None, tool_calls=[("lookup", {"q": "x"}),
                                        mistral_tool_call("other", "{}", "Zz9Yy8Xx7")]),
        mistral_unknown_field_reply("seed", 3),
        mistral_error_reply(429, "Requests rate limit exceeded", type_="rate_limited"),
    )
    chunks = chat(fake_mistral).json()["choices"][0]
    assert chunks["finish_reason"] == "model_length"
    assert [c["type"] for c in chunks["message"]["content"]] == ["thinking", "text"]
    calls = chat(fake_mistral).json()["choices"][0]
    ids = [c["id"] for c in calls["message"]["tool_calls"]]
    assert calls["finish_reason"] == "tool_calls" and ids[1] == "Zz9Yy8Xx7"
    assert all(re.fullmatch(r"[a-zA-Z0-9]{9}", i) for i in ids)
    unknown = chat(fake_mistral)
    assert unknown.status_code == 422
    assert unknown.json()["message"]["detail"][0]["loc"] == ["body", "seed"]
    limited = chat(fake_mistral)
    assert (limited.status_code, limited.json()["message"]) == (
        429, "Requests rate limit exceeded")


def test_mistral_replies_are_checked():
    with pytest.raises(InvalidReply, match="finish_reason 'done'"):
        mistral_reply("x", finish_reason="done")
    with pytest.raises(InvalidReply, match="9 alphanumerics"):
        mistral_reply(None, tool_calls=[("f", {}, "call_123")])
    with pytest.raises(InvalidReply, match="not a Mistral content chunk"):
        mistral_reply([{"type": "video", "url": "x"}])


def test_mistral_auth_and_missing_endpoints(fake_mistral):
    missing = chat(fake_mistral, headers={})
    assert missing.status_code == 401 and missing.json()["message"] == "Unauthorized"
    fake_mistral.expect_invalid()
    moderation = requests.post(f"{fake_mistral.base_url}/moderations", json={"input": "x"},
                               headers=AUTH, timeout=5)
    assert moderation.status_code == 404 and moderation.json()["object"] == "error"
    assert fake_mistral.invalid == [
        "POST /v1/moderations: the mistral mode has no /v1/moderations endpoint"]


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.characters(codec="ascii"), max_size=12))
def test_mistral_tool_ids_are_accepted_exactly_when_nine_alphanumerics(call_id):
    nine_alnum = len(call_id) == 9 and call_id.isascii() and call_id.isalnum()
    try:
        compat.check_mistral_chat(body(tools=TOOLS, messages=tool_loop(call_id)), None)
    except Problem as problem:
        assert not nine_alnum and problem.body["code"] == "3280"
    else:
        assert nine_alnum


JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=5),
                    lambda inner: st.lists(inner, max_size=3)
                    | st.dictionaries(st.sampled_from(["role", "content", "tool_calls", "id",
                                                       "tool_call_id", "type", "function",
                                                       "schema", "json_schema", "$schema"]),
                                      inner, max_size=4), max_leaves=12)


@settings(max_examples=150, deadline=None)
@given(st.dictionaries(st.sampled_from(["model", "messages", "tools", "response_format",
                                        "tool_choice", "seed", "n"]), JSON, max_size=5))
def test_any_body_is_accepted_or_refused_in_the_provider_shape(data):
    spec = specs.load_spec()[0]
    for mode in ("mistral", "gemini"):
        try:
            if mode == "mistral":
                compat.check_mistral_chat(data, spec)
            else:
                compat.check_gemini_chat(data, spec, compat.GEMINI_KEYWORDS)
        except Problem as problem:
            assert problem.body is not None and problem.status in (400, 422)


# -- Gemini ----------------------------------------------------------------------------------


def test_gemini_accepts_an_openai_request_at_its_url(fake_gemini):
    assert fake_gemini.chat_url.endswith("/v1beta/openai/chat/completions")
    response = chat(fake_gemini, {"model": "gemini-2.5-flash", "messages": USER, "n": 2,
                                  "response_format": {"type": "json_object"},
                                  "reasoning_effort": "none"})
    assert response.status_code == 200, response.text
    assert len(response.json()["choices"]) == 2
    assert "x-request-id" not in response.headers
    assert fake_gemini.invalid == []


def schema_format(schema: dict[str, Any]) -> dict[str, Any]:
    return {"type": "json_schema", "json_schema": {"name": "answer", "schema": schema}}


GEMINI_BAD: dict[str, tuple[dict[str, Any], str]] = {
    "response_schema": (
        {"response_format": schema_format({"$schema": "https://json-schema.org/draft/2020-12/"
                                           "schema", "type": "object"})},
        "'generation_config.response_schema'"),
    "nested_response_schema": (
        {"response_format": schema_format({"type": "object", "properties": {"a": {
            "type": "array", "items": {"$schema": "x", "type": "string"}}}})},
        "'generation_config.response_schema.properties[0].value.items'"),
    "tool_parameters": (
        {"tools": [{"type": "function", "function": {"name": "f", "parameters": {
            "$schema": "x", "type": "object"}}}]},
        "'tools[0].function_declarations[0].parameters'"),
}


@pytest.mark.parametrize("name", GEMINI_BAD)
def test_gemini_refuses_schema_keywords_it_does_not_know(fake_gemini, name):
    change, where = GEMINI_BAD[name]
    fake_gemini.expect_invalid()
    response = chat(fake_gemini, {"model": "gemini-2.5-flash", "messages": USER, **change})
    assert response.status_code == 400
    errors = response.json()
    assert isinstance(errors, list) and len(errors) == 1
    error = errors[0]["error"]
    assert (error["code"], error["status"]) == (400, "INVALID_ARGUMENT")
    assert error["message"] == (f'Invalid JSON payload received. Unknown name "$schema" at '
                                f"{where}: Cannot find field.")
    assert len(fake_gemini.invalid) == 1


def test_gemini_keywords_are_configurable(fake_gemini):
    strict = schema_format({"type": "object", "additionalProperties": False,
                            "properties": {"const": {"const": "x"}}})
    request: dict[str, Any] = {"model": "gemini-2.5-flash", "messages": USER,
                               "response_format": strict}
    assert chat(fake_gemini, request).status_code == 200  # only $schema by default
    fake_gemini.gemini_keywords = frozenset({"$schema", "additionalProperties", "const"})
    fake_gemini.expect_invalid()
    refused = chat(fake_gemini, request).json()[0]["error"]["message"]
    assert 'Unknown name "additionalProperties"' in refused
    only_property_named_const = schema_format({"type": "object", "properties": {
        "const": {"type": "string"}}})
    assert chat(fake_gemini, {**request, "response_format": only_property_named_const}
                ).status_code == 200


@needs_spec
def test_gemini_wraps_every_refusal_in_a_list(fake_gemini):
    fake_gemini.expect_invalid()
    bad = chat(fake_gemini, {"model": "g", "messages": USER, "temperature": 3})
    assert bad.status_code == 400
    assert bad.json()[0]["error"]["status"] == "INVALID_ARGUMENT"
    assert "temperature" in bad.json()[0]["error"]["message"]
    missing = chat(fake_gemini, headers={})
    assert missing.status_code == 401
    assert missing.json()[0]["error"]["status"] == "UNAUTHENTICATED"
    fake_gemini.api_key = KEY
    wrong = chat(fake_gemini, headers={"Authorization": "Bearer wrong-key-0000"})
    assert wrong.status_code == 400
    assert wrong.json()[0]["error"]["details"][0]["reason"] == "API_KEY_INVALID"
    assert len(fake_gemini.invalid) == 1  # auth failures are scenarios


def test_gemini_scripted_errors_and_answers(fake_gemini):
    fake_gemini.push(gemini_error_reply(429), gemini_error_reply(503), chat_reply("Bonjour"))
    limited = chat(fake_gemini)
    assert limited.status_code == 429
    assert limited.json() == [{"error": {
        "code": 429, "message": "Resource has been exhausted (e.g. check quota).",
        "status": "RESOURCE_EXHAUSTED"}}]
    assert chat(fake_gemini).json()[0]["error"]["status"] == "UNAVAILABLE"
    assert chat(fake_gemini).json()["choices"][0]["message"]["content"] == "Bonjour"


# -- modes as settings and on the command line -----------------------------------------------


def test_mode_is_a_setting_restored_by_reset(fake_openai):
    fake_openai.mode = "mistral"
    fake_openai.expect_invalid()
    assert chat(fake_openai, body(seed=1)).status_code == 422
    fake_openai.reset()
    assert fake_openai.mode == "openai" and chat(fake_openai, body(seed=1)).status_code == 200
    with pytest.raises(ValueError, match="mode must be one of"):
        FakeOpenAI(mode="cohere")  # type: ignore[arg-type]


def test_cli_mode_and_sigterm():
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    command = [sys.executable, "-m", "tests.fakes.openai_fake", "--port", "0",
               "--mode", "gemini"]
    with subprocess.Popen(command, cwd=REPO, env=env, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True) as process:
        try:
            assert process.stdout is not None
            line = process.stdout.readline()
            match = re.search(r"listening on (\S+/v1beta/openai)$", line.strip())
            assert match, line + (process.stderr.read() if process.stderr else "")
            bad = requests.post(f"{match[1]}/chat/completions", headers=AUTH, timeout=5,
                                json={"model": "g", "messages": USER, "response_format":
                                      schema_format({"$schema": "x"})})
            assert bad.status_code == 400 and isinstance(bad.json(), list)
            process.send_signal(signal.SIGTERM)
            assert process.wait(timeout=10) == 0
        finally:
            if process.poll() is None:
                process.kill()
                process.wait(timeout=10)

"""The loopback OpenAI fake: it answers valid bodies, rejects bad requests, scripts faults."""

from __future__ import annotations

import json
import logging
import os
import re
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.fakes import spec as specs
from tests.fakes.openai_fake import (
    ENV_VAR,
    MAX_AUDIO_BYTES,
    FakeOpenAI,
    InvalidReply,
    RecordedRequest,
    Reply,
    azure_content_filter_reply,
    chat_choice,
    chat_reply,
    delay_reply,
    drop_reply,
    error_reply,
    html_error_reply,
    insufficient_quota_reply,
    json_reply,
    llamacpp_error_reply,
    moderation_reply,
    moderation_result,
    rate_limit_reply,
    raw_reply,
    transcription_reply,
    unsupported_parameter_reply,
    unsupported_value_reply,
)

REPO = Path(__file__).resolve().parents[1]
KEY = "sk-test-fake-0123456789"
AUTH = {"Authorization": f"Bearer {KEY}"}
USER = [{"role": "user", "content": "Hi"}]
WAV = ("call.wav", b"RIFF\x24\x00\x00\x00WAVEfmt ", "audio/wav")

needs_spec = pytest.mark.skipif(specs.load_spec()[0] is None,
                                reason="shared/openai-spec folder absent")


def chat(fake: FakeOpenAI, body: dict[str, Any] | None = None,
         headers: dict[str, str] = AUTH, **kwargs: Any) -> requests.Response:
    return requests.post(fake.chat_url, json=body or {"model": "gpt-4o-mini", "messages": USER},
                         headers=headers, timeout=5, **kwargs)


def transcribe(fake: FakeOpenAI, *fields: tuple[str, str], file: Any = WAV,
               model: str = "whisper-1", url: str | None = None,
               headers: dict[str, str] = AUTH) -> requests.Response:
    data = [("model", model), *fields]
    files = {"file": file} if file is not None else None
    return requests.post(url or fake.transcriptions_url, data=data, files=files,
                         headers=headers, timeout=5)


def assert_openai_error(response: requests.Response, status: int,
                        param: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["type"] == "invalid_request_error"
    assert error["param"] == param
    assert isinstance(error, dict)
    return error


# -- answers ---------------------------------------------------------------------------------


def test_default_chat_answer_echoes_model_and_n(fake_openai):
    response = chat(fake_openai, {"model": "gpt-4.1", "messages": USER, "n": 3})
    assert response.status_code == 200
    body = response.json()
    assert body["model"] == "gpt-4.1"
    assert [c["index"] for c in body["choices"]] == [0, 1, 2]
    assert body["choices"][0]["message"]["content"] == "Hello!"
    assert body["usage"]["total_tokens"] == 15
    assert response.headers["x-request-id"] == fake_openai.last_request.request_id
    assert re.fullmatch(r"req_\d+", response.headers["x-request-id"])


def test_scripted_answers_are_served_in_order(fake_openai):
    fake_openai.push(
        chat_reply("first", usage=(3, 1, 4), model="gpt-x"),
        chat_reply(tool_calls=[("get_weather", {"city": "Paris"}), ("broken", '{"a": ')]),
        chat_reply(choices=["a", chat_choice("b", finish_reason="length")]),
        chat_reply(refusal="I can't help with that."),
        chat_reply("filtered", finish_reason="content_filter", headers={"x-extra": "1"}),
    )
    first = chat(fake_openai).json()
    assert (first["choices"][0]["message"]["content"], first["model"]) == ("first", "gpt-x")
    assert first["usage"]["prompt_tokens"] == 3
    calls = chat(fake_openai).json()["choices"][0]
    assert calls["finish_reason"] == "tool_calls"
    assert calls["message"]["content"] is None
    arguments = [c["function"]["arguments"] for c in calls["message"]["tool_calls"]]
    assert json.loads(arguments[0]) == {"city": "Paris"}
    assert arguments[1] == '{"a": '
    several = chat(fake_openai).json()["choices"]
    assert [(c["index"], c["finish_reason"]) for c in several] == [(0, "stop"), (1, "length")]
    refusal = chat(fake_openai).json()["choices"][0]["message"]
    assert (refusal["content"], refusal["refusal"]) == (None, "I can't help with that.")
    last = chat(fake_openai)
    assert last.json()["choices"][0]["finish_reason"] == "content_filter"
    assert last.headers["x-extra"] == "1"
    assert chat(fake_openai).json()["choices"][0]["message"]["content"] == "Hello!"
    assert fake_openai.pending == 0


def test_callable_reply_sees_the_request(fake_openai):
    fake_openai.push(lambda req: chat_reply(f"model was {req.json['model']}", model="m"),
                     lambda req: None)
    assert chat(fake_openai).json()["choices"][0]["message"]["content"] == (
        "model was gpt-4o-mini")
    assert chat(fake_openai).json()["choices"][0]["message"]["content"] == "Hello!"


def test_moderation_answers(fake_openai):
    response = requests.post(fake_openai.moderations_url, json={"input": ["a", "b", "c"]},
                             headers=AUTH, timeout=5)
    body = response.json()
    assert response.status_code == 200 and len(body["results"]) == 3
    assert body["model"] == "omni-moderation-latest"
    assert not body["results"][0]["flagged"] and len(body["results"][0]["categories"]) == 13
    fake_openai.push(moderation_reply(scores={"hate": 0.8}, null_categories=["illicit"]))
    parts = [{"type": "text", "text": "x"},
             {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}}]
    result = requests.post(fake_openai.moderations_url, json={"input": parts}, headers=AUTH,
                           timeout=5).json()["results"]
    assert len(result) == 1
    assert result[0]["flagged"] and result[0]["categories"]["hate"] is True
    assert result[0]["categories"]["illicit"] is None
    assert result[0]["category_applied_input_types"]["violence"] == ["image", "text"]
    assert result[0]["category_applied_input_types"]["hate"] == ["text"]


def test_transcription_answers_follow_the_response_format(fake_openai):
    plain = transcribe(fake_openai)
    assert plain.json() == {"text": "Hello world.", "usage": {"type": "duration", "seconds": 2}}
    verbose = transcribe(fake_openai, ("response_format", "verbose_json"),
                         ("timestamp_granularities[]", "word"),
                         ("timestamp_granularities[]", "segment")).json()
    assert verbose["language"] == "english" and verbose["duration"] == 1.5
    assert [w["word"] for w in verbose["words"]] == ["Hello", "world"]
    assert verbose["segments"][0]["text"] == "Hello world."
    text = transcribe(fake_openai, ("response_format", "text"))
    assert (text.text, text.headers["Content-Type"]) == ("Hello world.\n",
                                                         "text/plain; charset=utf-8")
    fake_openai.push(transcription_reply("Bonjour.", language="french", duration=2.0,
                                         segments=[(0.0, 2.0, "Bonjour.")]))
    assert transcribe(fake_openai, ("response_format", "srt")).text == (
        "1\n00:00:00,000 --> 00:00:02,000\nBonjour.\n")
    recorded = fake_openai.last_request
    assert recorded.form == {"model": "whisper-1", "response_format": "srt", "file": "call.wav"}
    assert (recorded.file.filename, recorded.file.content_type) == ("call.wav", "audio/wav")
    assert recorded.file.data == WAV[1] and recorded.file.size == len(WAV[1])


def test_models_endpoint_for_readiness(fake_openai):
    response = requests.get(f"{fake_openai.base_url}/models", headers=AUTH, timeout=5)
    assert response.status_code == 200 and response.json()["object"] == "list"


# -- recording and secrets -------------------------------------------------------------------


def test_requests_are_recorded_and_the_key_stays_in_the_auth_header(fake_openai):
    chat(fake_openai, params={"trace": "1"}, headers={**AUTH, "X-Custom": "yes"})
    recorded = fake_openai.last_request
    assert (recorded.method, recorded.path, recorded.query) == (
        "POST", "/v1/chat/completions", {"trace": "1"})
    assert recorded.headers["x-custom"] == "yes" and recorded.api_key == KEY
    assert recorded.auth == "bearer" and recorded.json["messages"] == USER
    assert recorded.endpoint == "chat" and recorded.status == 200
    fake_openai.assert_secret_only_in_auth(KEY)
    chat(fake_openai, {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": KEY}]},
         params={"key": KEY})
    assert fake_openai.last_request.secret_locations(KEY) == ["query", "body"]
    with pytest.raises(AssertionError, match="outside the auth header"):
        fake_openai.assert_secret_only_in_auth(KEY)


def test_concurrent_requests_are_all_recorded(fake_openai):
    with ThreadPoolExecutor(16) as pool:
        statuses = list(pool.map(lambda _: chat(fake_openai).status_code, range(32)))
    assert statuses == [200] * 32
    assert len({r.request_id for r in fake_openai.wait_for_requests(32)}) == 32


# -- validation ------------------------------------------------------------------------------

BAD_CHAT = {
    "temperature": ({"temperature": 2.5}, "temperature", "greater than the maximum"),
    "role": ({"messages": [{"role": "wizard", "content": "x"}]}, "messages[0].role",
             "'wizard' is not one of"),
    "tool_call_id": ({"messages": [*USER, {"role": "tool", "content": "x"}]}, "messages[1]",
                     "'tool_call_id' is a required property"),
    "json_schema_name": ({"response_format": {"type": "json_schema", "json_schema": {
        "schema": {"type": "object"}}}}, "response_format.json_schema", "'name' is a required"),
    "dangling_tool_calls": ({"messages": [*USER, {"role": "assistant", "content": None,
                                                  "tool_calls": [{"id": "call_1", "type":
                                                                  "function", "function": {
                                                                      "name": "f",
                                                                      "arguments": "{}"}}]},
                                          {"role": "user", "content": "and?"}]},
                            "messages[1].role", "did not have response messages: call_1"),
    "orphan_tool": ({"messages": [*USER, {"role": "tool", "content": "x",
                                          "tool_call_id": "call_9"}]},
                    "messages[1].role", "must be a response to a preceeding message"),
    "misspelt_field": ({"max_token": 10}, None,
                       "Unrecognized request argument supplied: max_token"),
    "top_logprobs_null": ({"top_logprobs": None}, "top_logprobs", "None is not of type"),
    "json_object_without_json": ({"response_format": {"type": "json_object"}}, "messages",
                                 "must contain the word 'json'"),
    "tool_name": ({"tools": [{"type": "function", "function": {"name": "get weather"}}]},
                  "tools[0].function.name", "does not match pattern"),
    "tool_choice_without_tools": ({"tool_choice": "auto"}, "tool_choice", "only allowed"),
    "model_object": ({"model": {}}, "model", "is not valid under any of the given schemas"),
}


@needs_spec
@pytest.mark.parametrize("case", BAD_CHAT.values(), ids=BAD_CHAT.keys())
def test_bad_chat_requests_are_rejected_and_recorded(fake_openai, case):
    change, param, message = case
    fake_openai.expect_invalid()
    response = chat(fake_openai, {"model": "gpt-4o-mini", "messages": USER, **change})
    error = assert_openai_error(response, 400, param)
    assert message in error["message"] and error["code"] is None
    assert len(fake_openai.invalid) == 1 and message in fake_openai.invalid[0]
    assert fake_openai.last_request.invalid is not None
    assert fake_openai.teardown_problems() == []  # expected, so the fixture will not fail


def test_unexpected_invalid_request_would_fail_the_test(fake_openai):
    orphan = {"model": "m", "messages": [*USER, {"role": "tool", "content": "x",
                                                 "tool_call_id": "c"}]}
    assert chat(fake_openai, orphan).status_code == 400  # checked with or without the spec
    problems = fake_openai.teardown_problems()
    assert len(problems) == 1 and problems[0].startswith("invalid request: POST /v1/chat")
    fake_openai.reset()  # undo it here, or the fixture would fail this test


def test_body_must_be_json(fake_openai):
    fake_openai.expect_invalid()
    response = requests.post(fake_openai.chat_url, data="model=gpt", headers=AUTH, timeout=5)
    assert_openai_error(response, 400)
    response = requests.post(fake_openai.chat_url, data="{not json",
                             headers={**AUTH, "Content-Type": "application/json"}, timeout=5)
    assert "could not parse the JSON body" in assert_openai_error(response, 400)["message"]
    assert len(fake_openai.invalid) == 2


@needs_spec
def test_a_full_valid_chat_request_passes(fake_openai):
    call = {"id": "call_1", "type": "function",
            "function": {"name": "lookup", "arguments": '{"q": "x"}'}}
    body = {
        "model": "gpt-4o-mini", "n": None, "stop": None, "seed": None, "max_tokens": None,
        "logit_bias": None, "temperature": 0.2, "max_completion_tokens": 100,
        "messages": [
            {"role": "developer", "content": "Be brief. Answer in json."},
            {"role": "user", "content": [{"type": "text", "text": "Hi"}, {
                "type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}}]},
            {"role": "assistant", "content": None, "tool_calls": [call]},
            {"role": "tool", "tool_call_id": "call_1", "content": "found"},
        ],
        "tools": [{"type": "function", "function": {
            "name": "lookup", "strict": True, "parameters": {
                "type": "object", "properties": {"q": {"type": "string"}}, "required": ["q"],
                "additionalProperties": False}}}],
        "tool_choice": "required", "parallel_tool_calls": False,
        "response_format": {"type": "json_schema", "json_schema": {
            "name": "answer", "strict": True, "schema": {"type": "object"}}},
    }
    assert chat(fake_openai, body).status_code == 200
    assert fake_openai.invalid == []


@needs_spec
def test_bad_moderation_requests(fake_openai):
    fake_openai.expect_invalid()
    missing = requests.post(fake_openai.moderations_url, json={"model": "omni-moderation-latest"},
                            headers=AUTH, timeout=5)
    assert "'input' is a required property" in assert_openai_error(missing, 400)["message"]
    extra = requests.post(fake_openai.moderations_url, json={"input": "x", "inputs": "y"},
                          headers=AUTH, timeout=5)
    assert "Unrecognized request argument" in assert_openai_error(extra, 400)["message"]


BAD_TRANSCRIPTIONS = {  # fields, param, message; whisper-1 unless the fields name a model
    "xml_format": ([("response_format", "xml")], "response_format", "'xml' is not one of"),
    "temperature": ([("temperature", "1.5")], "temperature", "not between 0 and 1"),
    "text_temperature": ([("temperature", "warm")], "temperature", "is not of type 'number'"),
    "granularity_without_verbose": ([("timestamp_granularities[]", "word")],
                                    "timestamp_granularities", "requires"),
    "char_granularity": ([("response_format", "verbose_json"),
                          ("timestamp_granularities[]", "char")],
                         "timestamp_granularities[0]", "'char' is not one of"),
    "unknown_field": ([("speed", "2")], None, "Additional properties are not allowed"),
    "gpt4o_verbose": ([("response_format", "verbose_json")], "response_format",
                      "not compatible with model 'gpt-4o-transcribe'"),
}


@needs_spec
@pytest.mark.parametrize("case", BAD_TRANSCRIPTIONS.values(), ids=BAD_TRANSCRIPTIONS.keys())
def test_bad_transcriptions_are_rejected(fake_openai, case):
    fields, param, message = case
    fake_openai.expect_invalid()
    model = "gpt-4o-transcribe" if "gpt-4o" in message else "whisper-1"
    response = transcribe(fake_openai, *fields, model=model)
    error = assert_openai_error(response, 400, param)
    assert message in error["message"]
    assert len(fake_openai.invalid) == 1


def test_transcription_file_checks(fake_openai):
    fake_openai.expect_invalid()
    as_text = transcribe(fake_openai, file=(None, "call.wav"))  # a text field, not a file
    assert_openai_error(as_text, 400, "file")
    urlencoded = requests.post(fake_openai.transcriptions_url, headers=AUTH, timeout=5,
                               data={"model": "whisper-1", "file": "call.wav"})
    assert "multipart/form-data" in assert_openai_error(urlencoded, 400)["message"]
    assert_openai_error(transcribe(fake_openai, file=("notes.txt", b"x", "text/plain")), 400,
                        "file")
    big = transcribe(fake_openai, file=("big.mp3", b"\0" * (MAX_AUDIO_BYTES + 1), "audio/mpeg"))
    assert "Maximum content size limit" in assert_openai_error(big, 413, "file")["message"]
    assert len(fake_openai.invalid) == 4


# -- auth, URLs, Azure -----------------------------------------------------------------------


def test_auth_is_required_and_checked(fake_openai):
    missing = chat(fake_openai, headers={})
    assert missing.status_code == 401 and "didn't provide an API key" in missing.text
    fake_openai.api_key = KEY
    wrong = chat(fake_openai, headers={"Authorization": "Bearer sk-wrong-key-123456"})
    assert wrong.status_code == 401
    assert wrong.json()["error"]["code"] == "invalid_api_key"
    assert "sk-wrong" not in wrong.text
    assert chat(fake_openai).status_code == 200
    fake_openai.require_auth = False
    assert chat(fake_openai, headers={}).status_code == 200
    assert fake_openai.invalid == []  # auth failures are scenarios, not client bugs


def test_unknown_path_is_404_and_invalid(fake_openai):
    fake_openai.expect_invalid()
    response = requests.post(f"{fake_openai.base_url}/v1/chat/complete", json={}, headers=AUTH,
                             timeout=5)
    assert "Invalid URL (POST /v1/v1/chat/complete)" in assert_openai_error(response, 404)[
        "message"]
    assert fake_openai.invalid == ["POST /v1/v1/chat/complete: unknown path /v1/v1/chat/complete"]


def test_any_prefix_is_tolerated(fake_openai):
    url = f"{fake_openai.url}/proxy/openai/v1/chat/completions"
    response = requests.post(url, json={"model": "m", "messages": USER}, headers=AUTH, timeout=5)
    assert response.status_code == 200


def test_azure_deployment_urls(fake_openai):
    body = {"messages": USER}  # Azure takes the model from the deployment
    ok = requests.post(fake_openai.azure_chat_url("gpt4o-prod", "2024-10-21"), json=body,
                       headers={"api-key": KEY}, timeout=5)
    assert ok.status_code == 200 and ok.json()["model"] == "gpt4o-prod"
    recorded = fake_openai.last_request
    assert (recorded.flavor, recorded.deployment, recorded.api_version, recorded.auth) == (
        "azure", "gpt4o-prod", "2024-10-21", "api-key")
    fake_openai.assert_secret_only_in_auth(KEY)
    bearer = requests.post(fake_openai.azure_chat_url("gpt4o-prod"), json=body, headers=AUTH,
                           timeout=5)
    assert bearer.status_code == 401
    fake_openai.deployments = frozenset({"gpt4o-prod"})
    unknown = requests.post(fake_openai.azure_chat_url("nope"), json=body,
                            headers={"api-key": KEY}, timeout=5)
    assert (unknown.status_code, unknown.json()["error"]["code"]) == (404, "DeploymentNotFound")
    v1 = requests.post(fake_openai.azure_v1_chat_url, json={"model": "gpt4o-prod", **body},
                       headers={"api-key": KEY}, timeout=5)
    assert v1.status_code == 200 and fake_openai.last_request.flavor == "azure_v1"
    assert fake_openai.invalid == []
    fake_openai.expect_invalid()
    no_version = requests.post(fake_openai.azure_chat_url("gpt4o-prod", None), json=body,
                               headers={"api-key": KEY}, timeout=5)
    assert no_version.status_code == 404
    assert fake_openai.invalid == [
        "POST /openai/deployments/gpt4o-prod/chat/completions: "
        "Azure deployment URL without api-version"]


def test_endpoint_queues_and_kind_mismatch():
    with FakeOpenAI() as fake:
        fake.push(moderation_reply(True), endpoint="moderations")
        fake.push(chat_reply("for chat"))
        assert chat(fake).json()["choices"][0]["message"]["content"] == "for chat"
        flagged = requests.post(fake.moderations_url, json={"input": "x"}, headers=AUTH,
                                timeout=5).json()["results"][0]
        assert flagged["flagged"] and flagged["categories"]["violence"]
        fake.push(chat_reply("wrong endpoint"))
        response = requests.post(fake.moderations_url, json={"input": "x"}, headers=AUTH,
                                 timeout=5)
        assert response.status_code == 500
        assert "a chat reply was served to moderations" in fake.errors[0]
        assert fake.teardown_problems()


# -- faults ----------------------------------------------------------------------------------


def test_error_replies(fake_openai):
    fake_openai.push(
        rate_limit_reply(retry_after=2, retry_after_ms=1500, should_retry=True),
        insufficient_quota_reply(),
        unsupported_parameter_reply(),
        unsupported_value_reply("temperature", 0.2),
        azure_content_filter_reply(),
        llamacpp_error_reply(),
        html_error_reply(502),
        error_reply(503, headers={"x-should-retry": "false"}),
        error_reply(500, "upstream exploded"),
    )
    limited = chat(fake_openai)
    assert limited.status_code == 429
    assert (limited.headers["Retry-After"], limited.headers["retry-after-ms"],
            limited.headers["x-should-retry"]) == ("2", "1500", "true")
    assert limited.json()["error"]["code"] == "rate_limit_exceeded"
    quota = chat(fake_openai)
    assert quota.json()["error"]["type"] == "insufficient_quota"
    assert "Retry-After" not in quota.headers
    assert chat(fake_openai).json() == {"error": {
        "message": "Unsupported parameter: 'max_tokens' is not supported with this model. "
                   "Use 'max_completion_tokens' instead.",
        "type": "invalid_request_error", "param": "max_tokens", "code": "unsupported_parameter"}}
    assert chat(fake_openai).json()["error"]["message"] == (
        "Unsupported value: 'temperature' does not support 0.2 with this model. Only the "
        "default (1) value is supported.")
    filtered = chat(fake_openai).json()["error"]
    assert (filtered["code"], filtered["type"]) == ("content_filter", None)
    llama = chat(fake_openai)
    assert llama.status_code == 400 and llama.json()["error"]["code"] == 400
    html = chat(fake_openai)
    assert html.status_code == 502 and html.headers["Content-Type"].startswith("text/html")
    assert "<h1>502 Bad Gateway</h1>" in html.text
    overloaded = chat(fake_openai)
    assert overloaded.status_code == 503 and overloaded.headers["x-should-retry"] == "false"
    plain = chat(fake_openai)
    assert (plain.status_code, plain.text) == (500, "upstream exploded")
    assert all(r.headers.get("x-request-id") for r in [limited, quota, llama, html, plain])


def test_raw_invalid_json_and_off_spec_json(fake_openai):
    fake_openai.push(raw_reply(), json_reply({"choices": [{"message": {"content": "x"},
                                                           "finish_reason": None}]}))
    broken = chat(fake_openai)
    assert broken.status_code == 200
    with pytest.raises(ValueError):
        broken.json()
    assert chat(fake_openai).json()["choices"][0]["finish_reason"] is None


def test_drop_closes_the_connection_mid_body(fake_openai):
    fake_openai.push(drop_reply(), drop_reply(chat_reply("partial")))
    for _ in range(2):
        with pytest.raises(requests.exceptions.ChunkedEncodingError):
            chat(fake_openai)
    assert chat(fake_openai).status_code == 200  # the server is still fine


def test_delay_causes_a_read_timeout(fake_openai):
    fake_openai.push(delay_reply(2.0))
    with pytest.raises(requests.exceptions.ReadTimeout):
        requests.post(fake_openai.chat_url, json={"model": "m", "messages": USER}, headers=AUTH,
                      timeout=0.2)
    fake_openai.delay = 0.05  # default delay: applies to default answers
    assert chat(fake_openai).status_code == 200


def test_bad_scripted_replies_raise_in_the_test():
    if specs.load_spec()[0] is None:
        pytest.skip("needs the spec folder")
    with pytest.raises(InvalidReply, match="finish_reason"):
        chat_reply("x", finish_reason="done")
    with pytest.raises(InvalidReply, match="categories"):
        moderation_reply(null_categories=["hate"])
    with pytest.raises(ValueError, match="unknown moderation categories"):
        moderation_result(categories=["rudeness"])
    with FakeOpenAI() as fake:
        def explode(request: RecordedRequest) -> Reply:
            raise ZeroDivisionError("scripted callable failed")

        fake.push(Reply(body={"choices": []}, kind="chat"), explode)
        assert chat(fake).status_code == 500
        assert chat(fake).status_code == 500
        assert "ChatCompletionResponse invalid" in fake.errors[0]
        assert "ZeroDivisionError" in fake.errors[1]


# -- spec location ---------------------------------------------------------------------------


def test_validators_are_compiled_once():
    spec, reason = specs.load_spec()
    if spec is None:
        pytest.skip(str(reason))
    assert specs.load_spec()[0] is spec
    assert spec.validator("requests", "ChatCompletionRequest") is spec.validator(
        "requests", "ChatCompletionRequest")


def test_missing_spec_skips_validation_visibly(monkeypatch, tmp_path, caplog, capsys):
    monkeypatch.setenv(ENV_VAR, str(tmp_path / "nowhere"))
    with caplog.at_level(logging.WARNING, logger="tests.fakes"), FakeOpenAI() as fake:
        reason = fake.schema_skipped_reason
        assert fake.spec is None and reason is not None
        assert str(tmp_path / "nowhere") in reason and ENV_VAR in reason
        assert reason in caplog.text
        assert "validation skipped" in capsys.readouterr().err
        loose = {"model": "m", "messages": USER, "temperature": 2.5, "max_token": 1}
        assert chat(fake, loose).status_code == 200  # schema checks are off ...
        orphan = {"model": "m", "messages": [*USER, {"role": "tool", "content": "x",
                                                     "tool_call_id": "c"}]}
        assert chat(fake, orphan).status_code == 400  # ... spec-free checks are not
        assert chat_reply("x", finish_reason="done").kind == "chat"  # builders stop checking
    caplog.clear()
    FakeOpenAI()
    assert "validation skipped" not in caplog.text  # logged once per folder


# -- command line under gevent ---------------------------------------------------------------


def test_cli_gevent_serves_concurrent_delayed_requests():
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    command = [sys.executable, "-m", "tests.fakes.openai_fake", "--port", "0", "--server",
               "gevent", "--delay-ms", "500", "--no-validate"]
    with subprocess.Popen(command, cwd=REPO, env=env, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True) as process:
        try:
            assert process.stdout is not None
            line = process.stdout.readline()
            match = re.search(r"listening on (\S+)", line)
            assert match, line + (process.stderr.read() if process.stderr else "")
            base = match[1]
            barrier = threading.Barrier(40)

            def call(_):
                barrier.wait()
                return requests.post(f"{base}/chat/completions", headers=AUTH, timeout=10,
                                     json={"model": "m", "messages": USER}).status_code

            with ThreadPoolExecutor(40) as pool:
                assert list(pool.map(call, range(40))) == [200] * 40
            stats = requests.get(base.replace("/v1", "/_fake/stats"), timeout=5).json()
            assert stats["requests"] == 40
            assert stats["max_in_flight"] >= 30  # served concurrently, not one after another
        finally:
            process.terminate()
            process.wait(timeout=10)

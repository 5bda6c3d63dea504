"""Fault injection through real WorkflowGen contexts: every case ends in a correct result or
the documented error, in both APP_RESPONSE_IGNORE_ERROR modes. Backoff delays are recorded by
the ``sleeps`` fixture instead of slept."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import pytest
from werkzeug.test import Client as WebClient

from tests.fakes import anthropic_replies as areplies
from tests.fakes import replies
from tests.fakes.anthropic_server import FakeAnthropic
from tests.fakes.server import FakeOpenAI
from tests.helpers import FORMATS, SECRET_KEY, out, param, post
from workflowapp.context.model import Format

OUTS = (out("RESULT_CONTENT"), out("APP_RESPONSE_STATUS"), out("APP_RESPONSE_CONTENT"),
        out("RESULT_RETRIES", "NUMERIC"), out("RESULT_REQUEST_ID"))


def chat(client: WebClient, *params: Any, ignore: bool = False,
         fmt: Format = Format.DATASET) -> Any:
    flag = param("APP_RESPONSE_IGNORE_ERROR", "Y" if ignore else "N")
    return post(client, "OPENAICHAT", param("MODEL", "gpt-4o-mini"),
                param("USER_MESSAGE", "hello"), flag, *OUTS, *params, fmt=fmt)


@pytest.mark.parametrize(
    ("fault", "expected_sleep"),
    [
        (replies.rate_limit_reply(retry_after=1), 1.0),
        (replies.rate_limit_reply(retry_after=None, retry_after_ms=250), 0.25),
        (replies.error_reply(503, replies.error_body("overloaded", "server_error")), None),
        (replies.error_reply(500, replies.error_body("boom", "server_error")), None),
        (replies.error_reply(502, "<html><title>Bad gateway</title></html>"), None),
        (replies.error_reply(408, replies.error_body("timeout")), None),
        (replies.drop_reply(), None),
    ],
)
def test_transient_faults_recover(
    client: WebClient, fake_openai: FakeOpenAI, sleeps: list[float], fault: Any,
    expected_sleep: float | None,
) -> None:
    fake_openai.push(fault, replies.chat_reply("recovered"))
    reply = chat(client)
    assert reply.status == 200, reply.text
    assert reply["RESULT_CONTENT"] == "recovered"
    assert reply["RESULT_RETRIES"] == 1
    assert reply["APP_RESPONSE_STATUS"] == "200"
    assert len(sleeps) == 1
    if expected_sleep is not None:
        assert sleeps[0] == pytest.approx(expected_sleep)
    else:
        assert 0.375 <= sleeps[0] <= 0.5, "first backoff is 0.5 s less up to 25 % jitter"


def test_retry_after_as_http_date(
    client: WebClient, fake_openai: FakeOpenAI, sleeps: list[float]
) -> None:
    when = format_datetime(datetime.now(UTC) + timedelta(seconds=3), usegmt=True)
    fake_openai.push(replies.rate_limit_reply(retry_after=when), replies.chat_reply("ok"))
    assert chat(client).status == 200
    assert 1.0 <= sleeps[0] <= 3.5


@pytest.mark.parametrize("ignore", [False, True])
def test_exhausted_retries(
    client: WebClient, fake_openai: FakeOpenAI, sleeps: list[float], ignore: bool
) -> None:
    fake_openai.push(*[replies.error_reply(503, replies.error_body("overloaded", "server_error"))
                       for _ in range(3)])
    reply = chat(client, ignore=ignore)
    assert len(fake_openai.requests) == 3 and len(sleeps) == 2
    if ignore:
        assert reply.status == 200
        assert reply["APP_RESPONSE_STATUS"] == "503"
        assert "overloaded" in reply["APP_RESPONSE_CONTENT"]
        assert reply["RESULT_RETRIES"] == 2
        assert reply["RESULT_CONTENT"] is None
    else:
        assert reply.status == 502
        assert "503" in reply.text and "2 retries" in reply.text


def test_max_retries_parameter(
    client: WebClient, fake_openai: FakeOpenAI, sleeps: list[float]
) -> None:
    fake_openai.push(*[replies.error_reply(500, replies.error_body("x", "server_error"))] * 5)
    reply = chat(client, param("MAX_RETRIES", 0))
    assert reply.status == 502
    assert len(fake_openai.requests) == 1 and sleeps == []


@pytest.mark.parametrize("ignore", [False, True])
def test_quota_is_not_a_rate_limit_and_is_not_retried(
    client: WebClient, fake_openai: FakeOpenAI, sleeps: list[float], ignore: bool
) -> None:
    fake_openai.push(replies.insufficient_quota_reply())
    reply = chat(client, ignore=ignore)
    assert len(fake_openai.requests) == 1 and sleeps == []
    if ignore:
        assert reply["APP_RESPONSE_STATUS"] == "429"
        assert "insufficient_quota" in reply["APP_RESPONSE_CONTENT"]
    else:
        assert reply.status == 502
        assert "quota exhausted" in reply.text


def test_rate_limit_exhausted_says_rate_limited(
    client: WebClient, fake_openai: FakeOpenAI, sleeps: list[float]
) -> None:
    fake_openai.push(*[replies.rate_limit_reply(retry_after=2) for _ in range(3)])
    reply = chat(client)
    assert reply.status == 502
    assert "rate limited" in reply.text
    assert sleeps == [2.0, 2.0]


def test_retry_after_above_the_cap_is_not_waited(
    client: WebClient, fake_openai: FakeOpenAI, sleeps: list[float]
) -> None:
    fake_openai.push(replies.rate_limit_reply(retry_after=600))
    reply = chat(client)
    assert reply.status == 502 and sleeps == []
    assert "600" in reply.text


def test_x_should_retry_false_is_obeyed(
    client: WebClient, fake_openai: FakeOpenAI, sleeps: list[float]
) -> None:
    fake_openai.push(replies.error_reply(500, replies.error_body("no", "server_error"),
                                         headers={"x-should-retry": "false"}))
    assert chat(client).status == 502
    assert len(fake_openai.requests) == 1


@pytest.mark.parametrize("ignore", [False, True])
def test_read_timeout_is_504(client: WebClient, fake_openai: FakeOpenAI, ignore: bool) -> None:
    fake_openai.push(replies.delay_reply(3.0))
    reply = chat(client, param("TIMEOUT", 1), param("MAX_RETRIES", 0), ignore=ignore)
    if ignore:
        assert reply.status == 200
        assert reply["APP_RESPONSE_STATUS"] == "timeout"
    else:
        assert reply.status == 504
        assert "1 s" in reply.text or "timeout" in reply.text.lower()


@pytest.mark.parametrize(
    ("fault", "fragment"),
    [
        (replies.raw_reply(), "JSON"),
        (replies.json_reply({"id": "x", "object": "chat.completion", "choices": []}), "choices"),
        (replies.html_error_reply(404), "404"),
        (replies.llamacpp_error_reply(), "context"),
        (replies.context_length_reply(), "context_length_exceeded"),
    ],
)
def test_unusable_answers_are_502(
    client: WebClient, fake_openai: FakeOpenAI, fault: Any, fragment: str
) -> None:
    fake_openai.push(fault)
    reply = chat(client)
    assert reply.status == 502
    assert fragment in reply.text
    assert "Traceback" not in reply.text


def test_dropped_connections_exhaust_into_connection_error(
    client: WebClient, fake_openai: FakeOpenAI
) -> None:
    fake_openai.push(*[replies.drop_reply() for _ in range(3)])
    reply = chat(client, ignore=True)
    assert reply["APP_RESPONSE_STATUS"] == "connection_error"


def test_unreachable_upstream(make_client: Callable[..., WebClient], fake_openai: FakeOpenAI
                              ) -> None:
    client = make_client(OpenAIChatApiUrl="http://127.0.0.1:9/v1/chat/completions")
    reply = chat(client, param("MAX_RETRIES", 0), ignore=True)
    assert reply["APP_RESPONSE_STATUS"] == "connection_error"


def test_reasoning_model_max_tokens_is_renamed_and_remembered(
    client: WebClient, fake_openai: FakeOpenAI
) -> None:
    model = "o-reasoner-renamed"
    fake_openai.push(replies.unsupported_parameter_reply("max_tokens"), replies.chat_reply("a"),
                     replies.chat_reply("b"))
    for expected in ("a", "b"):
        reply = post(client, "OPENAICHAT", param("MODEL", model), param("USER_MESSAGE", "x"),
                     out("RESULT_CONTENT"), out("RESULT_RETRIES", "NUMERIC"))
        assert reply.status == 200, reply.text
        assert reply["RESULT_CONTENT"] == expected
        assert reply["RESULT_RETRIES"] == 0
    bodies = [r.json for r in fake_openai.requests]
    assert "max_tokens" in bodies[0]
    assert bodies[1]["max_completion_tokens"] == 256 and "max_tokens" not in bodies[1]
    assert bodies[2]["max_completion_tokens"] == 256, "remembered for the next call"


def test_reasoning_model_temperature_is_dropped(client: WebClient, fake_openai: FakeOpenAI
                                                ) -> None:
    fake_openai.push(replies.unsupported_value_reply("temperature", 0.2), replies.chat_reply())
    reply = post(client, "OPENAICHAT", param("MODEL", "gpt-5-dropper"), param("USER_MESSAGE", "x"),
                 param("TEMPERATURE", 0.2))
    assert reply.status == 200, reply.text
    first, second = (r.json for r in fake_openai.requests)
    assert first["temperature"] == 0.2 and "temperature" not in second


def test_azure_classic_deployment_url(client: WebClient, fake_openai: FakeOpenAI) -> None:
    url = fake_openai.azure_chat_url("my-gpt4o", api_version=None)
    reply = chat(client, param("URL", url))
    assert reply.status == 200, reply.text
    request = fake_openai.last_request
    assert request.headers.get("api-key") == SECRET_KEY
    assert "Authorization" not in request.headers
    assert request.query["api-version"] == "2024-10-21"
    assert request.deployment == "my-gpt4o"
    assert "max_tokens" in request.json


def test_azure_v1_url(client: WebClient, fake_openai: FakeOpenAI) -> None:
    reply = chat(client, param("URL", fake_openai.azure_v1_chat_url), param("PROVIDER", "azure"))
    assert reply.status == 200, reply.text
    assert fake_openai.last_request.headers.get("api-key") == SECRET_KEY
    assert "api-version" not in fake_openai.last_request.query


def test_azure_deployment_not_found_explains(client: WebClient, fake_openai: FakeOpenAI
                                             ) -> None:
    fake_openai.deployments = frozenset({"real-deployment"})
    reply = chat(client, param("URL", fake_openai.azure_chat_url("gpt-4o")), ignore=False)
    assert reply.status == 502
    assert "deployment" in reply.text.lower() and "not the model name" in reply.text


@pytest.mark.parametrize("ignore", [False, True])
def test_azure_content_filter(client: WebClient, fake_openai: FakeOpenAI, ignore: bool) -> None:
    fake_openai.push(replies.azure_content_filter_reply())
    reply = chat(client, param("URL", fake_openai.azure_chat_url("dep")), ignore=ignore)
    if ignore:
        assert reply["APP_RESPONSE_STATUS"] == "400"
        assert "content_filter" in reply["APP_RESPONSE_CONTENT"]
    else:
        assert reply.status == 502 and "filter" in reply.text.lower()


def test_compatible_server_quirks(client: WebClient, fake_openai: FakeOpenAI) -> None:
    history = [
        {"role": "developer", "content": "be brief"},
        {"role": "user", "content": "q"},
        {"role": "assistant", "content": None,
         "tool_calls": [{"id": "c1", "type": "function",
                         "function": {"name": "T", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": "c1", "content": "r"},
    ]
    fake_openai.push(replies.json_reply({
        "id": "x", "object": "chat.completion", "created": 1, "model": "llama",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "done"},
                     "finish_reason": None}]}))
    reply = post(client, "OPENAICHAT", param("MODEL", "llama"),
                 param("MESSAGE_HISTORY", json.dumps(history), "INOUT"),
                 param("PROVIDER", "compatible"), out("RESULT_CONTENT"),
                 out("RESULT_TOTAL_TOKENS", "NUMERIC"), out("FINISH_REASON"))
    assert reply.status == 200, reply.text
    assert reply["RESULT_CONTENT"] == "done"
    assert reply["RESULT_TOTAL_TOKENS"] is None and reply["FINISH_REASON"] is None
    sent = fake_openai.last_request.json["messages"]
    assert sent[0]["role"] == "system"
    assert sent[2]["content"] == ""
    assert json.loads(reply["MESSAGE_HISTORY"])[2]["content"] is None, "history kept as given"


# --- Anthropic's errors (the native Messages API through its fake) ------------------------

ANTHROPIC_KEY = "sk-ant-faults-SECRET-0123456789"


@pytest.fixture
def anthropic_client(make_client: Callable[..., WebClient], fake_anthropic: FakeAnthropic
                     ) -> WebClient:
    return make_client(AnthropicApiKey=ANTHROPIC_KEY,
                       AnthropicChatApiUrl=fake_anthropic.messages_url)


def claude(client: WebClient, *params: Any, ignore: bool = False) -> Any:
    return chat(client, param("PROVIDER", "anthropic"), *params, ignore=ignore)


@pytest.mark.parametrize(
    ("fault", "expected_sleep"),
    [
        (areplies.overloaded_reply(), None),  # 529 retried like a 503
        (areplies.overloaded_reply(retry_after=2), 2.0),
        (areplies.api_error_reply(), None),
        (areplies.anthropic_rate_limit_reply(retry_after=3), 3.0),
        (areplies.anthropic_rate_limit_reply(retry_after=None), None),  # a rate limit still
        (areplies.drop_reply(), None),
    ],
)
def test_anthropic_transient_faults_recover(
    anthropic_client: WebClient, fake_anthropic: FakeAnthropic, sleeps: list[float],
    fault: Any, expected_sleep: float | None,
) -> None:
    fake_anthropic.push(fault, areplies.text_reply("recovered"))
    reply = claude(anthropic_client)
    assert reply.status == 200, reply.text
    assert reply["RESULT_CONTENT"] == "recovered"
    assert reply["RESULT_RETRIES"] == 1
    assert reply["RESULT_REQUEST_ID"] == fake_anthropic.last_request.request_id
    assert len(sleeps) == 1
    if expected_sleep is not None:
        assert sleeps[0] == pytest.approx(expected_sleep)
    else:
        assert 0.375 <= sleeps[0] <= 0.5


@pytest.mark.parametrize("ignore", [False, True])
def test_anthropic_spend_limit_is_not_retried(
    anthropic_client: WebClient, fake_anthropic: FakeAnthropic, sleeps: list[float],
    ignore: bool,
) -> None:
    fake_anthropic.push(areplies.spend_limit_reply())
    reply = claude(anthropic_client, ignore=ignore)
    assert len(fake_anthropic.requests) == 1 and sleeps == []
    text = reply["APP_RESPONSE_CONTENT"] if ignore else reply.text
    if ignore:
        assert reply["APP_RESPONSE_STATUS"] == "429"
        assert json.loads(text)["error"]["details"]["error_code"] == \
            "enforced_spend_limit_reached"
    else:
        assert reply.status == 502
        assert "spend limit" in text and "rate limit" not in text.replace("not a rate limit", "")
        assert text.startswith("Anthropic answered 429 (rate_limit_error)")


@pytest.mark.parametrize(("status", "label"), [(400, "invalid_request_error"),
                                                (401, "authentication_error"),
                                                (403, "permission_error")])
def test_anthropic_client_errors_are_not_retried_and_read(
    anthropic_client: WebClient, fake_anthropic: FakeAnthropic, sleeps: list[float],
    status: int, label: str,
) -> None:
    fake_anthropic.push(*[areplies.anthropic_error(status, f"problem {status}")] * 2)
    reply = claude(anthropic_client, ignore=True)
    assert reply.status == 200
    assert reply["APP_RESPONSE_STATUS"] == str(status)
    assert json.loads(reply["APP_RESPONSE_CONTENT"])["error"]["type"] == label
    assert reply["RESULT_REQUEST_ID"] == fake_anthropic.last_request.request_id
    assert len(fake_anthropic.requests) == 1 and sleeps == []
    failed = claude(anthropic_client)
    assert failed.status == 502
    assert failed.text.strip() == f"Anthropic answered {status} ({label}): problem {status}"


def test_anthropic_exhausted_retries(
    anthropic_client: WebClient, fake_anthropic: FakeAnthropic
) -> None:
    fake_anthropic.push(*[areplies.overloaded_reply() for _ in range(3)])
    reply = claude(anthropic_client, ignore=True)
    assert reply["APP_RESPONSE_STATUS"] == "529"
    assert reply["RESULT_RETRIES"] == 2
    fake_anthropic.push(*[areplies.drop_reply() for _ in range(3)])
    dropped = claude(anthropic_client, ignore=True)
    assert dropped["APP_RESPONSE_STATUS"] == "connection_error"


def test_anthropic_refused_structured_output_falls_back_to_a_forced_tool(
    anthropic_client: WebClient, fake_anthropic: FakeAnthropic
) -> None:
    schema = {"name": "advice", "schema": {"type": "object",
                                           "properties": {"advice": {"type": "string"}},
                                           "required": ["advice"]}}
    fake_anthropic.push(
        areplies.anthropic_error(400, "output_config.format: Extra inputs are not permitted"),
        areplies.structured_reply({"advice": "wait"}),
        areplies.structured_reply({"advice": "again"}),
    )
    params = (param("RESPONSE_FORMAT", "json_schema"),
              param("RESPONSE_FORMAT_JSON_SCHEMA", json.dumps(schema)), out("advice"),
              out("FINISH_REASON"))
    reply = claude(anthropic_client, *params)
    assert reply.status == 200, reply.text
    assert (reply["advice"], reply["FINISH_REASON"]) == ("wait", "stop")
    first, second = (r.json for r in fake_anthropic.requests)
    assert "output_config" in first and "output_config" not in second
    assert second["tool_choice"] == {"type": "tool", "name": "json_answer"}
    assert claude(anthropic_client, *params)["advice"] == "again"  # remembered: sent directly
    assert "output_config" not in fake_anthropic.requests[-1].json
    assert len(fake_anthropic.requests) == 3


def test_anthropic_several_choices(anthropic_client: WebClient,
                                   fake_anthropic: FakeAnthropic) -> None:
    fake_anthropic.push(areplies.text_reply("one", usage=(10, 1, 0, 6)),
                        areplies.text_reply("two", usage=(10, 2, 0, 6)))
    reply = claude(anthropic_client, param("NUMBER_OF_CHOICES", 2),
                   param("MESSAGE_HISTORY", None, "INOUT"), out("RESULT_CONTENTS"),
                   out("RESULT_PROMPT_TOKENS", "NUMERIC"), out("RESULT_CACHED_TOKENS", "NUMERIC"),
                   out("RESULT"))
    assert reply.status == 200, reply.text
    assert json.loads(reply["RESULT_CONTENTS"]) == ["one", "two"]
    assert (reply["RESULT_PROMPT_TOKENS"], reply["RESULT_CACHED_TOKENS"]) == (32, 12)
    assert [b["content"][0]["text"] for b in json.loads(reply["RESULT"])] == ["one", "two"]
    assert [m["role"] for m in json.loads(reply["MESSAGE_HISTORY"])] == ["user", "assistant"]
    assert len(fake_anthropic.requests) == 2


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("ignore", [False, True])
def test_anthropic_refusal_is_the_content_filter_error(
    anthropic_client: WebClient, fake_anthropic: FakeAnthropic, fmt: Format, ignore: bool
) -> None:
    # README: stop_reason refusal -> content_filter, and content_filter is a 502.
    fake_anthropic.push(areplies.refusal_reply("I can't help with", category="cyber"))
    reply = chat(anthropic_client, param("PROVIDER", "anthropic"), out("FINISH_REASON"),
                 ignore=ignore, fmt=fmt)
    assert len(fake_anthropic.requests) == 1
    if ignore:
        assert reply.status == 200, reply.text
        assert reply["APP_RESPONSE_STATUS"] == "content_filter"
        body = json.loads(reply["APP_RESPONSE_CONTENT"])
        assert body["stop_reason"] == "refusal"
        assert body["stop_details"]["category"] == "cyber"
        assert reply["RESULT_CONTENT"] is None and reply["FINISH_REASON"] is None
    else:
        assert reply.status == 502
        assert "content filter" in reply.text and "Traceback" not in reply.text


@pytest.mark.parametrize("fmt", FORMATS)
def test_anthropic_max_tokens_is_finish_reason_length(
    anthropic_client: WebClient, fake_anthropic: FakeAnthropic, fmt: Format
) -> None:
    fake_anthropic.push(areplies.max_tokens_reply("This answer was cut", usage=(12, 3)))
    reply = chat(anthropic_client, param("PROVIDER", "anthropic"), param("MAX_TOKENS", 3),
                 out("FINISH_REASON"), out("RESULT_COMPLETION_TOKENS", "NUMERIC"), fmt=fmt)
    assert reply.status == 200, reply.text
    assert reply["FINISH_REASON"] == "length"
    assert reply["RESULT_CONTENT"] == "This answer was cut"
    assert reply["RESULT_COMPLETION_TOKENS"] == 3
    assert fake_anthropic.last_request.json["max_tokens"] == 3


def test_anthropic_max_tokens_cutting_a_json_answer_is_the_length_error(
    anthropic_client: WebClient, fake_anthropic: FakeAnthropic
) -> None:
    fake_anthropic.push(areplies.max_tokens_reply('{"advice": "Ca'),
                        areplies.max_tokens_reply('{"advice": "Ca'))
    params = (param("PROVIDER", "anthropic"), param("RESPONSE_FORMAT", "json_object"),
              out("advice"))
    ignored = chat(anthropic_client, *params, ignore=True)
    assert ignored.status == 200, ignored.text
    assert ignored["APP_RESPONSE_STATUS"] == "length"
    assert ignored["advice"] is None
    failed = chat(anthropic_client, *params)
    assert failed.status == 502 and "MAX_TOKENS" in failed.text


@pytest.mark.parametrize("ignore", [False, True])
def test_anthropic_read_timeout_is_504(
    anthropic_client: WebClient, fake_anthropic: FakeAnthropic, ignore: bool
) -> None:
    fake_anthropic.push(areplies.delay_reply(3.0))
    reply = claude(anthropic_client, param("TIMEOUT", 1), param("MAX_RETRIES", 0),
                   ignore=ignore)
    assert len(fake_anthropic.requests) == 1
    if ignore:
        assert reply.status == 200
        assert reply["APP_RESPONSE_STATUS"] == "timeout"
        assert "Anthropic" in reply["APP_RESPONSE_CONTENT"]
        assert reply["RESULT_CONTENT"] is None
    else:
        assert reply.status == 504
        assert reply.text.startswith("Anthropic") and "1 s" in reply.text


# --- what running against llama.cpp taught (issue 10) ------------------------------------


def test_501_is_never_retried(client: WebClient, fake_openai: FakeOpenAI,
                              sleeps: list[float]) -> None:
    fake_openai.push(replies.error_reply(501, replies.error_body("not implemented")))
    reply = chat(client, ignore=True)
    assert reply["APP_RESPONSE_STATUS"] == "501" and len(fake_openai.requests) == 1
    assert sleeps == []


def test_404_names_the_endpoint(client: WebClient, fake_openai: FakeOpenAI) -> None:
    fake_openai.push(replies.error_reply(404, replies.error_body("File Not Found",
                                                                 "not_found_error")))
    reply = chat(client)
    assert reply.status == 502
    assert fake_openai.chat_url in reply.text and "may not offer this API" in reply.text


def test_keyless_compatible_server_asking_for_a_key_names_the_settings(
    make_client: Callable[..., WebClient], fake_openai: FakeOpenAI
) -> None:
    client = make_client(OpenAIApiKey="")
    fake_openai.push(replies.error_reply(401, replies.error_body("Missing API key")))
    reply = chat(client)
    assert reply.status == 502
    assert "OpenAIApiKey" in reply.text and "API_KEY" in reply.text


@pytest.mark.parametrize("fmt", FORMATS)
def test_keyless_compatible_server_answering_403_names_the_settings(
    make_client: Callable[..., WebClient], fake_openai: FakeOpenAI, sleeps: list[float],
    fmt: Format,
) -> None:
    fake_openai.require_auth = False  # the scripted 403 answers, not the fake's own 401
    client = make_client(OpenAIApiKey="")
    forbidden = replies.error_reply(403, replies.error_body("Forbidden", "permission_error"))
    fake_openai.push(forbidden, forbidden)
    reply = chat(client, fmt=fmt)
    assert reply.status == 502
    assert "403" in reply.text
    assert "OpenAIApiKey" in reply.text and "API_KEY" in reply.text
    assert "authorization" not in fake_openai.last_request.headers
    assert len(fake_openai.requests) == 1 and sleeps == []
    ignored = chat(client, ignore=True, fmt=fmt)
    assert ignored["APP_RESPONSE_STATUS"] == "403"


def test_request_id_falls_back_to_the_body_id(client: WebClient, fake_openai: FakeOpenAI
                                              ) -> None:
    fake_openai.push(replies.chat_reply("hi", headers={"x-request-id": ""}))
    reply = chat(client)
    assert reply.status == 200, reply.text
    assert reply["RESULT_REQUEST_ID"]

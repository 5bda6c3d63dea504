"""The chat sender against ``responses``: run-time adaptations, resends, fan-out, events."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest
import responses

from tests.helpers import typed
from tests.upstream.test_client import KEY, FakeTime, error_body, raw_body
from workflowapp.errors import UpstreamError
from workflowapp.events import Events, UpstreamAttempt, UpstreamRetry
from workflowapp.messages import Message
from workflowapp.upstream import CallOptions, ChatRequest, Client, Endpoint, Profiles, Provider
from workflowapp.upstream.send import send_chat

OPENAI_URL = "https://api.openai.com/v1/chat/completions"
AZURE_URL = "https://res.openai.azure.com/openai/deployments/my-o3/chat/completions"
LOCAL_URL = "http://localhost:11434/v1/chat/completions"
ANTHROPIC_URL = "https://api.anthropic.com/v1/messages"
OK = {"id": "chatcmpl-1", "object": "chat.completion",
      "choices": [{"index": 0, "message": {"role": "assistant", "content": "hi"},
                   "finish_reason": "stop"}],
      "usage": {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4}}
LOG = logging.getLogger("workflowapp.apps.TEST")
UNSUPPORTED_MAX_TOKENS = error_body(
    "Unsupported parameter: 'max_tokens' is not supported with this model. "
    "Use 'max_completion_tokens' instead.",
    "invalid_request_error",
    "unsupported_parameter",
    "max_tokens",
)


@pytest.fixture
def events() -> tuple[Events, list[Any]]:
    hub, seen = Events(), list[Any]()
    hub.subscribe(seen.append)
    return hub, seen


@pytest.fixture
def client(events: tuple[Events, list[Any]]) -> Client:
    fake_time = FakeTime()
    return Client(sleep=fake_time.sleep, clock=fake_time.clock, rng=lambda: 0.0,
                  wallclock=lambda: 1.7e9, events=events[0])


@pytest.fixture
def mock() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        yield rsps


@pytest.fixture
def profiles() -> Profiles:
    return Profiles()


def sent_json(mock: responses.RequestsMock, index: int) -> Any:
    return json.loads(raw_body(mock, index))


def chat(client: Client, profiles: Profiles, url: str = AZURE_URL,
         provider: Provider = Provider.AZURE, **fields: Any) -> Any:
    request = ChatRequest(model="o3", messages=(Message("user", "hi"),), max_tokens=64)
    request = replace(request, **fields)
    endpoint = Endpoint(provider, url, KEY, CallOptions())
    return send_chat(client, endpoint, request, profiles=profiles, log=LOG)


def test_renames_max_tokens_and_remembers(
    client: Client, profiles: Profiles, mock: responses.RequestsMock,
    caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    mock.post(AZURE_URL, status=400, json=UNSUPPORTED_MAX_TOKENS)
    mock.post(AZURE_URL, json=OK)
    result = chat(client, profiles)
    assert result.status == 200 and result.retries == 0
    assert "max_tokens" in sent_json(mock, 0)
    assert sent_json(mock, 1)["max_completion_tokens"] == 64
    assert "max_tokens" not in sent_json(mock, 1)
    assert "model my-o3 does not take max_tokens; using max_completion_tokens" in caplog.text
    chat(client, profiles)  # the second call goes adapted directly
    assert len(mock.calls) == 3
    assert "max_completion_tokens" in sent_json(mock, 2)


def test_drops_rejected_sampling_params(
    client: Client, profiles: Profiles, mock: responses.RequestsMock
) -> None:
    rejected = error_body("Unsupported value: 'temperature' does not support 0.2 with this model.",
                          "invalid_request_error", "unsupported_value", "temperature")
    mock.post(OPENAI_URL, status=400, json=rejected)
    mock.post(OPENAI_URL, json=OK)
    chat(client, profiles, OPENAI_URL, Provider.OPENAI,
         sampling={"temperature": 0.2, "top_p": 0.5})
    first, second = sent_json(mock, 0), sent_json(mock, 1)
    assert first["max_completion_tokens"] == 64 and first["temperature"] == 0.2
    assert "temperature" not in second and second["top_p"] == 0.5


def test_adapts_each_param_once(
    client: Client, profiles: Profiles, mock: responses.RequestsMock
) -> None:
    mock.post(AZURE_URL, status=400, json=UNSUPPORTED_MAX_TOKENS)
    mock.post(AZURE_URL, status=400, json=error_body(
        "Unsupported parameter: 'max_completion_tokens'", "invalid_request_error",
        "unsupported_parameter", "max_completion_tokens"))
    with pytest.raises(UpstreamError) as caught:
        chat(client, profiles)
    assert len(mock.calls) == 2
    assert caught.value.http_status == 400


def test_compatible_rewrites_messages(
    client: Client, profiles: Profiles, mock: responses.RequestsMock
) -> None:
    mock.post(LOCAL_URL, json=OK)
    from workflowapp.messages import TextPart

    chat(client, profiles, LOCAL_URL, Provider.COMPATIBLE, model="llama3", max_tokens=5,
         messages=(Message("developer", (TextPart("be brief"),)), Message("user", "hi")))
    assert sent_json(mock, 0) == {
        "model": "llama3", "max_tokens": 5,
        "messages": [{"role": "system", "content": "be brief"},
                     {"role": "user", "content": "hi"}],
    }


def test_retries_and_adaptation_add_up(
    client: Client, profiles: Profiles, mock: responses.RequestsMock,
    events: tuple[Events, list[Any]]
) -> None:
    mock.post(AZURE_URL, status=503)
    mock.post(AZURE_URL, status=400, json=UNSUPPORTED_MAX_TOKENS)
    mock.post(AZURE_URL, json=OK)
    assert chat(client, profiles).retries == 1
    assert typed(events[1]) == typed([UpstreamAttempt("azure", 503), UpstreamRetry("azure", "503"),
                                      UpstreamAttempt("azure", 400), UpstreamAttempt("azure", 200)])


@pytest.mark.parametrize(("message", "dropped", "kept"), [
    ("`temperature` and `top_p` cannot both be specified for this model. Please use only one.",
     "top_p", "temperature"),
    ("'temperature' is deprecated for this model.", "temperature", "top_p"),
])
def test_anthropic_refusals_are_dropped_resent_once_and_remembered(
    client: Client, profiles: Profiles, mock: responses.RequestsMock, message: str,
    dropped: str, kept: str
) -> None:
    refusal = {"type": "error", "error": {"type": "invalid_request_error", "message": message}}
    answer = {"id": "msg_1", "type": "message", "role": "assistant", "model": "claude",
              "content": [{"type": "text", "text": "hi"}], "stop_reason": "end_turn",
              "stop_sequence": None, "usage": {"input_tokens": 3, "output_tokens": 1}}
    mock.post(ANTHROPIC_URL, status=400, json=refusal)
    mock.post(ANTHROPIC_URL, json=answer)
    mock.post(ANTHROPIC_URL, json=answer)
    sampling = {"temperature": 0.5, "top_p": 0.9}
    assert chat(client, profiles, ANTHROPIC_URL, Provider.ANTHROPIC,
                sampling=sampling).choices[0].message.content == "hi"
    first, second = sent_json(mock, 0), sent_json(mock, 1)
    assert dropped in first and dropped not in second and kept in second
    chat(client, profiles, ANTHROPIC_URL, Provider.ANTHROPIC, sampling=sampling)
    assert dropped not in sent_json(mock, 2) and len(mock.calls) == 3


def test_anthropic_several_choices_are_several_requests_usage_summed(
    client: Client, profiles: Profiles, mock: responses.RequestsMock
) -> None:
    for index in range(3):
        mock.post(ANTHROPIC_URL, json={
            "id": f"msg_{index}", "type": "message", "role": "assistant", "model": "claude",
            "content": [{"type": "text", "text": f"answer {index}"}], "stop_reason": "end_turn",
            "stop_sequence": None,
            "usage": {"input_tokens": 10, "output_tokens": 2, "cache_read_input_tokens": 4}})
    result = chat(client, profiles, ANTHROPIC_URL, Provider.ANTHROPIC, n=3)
    assert [c.message.content for c in result.choices] == ["answer 0", "answer 1", "answer 2"]
    assert [c.index for c in result.choices] == [0, 1, 2]
    assert (result.usage.prompt, result.usage.completion, result.usage.total,
            result.usage.cached) == (42, 6, 48, 12)
    assert [body["id"] for body in json.loads(result.text)] == ["msg_0", "msg_1", "msg_2"]
    assert all("n" not in sent_json(mock, i) for i in range(3))
    assert result.request_id == "msg_0"  # no request-id header: the body's id

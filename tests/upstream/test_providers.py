"""Provider detection and the pure chat-body adaptations."""

from __future__ import annotations

from typing import Any

import pytest

from workflowapp.errors import ParameterError
from workflowapp.upstream.providers import (
    Adaptation,
    ChatProfile,
    Provider,
    adaptation_for,
    apply,
    auth_headers,
    azure_deployment,
    compatible_messages,
    default_token_field,
    detect_provider,
    prepare_chat_body,
    rejected_param,
    with_api_version,
)

AZ_CLASSIC = "https://res.openai.azure.com/openai/deployments/my-gpt/chat/completions"


@pytest.mark.parametrize(
    ("url", "given", "expected"),
    [
        ("https://api.openai.com/v1/chat/completions", None, Provider.OPENAI),
        ("https://API.OpenAI.com:443/v1/chat/completions", None, Provider.OPENAI),
        (AZ_CLASSIC, None, Provider.AZURE),
        ("https://res.openai.azure.com/openai/v1/chat/completions", None, Provider.AZURE),
        (
            "https://res.cognitiveservices.azure.com/openai/v1/chat/completions",
            None,
            Provider.AZURE,
        ),
        ("https://res.services.ai.azure.com/models/chat/completions", None, Provider.AZURE),
        ("https://gateway.corp/openai/deployments/x/chat/completions", None, Provider.AZURE),
        ("http://localhost:11434/v1/chat/completions", None, Provider.COMPATIBLE),
        ("https://api.openai.com.evil.example/v1", None, Provider.COMPATIBLE),
        ("https://notopenai.azure.com.example/v1", None, Provider.COMPATIBLE),
        ("http://localhost:11434/v1/chat/completions", "OpenAI", Provider.OPENAI),
        ("https://api.openai.com/v1/chat/completions", " compatible ", Provider.COMPATIBLE),
        ("https://proxy.corp/v1/chat/completions", "AZURE", Provider.AZURE),
        ("https://api.openai.com/v1/chat/completions", "", Provider.OPENAI),  # empty = not given
    ],
)
def test_detect_provider(url: str, given: str | None, expected: Provider) -> None:
    assert detect_provider(url, given) is expected


def test_unknown_provider_names_the_parameter_and_the_choices() -> None:
    with pytest.raises(ParameterError) as caught:
        detect_provider("https://api.openai.com/v1", "bedrock")
    assert caught.value.parameter == "PROVIDER"
    assert "PROVIDER" in caught.value.message
    for name in ("openai", "azure", "compatible"):
        assert name in caught.value.message


@pytest.mark.parametrize(
    ("url", "provider", "expected"),
    [
        (AZ_CLASSIC, Provider.AZURE, AZ_CLASSIC + "?api-version=2024-10-21"),
        (
            AZ_CLASSIC + "?api-version=2025-01-01",
            Provider.AZURE,
            AZ_CLASSIC + "?api-version=2025-01-01",
        ),
        (AZ_CLASSIC + "?Api-Version=x", Provider.AZURE, AZ_CLASSIC + "?Api-Version=x"),
        (AZ_CLASSIC + "?a=1", Provider.AZURE, AZ_CLASSIC + "?a=1&api-version=2024-10-21"),
        (
            "https://res.openai.azure.com/openai/v1/chat/completions",
            Provider.AZURE,
            "https://res.openai.azure.com/openai/v1/chat/completions",
        ),
        (AZ_CLASSIC, Provider.COMPATIBLE, AZ_CLASSIC),  # only Azure gets it
    ],
)
def test_api_version(url: str, provider: Provider, expected: str) -> None:
    assert with_api_version(url, provider, "2024-10-21") == expected


def test_auth_headers() -> None:
    assert auth_headers(Provider.AZURE, "k") == {"api-key": "k"}
    assert auth_headers(Provider.OPENAI, "k") == {"Authorization": "Bearer k"}
    assert auth_headers(Provider.COMPATIBLE, "k") == {"Authorization": "Bearer k"}


def test_azure_deployment() -> None:
    assert azure_deployment(AZ_CLASSIC + "?api-version=1") == "my-gpt"
    assert azure_deployment("https://api.openai.com/v1/chat/completions") is None


@pytest.mark.parametrize(
    ("provider", "field"),
    [
        (Provider.OPENAI, "max_completion_tokens"),
        (Provider.AZURE, "max_tokens"),
        (Provider.COMPATIBLE, "max_tokens"),
    ],
)
def test_token_field_by_provider(provider: Provider, field: str) -> None:
    assert default_token_field(provider) == field
    body = prepare_chat_body({"model": "m", "messages": [], "max_tokens": 256}, provider)
    assert body == {"model": "m", "messages": [], field: 256}


def test_prepare_does_not_mutate_and_applies_the_profile() -> None:
    body: dict[str, Any] = {
        "model": "o3",
        "max_tokens": 9,
        "temperature": 0.2,
        "logprobs": True,
        "top_logprobs": 2,
        "messages": [],
    }
    profile = ChatProfile(
        token_field="max_completion_tokens", dropped=frozenset({"temperature", "logprobs"})
    )
    out = prepare_chat_body(body, Provider.AZURE, profile)
    assert out == {"model": "o3", "max_completion_tokens": 9, "messages": []}
    assert body["max_tokens"] == 9 and body["temperature"] == 0.2


COMPAT_CASES: list[tuple[dict[str, Any], dict[str, Any]]] = [
    ({"role": "developer", "content": "be brief"}, {"role": "system", "content": "be brief"}),
    (
        {"role": "assistant", "content": None, "tool_calls": [{"id": "1"}]},
        {"role": "assistant", "content": "", "tool_calls": [{"id": "1"}]},
    ),
    (
        {"role": "assistant", "tool_calls": []},
        {"role": "assistant", "content": "", "tool_calls": []},
    ),
    (
        {"role": "user", "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]},
        {"role": "user", "content": "a\nb"},
    ),
    (  # an image part keeps the array
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "a"},
                {"type": "image_url", "image_url": {"url": "data:"}},
            ],
        },
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "a"},
                {"type": "image_url", "image_url": {"url": "data:"}},
            ],
        },
    ),
    ({"role": "user", "content": []}, {"role": "user", "content": []}),
    (
        {"role": "tool", "content": "42", "tool_call_id": "1"},
        {"role": "tool", "content": "42", "tool_call_id": "1"},
    ),
]


@pytest.mark.parametrize(("message", "expected"), COMPAT_CASES)
def test_compatible_messages(message: dict[str, Any], expected: dict[str, Any]) -> None:
    assert compatible_messages([message]) == [expected]


def test_only_compatible_servers_get_message_rewrites() -> None:
    messages: list[dict[str, Any]] = [
        {"role": "developer", "content": "x"},
        {"role": "assistant", "content": None},
    ]
    for provider in (Provider.OPENAI, Provider.AZURE):
        assert prepare_chat_body({"messages": messages}, provider)["messages"] == messages
    rewritten = prepare_chat_body({"messages": messages}, Provider.COMPATIBLE)["messages"]
    assert rewritten == [{"role": "system", "content": "x"}, {"role": "assistant", "content": ""}]
    assert messages[0]["role"] == "developer"  # not mutated


BODY: dict[str, Any] = {
    "model": "o3",
    "max_tokens": 5,
    "max_completion_tokens": 5,
    "temperature": 0.2,
    "n": 2,
    "seed": 1,
    "tools": [],
}


@pytest.mark.parametrize(
    ("status", "code", "param", "message", "expected"),
    [
        (
            400,
            "unsupported_parameter",
            "max_tokens",
            None,
            Adaptation("rename", "max_tokens", "max_completion_tokens"),
        ),
        (
            400,
            "unsupported_parameter",
            "max_completion_tokens",
            None,
            Adaptation("rename", "max_completion_tokens", "max_tokens"),
        ),
        (400, "unsupported_value", "temperature", None, Adaptation("drop", "temperature")),
        (400, "unsupported_parameter", "n", None, Adaptation("drop", "n")),
        (
            400,
            "unsupported_parameter",
            None,  # param only in the message
            "Unsupported parameter: 'max_tokens' is not supported with this model.",
            Adaptation("rename", "max_tokens", "max_completion_tokens"),
        ),
        (
            400,
            "unsupported_value",
            None,
            "Unsupported value: 'temperature' does not support 0.2",
            Adaptation("drop", "temperature"),
        ),
        (400, "unsupported_value", "max_tokens", None, None),  # a bad value is the caller's
        (400, "unsupported_parameter", "seed", None, None),  # not droppable
        (400, "unsupported_parameter", "tools", None, None),
        (400, "unsupported_parameter", "top_p", None, None),  # not in the body
        (400, "invalid_request_error", "temperature", None, None),
        (422, "unsupported_parameter", "temperature", None, None),
        (None, "unsupported_parameter", "temperature", None, None),
    ],
)
def test_adaptation_for(
    status: int | None,
    code: str,
    param: str | None,
    message: str | None,
    expected: Adaptation | None,
) -> None:
    assert adaptation_for(status, code, param, message, BODY) == expected


def test_apply() -> None:
    body = {"max_tokens": 5, "logprobs": True, "top_logprobs": 3, "temperature": 0.1}
    renamed = apply(body, Adaptation("rename", "max_tokens", "max_completion_tokens"))
    assert renamed == {
        "max_completion_tokens": 5,
        "logprobs": True,
        "top_logprobs": 3,
        "temperature": 0.1,
    }
    assert apply(body, Adaptation("drop", "logprobs")) == {"max_tokens": 5, "temperature": 0.1}
    assert body["max_tokens"] == 5


def test_profile_learns() -> None:
    profile = ChatProfile().learn(Adaptation("rename", "max_tokens", "max_completion_tokens"))
    profile = profile.learn(Adaptation("drop", "temperature"))
    assert profile == ChatProfile("max_completion_tokens", frozenset({"temperature"}))


def test_describe_and_rejected_param() -> None:
    text = Adaptation("rename", "max_tokens", "max_completion_tokens").describe("o3")
    assert text == "model o3 does not take max_tokens; using max_completion_tokens"
    assert "temperature" in Adaptation("drop", "temperature").describe("o3")
    assert rejected_param("x", "Unsupported parameter: 'y'") == "x"
    assert rejected_param(None, "something else") is None

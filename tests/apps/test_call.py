"""Input coercion and output conversion of the call runner."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from workflowapp.apps.call import Call, Services, coerce_input, to_text, to_type, yes_no
from workflowapp.apps.registry import IN, NUMERIC, OUT, TEXT, Param
from workflowapp.context.model import DataType, FileRef
from workflowapp.errors import MissingParameter, ParameterError
from workflowapp.upstream import CallOptions, Endpoint

RANGE = Param("T", NUMERIC, IN, "t", minimum=0, maximum=2)
WHOLE = Param("N", NUMERIC, IN, "n", minimum=1, integer=True)
CHOICE = Param("P", TEXT, IN, "p", choices=("openai", "azure"))
FLAG = Param("F", TEXT, IN, "f", yes_no=True)


@pytest.mark.parametrize(("raw", "expected"), [("Y", "Y"), ("yes", "Y"), ("TRUE", "Y"),
                                                ("1", "Y"), ("n", "N"), (" false ", "N"),
                                                ("0", "N")])
def test_yes_no_spellings(raw: str, expected: str) -> None:
    assert yes_no(raw, "F") == expected


def test_yes_no_refuses_others() -> None:
    with pytest.raises(ParameterError, match="F must be Y or N"):
        coerce_input(FLAG, "maybe")


@pytest.mark.parametrize(("raw", "expected"), [(0.5, 0.5), ("1.5", 1.5), (" 2 ", 2.0), (0, 0.0)])
def test_numbers_from_numbers_or_text(raw: object, expected: float) -> None:
    assert coerce_input(RANGE, raw) == expected


@pytest.mark.parametrize(("param", "raw", "message"), [
    (RANGE, 2.5, "between 0 and 2, not 2.5"),
    (RANGE, "1,5", "must be a number"),
    (RANGE, "nan", "must be a number"),
    (RANGE, "1_000", "must be a number"),
    (RANGE, 10**400, "too large"),
    (WHOLE, 2.5, "whole number"),
    (WHOLE, 0, "at least 1"),
])
def test_number_errors_name_the_parameter(param: Param, raw: object, message: str) -> None:
    with pytest.raises(ParameterError, match=message) as info:
        coerce_input(param, raw)
    assert info.value.parameter == param.name


def test_empty_means_no_value() -> None:
    assert coerce_input(RANGE, "") is None and coerce_input(RANGE, None) is None


def test_choices_are_case_insensitive() -> None:
    assert coerce_input(CHOICE, "Azure") == "azure"
    with pytest.raises(ParameterError, match="openai, azure"):
        coerce_input(CHOICE, "anthropic")


def test_text_forms() -> None:
    assert to_text(256.0) == "256" and to_text(0.25) == "0.25" and to_text(True) == "true"
    assert to_text(12345678901234567890) == "12345678901234567890", "integers stay exact"
    assert to_text({"a": [1, "é"]}) == '{"a": [1, "é"]}'
    assert to_text(datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)) == "2024-01-02T03:04:05Z"
    assert to_text(FileRef(path="C:\\a.wav")) == "C:\\a.wav"


def test_output_conversion_by_declared_type() -> None:
    assert to_type("12.5", DataType.NUMERIC, "X") == 12.5
    assert to_type(3, DataType.TEXT, "X") == "3"
    assert to_type("", DataType.TEXT, "X") is None
    when = to_type("2024-03-15T09:30:00-05:00", DataType.DATETIME, "X")
    assert when == datetime(2024, 3, 15, 14, 30, tzinfo=UTC)
    with pytest.raises(ParameterError, match="X is NUMERIC"):
        to_type("high", DataType.NUMERIC, "X")
    with pytest.raises(ParameterError, match="X is DATETIME"):
        to_type("soon", DataType.DATETIME, "X")
    with pytest.raises(ParameterError, match="FILE"):
        to_type("text", DataType.FILE, "X")


def _call(settings: dict[str, str], timeout: float | None = None) -> CallOptions:
    import logging

    from workflowapp.apps import registry
    from workflowapp.apps.call import Call, Services
    from workflowapp.context.model import Context, Direction, Parameter
    from workflowapp.settings import Settings
    from workflowapp.upstream import Client

    context = Context()
    if timeout is not None:
        context.add(Parameter("TIMEOUT", DataType.NUMERIC, Direction.IN, timeout))
    call = Call(registry.get("OPENAICHAT"), context, Services(Settings(settings), Client()),
                logging.getLogger("test"))
    call.inputs["TIMEOUT"] = timeout
    return call.options()


def test_deadline_defaults_to_the_setting_and_bounds_the_reads() -> None:
    options = _call({})
    assert (options.deadline, options.read_timeout, options.connect_timeout) == (900, 600, 5)
    short = _call({"WorkflowAppDeadline": "30", "WorkflowAppMaxRetries": "4"})
    assert (short.deadline, short.read_timeout, short.max_retries) == (30, 30, 4)
    given = _call({}, timeout=2.0)
    assert (given.deadline, given.read_timeout, given.connect_timeout) == (2, 2, 2)


def _validated(app_params: tuple[Param, ...], *received: tuple[str, str, str | float]) -> Call:
    """A Call of a throw-away application on a context of (name, direction, value) triples."""
    import logging

    from workflowapp.apps.registry import App
    from workflowapp.context.model import Context, Direction, Parameter
    from workflowapp.settings import Settings
    from workflowapp.upstream import Client

    context = Context()
    for name, direction, value in received:
        data_type = DataType.NUMERIC if isinstance(value, float) else DataType.TEXT
        context.add(Parameter(name, data_type, Direction(direction), value))
    app = App("T", "test", app_params, "TLogLevel", lambda call: None, calls_upstream=False)
    call = Call(app, context, Services(Settings({}), Client()), logging.getLogger("test"))
    call.validate()
    return call


DECLARED = (
    Param("FIRST", TEXT, IN, "required", required=True),
    Param("SECOND", NUMERIC, IN, "a number"),
    Param("THIRD", NUMERIC, IN, "another number"),
    Param("OPTIONAL", TEXT, IN, "defaults to nothing", default=""),
    Param("COLOR", TEXT, IN, "defaults", default="blue"),
    Param("OUT_ONLY", TEXT, OUT, "an output"),
)


def test_the_first_declared_problem_is_reported_whatever_the_received_order() -> None:
    with pytest.raises(MissingParameter) as missing:
        _validated(DECLARED, ("THIRD", "IN", "x"), ("SECOND", "IN", "y"))
    assert missing.value.parameter == "FIRST"
    with pytest.raises(ParameterError) as invalid:
        _validated(DECLARED, ("THIRD", "IN", "x"), ("SECOND", "IN", "y"), ("FIRST", "IN", "a"))
    assert invalid.value.parameter == "SECOND"


def test_defaults_fill_absent_and_empty_inputs_and_absent_ones_stay_absent() -> None:
    call = _validated(DECLARED, ("FIRST", "IN", "a"), ("THIRD", "IN", "7"), ("COLOR", "IN", ""))
    assert call.inputs == {"FIRST": "a", "THIRD": 7.0, "COLOR": "blue", "OPTIONAL": None}
    assert call.text("SECOND") is None and call.number("SECOND") is None


def test_an_input_received_as_out_counts_as_absent() -> None:
    with pytest.raises(MissingParameter):
        _validated(DECLARED, ("FIRST", "OUT", "a"))


# --- endpoint and key resolution (the Providers section of applications.md) --------------


def _endpoint(app_name: str, settings: dict[str, str], **received: str) -> Endpoint:
    import logging

    from workflowapp.apps import registry
    from workflowapp.apps.call import Call, Services
    from workflowapp.apps.chat import PROVIDER_URLS
    from workflowapp.context.model import Context, Direction, Parameter
    from workflowapp.settings import Settings
    from workflowapp.upstream import Client

    context = Context()
    for name, value in {"MODEL": "m", "TEXT": "t", **received}.items():
        context.add(Parameter(name, DataType.TEXT, Direction.IN, value))
    call = Call(registry.get(app_name), context, Services(Settings(settings), Client()),
                logging.getLogger("test"))
    call.validate()
    if app_name == "OPENAICHAT":
        return call.endpoint("OpenAIChatApiUrl", "https://api.openai.com/v1/chat/completions",
                             provider_urls=PROVIDER_URLS)
    return call.endpoint("OpenAIModerationApiUrl", "https://api.openai.com/v1/moderations")


KEYS = {"OpenAIApiKey": "o-key", "AnthropicApiKey": "a-key", "MistralApiKey": "m-key",
        "GeminiApiKey": "g-key"}


@pytest.mark.parametrize(("settings", "received", "url", "provider", "key"), [
    ({}, {}, "https://api.openai.com/v1/chat/completions", "openai", "o-key"),
    ({"OpenAIChatApiUrl": "http://localhost:8080/v1/chat/completions"}, {},
     "http://localhost:8080/v1/chat/completions", "compatible", "o-key"),
    ({}, {"PROVIDER": "Anthropic"}, "https://api.anthropic.com/v1/messages", "anthropic",
     "a-key"),
    ({"AnthropicApiUrl": "https://gw.corp/anthropic/v1/messages"}, {"PROVIDER": "anthropic"},
     "https://gw.corp/anthropic/v1/messages", "anthropic", "a-key"),
    ({}, {"PROVIDER": "mistral"}, "https://api.mistral.ai/v1/chat/completions", "mistral",
     "m-key"),
    ({}, {"PROVIDER": "gemini"},
     "https://generativelanguage.googleapis.com/v1beta/openai/chat/completions", "gemini",
     "g-key"),
    ({}, {"PROVIDER": "azure"}, "https://api.openai.com/v1/chat/completions", "azure", "o-key"),
    ({"OpenAIProvider": "mistral"}, {}, "https://api.mistral.ai/v1/chat/completions", "mistral",
     "m-key"),
    ({}, {"URL": "https://api.anthropic.com/v1/messages"}, "https://api.anthropic.com/v1/messages",
     "anthropic", "a-key"),
    ({}, {"URL": "http://127.0.0.1:9/v1/messages"}, "http://127.0.0.1:9/v1/messages",
     "anthropic", "a-key"),
    ({}, {"URL": "https://api.mistral.ai/v1/chat/completions"},
     "https://api.mistral.ai/v1/chat/completions", "mistral", "m-key"),
    ({}, {"URL": "https://generativelanguage.googleapis.com/v1beta/openai/chat/completions"},
     "https://generativelanguage.googleapis.com/v1beta/openai/chat/completions", "gemini",
     "g-key"),
    ({}, {"URL": "https://proxy.corp/v1/chat/completions", "PROVIDER": "gemini"},
     "https://proxy.corp/v1/chat/completions", "gemini", "g-key"),
    ({}, {"PROVIDER": "anthropic", "API_KEY": "call-key"},
     "https://api.anthropic.com/v1/messages", "anthropic", "call-key"),
])
def test_chat_endpoint_resolution(settings: dict[str, str], received: dict[str, str], url: str,
                                  provider: str, key: str) -> None:
    endpoint = _endpoint("OPENAICHAT", {**KEYS, **settings}, **received)
    assert (endpoint.url, endpoint.provider.value, endpoint.api_key) == (url, provider, key)


@pytest.mark.parametrize(("provider", "setting"), [
    ("openai", "OpenAIApiKey"), ("anthropic", "AnthropicApiKey"), ("mistral", "MistralApiKey"),
    ("gemini", "GeminiApiKey"), ("azure", "OpenAIApiKey")])
def test_missing_key_names_the_providers_setting(provider: str, setting: str) -> None:
    from workflowapp.errors import MissingApiKey

    others = {name: value for name, value in KEYS.items() if name != setting}
    with pytest.raises(MissingApiKey) as caught:
        _endpoint("OPENAICHAT", others, PROVIDER=provider)
    assert setting in caught.value.message and "API_KEY" in caught.value.message
    assert caught.value.code == "missing_api_key" and caught.value.status == 400


def test_compatible_needs_no_key() -> None:
    endpoint = _endpoint("OPENAICHAT", {}, URL="http://localhost:11434/v1/chat/completions")
    assert endpoint.api_key == ""


@pytest.mark.parametrize("provider", ["anthropic", "mistral", "gemini"])
def test_openai_only_endpoints_refuse_other_providers(provider: str) -> None:
    with pytest.raises(ParameterError) as caught:
        _endpoint("OPENAIMODERATION", KEYS, PROVIDER=provider)
    assert caught.value.parameter == "PROVIDER"
    assert "OpenAI's endpoints only" in caught.value.message and provider in caught.value.message
    with pytest.raises(ParameterError, match="OpenAI's endpoints only") as caught:
        _endpoint("OPENAIMODERATION", KEYS, URL="https://api.anthropic.com/v1/messages")
    assert caught.value.parameter == "URL"


def test_anthropic_settings_reach_the_endpoint() -> None:
    from workflowapp.errors import ConfigurationError

    endpoint = _endpoint("OPENAICHAT", {**KEYS, "AnthropicApiVersion": "2026-10-21",
                                        "AnthropicPromptCache": "n"}, PROVIDER="anthropic")
    assert (endpoint.anthropic_version, endpoint.prompt_cache) == ("2026-10-21", False)
    assert _endpoint("OPENAICHAT", KEYS, PROVIDER="anthropic").prompt_cache is True
    with pytest.raises(ConfigurationError, match="AnthropicPromptCache"):
        _endpoint("OPENAICHAT", {**KEYS, "AnthropicPromptCache": "maybe"}, PROVIDER="anthropic")
    # a bad Anthropic setting never breaks another provider's calls
    assert _endpoint("OPENAICHAT", {**KEYS, "AnthropicPromptCache": "maybe"}).api_key == "o-key"


def test_a_non_openai_default_provider_leaves_moderation_alone() -> None:
    endpoint = _endpoint("OPENAIMODERATION", {**KEYS, "OpenAIProvider": "anthropic"})
    assert (endpoint.provider.value, endpoint.api_key) == ("openai", "o-key")
    assert _endpoint("OPENAICHAT", {**KEYS, "OpenAIProvider": "anthropic"}).api_key == "a-key"
    with pytest.raises(ParameterError):
        _endpoint("OPENAIMODERATION", {**KEYS, "OpenAIProvider": "bedrock"})

"""The WorkflowGen contract cannot drift silently: registered names and parameter lists."""

from __future__ import annotations

import pytest

from workflowapp.apps import registry

#: name -> (parameter, type, direction), exactly as administrators type them.
CONTRACT: dict[str, list[tuple[str, str, str]]] = {
    "ECHO": [
        ("APP_RESPONSE_IGNORE_ERROR", "TEXT", "IN"),
        ("APP_RESPONSE_STATUS", "TEXT", "OUT"),
        ("APP_RESPONSE_CONTENT", "TEXT", "OUT"),
        ("SESSION_INFO", "TEXT", "OUT"),
        ("<NAME>_OUT", "TEXT", "OUT"),
    ],
    "GETAGENTTOOL": [
        ("TOOLS", "TEXT", "IN"),
        ("TOOL_INDEX", "NUMERIC", "IN"),
        ("TOOL", "TEXT", "OUT"),
        ("TOOL_NAME", "TEXT", "OUT"),
        ("TOOL_ID", "TEXT", "OUT"),
        ("TOOL_PARAMETERS", "TEXT", "OUT"),
        ("<propertyToExtract>", "TEXT", "OUT"),
        ("APP_RESPONSE_IGNORE_ERROR", "TEXT", "IN"),
        ("APP_RESPONSE_STATUS", "TEXT", "OUT"),
        ("APP_RESPONSE_CONTENT", "TEXT", "OUT"),
    ],
    "GETAGENTTOOLDATA": [
        ("TOOL_DATA", "TEXT", "IN"),
        ("TOOL_NAME", "TEXT", "OUT"),
        ("TOOL_ID", "TEXT", "OUT"),
        ("TOOL_PARAMETERS", "TEXT", "OUT"),
        ("<propertyToExtract>", "TEXT", "OUT"),
        ("APP_RESPONSE_IGNORE_ERROR", "TEXT", "IN"),
        ("APP_RESPONSE_STATUS", "TEXT", "OUT"),
        ("APP_RESPONSE_CONTENT", "TEXT", "OUT"),
    ],
    "OPENAIADDMESSAGE": [
        ("ROLE", "TEXT", "IN"),
        ("CONTENT", "TEXT", "IN"),
        ("MESSAGE_HISTORY", "TEXT", "INOUT"),
        ("TOOL_CALL_ID", "TEXT", "IN"),
        ("ASSISTANT_TOOL_CALL", "TEXT", "IN"),
        ("REQUEST_ID", "NUMERIC", "IN"),
        ("REQUEST_DATA_NAME", "TEXT", "IN"),
        ("APP_RESPONSE_IGNORE_ERROR", "TEXT", "IN"),
        ("APP_RESPONSE_STATUS", "TEXT", "OUT"),
        ("APP_RESPONSE_CONTENT", "TEXT", "OUT"),
    ],
    "OPENAICHAT": [
        ("MODEL", "TEXT", "IN"),
        ("SYSTEM_MESSAGE", "TEXT", "IN"),
        ("USER_MESSAGE", "TEXT", "IN"),
        ("MESSAGE_ROLE<x>", "TEXT", "IN"),
        ("MESSAGE_CONTENT<x>", "TEXT", "IN"),
        ("MESSAGE_JSON", "TEXT", "IN"),
        ("API_KEY", "TEXT", "IN"),
        ("URL", "TEXT", "IN"),
        ("TEMPERATURE", "NUMERIC", "IN"),
        ("TOP_P", "NUMERIC", "IN"),
        ("FREQUENCY_PENALTY", "NUMERIC", "IN"),
        ("PRESENCE_PENALTY", "NUMERIC", "IN"),
        ("MAX_TOKENS", "NUMERIC", "IN"),
        ("RESPONSE_FORMAT", "TEXT", "IN"),
        ("RESPONSE_FORMAT_JSON_SCHEMA", "TEXT", "IN"),
        ("TOOLS", "TEXT", "IN"),
        ("TOOL_CHOICE_REQUIRED", "TEXT", "IN"),
        ("PARALLEL_TOOL", "TEXT", "IN"),
        ("PROVIDER", "TEXT", "IN"),
        ("REASONING_EFFORT", "TEXT", "IN"),
        ("NUMBER_OF_CHOICES", "NUMERIC", "IN"),
        ("MESSAGE_HISTORY", "TEXT", "INOUT"),
        ("ATTACHMENT", "FILE", "IN"),
        ("ATTACHMENT<x>", "FILE", "IN"),
        ("IMAGE_DETAIL", "TEXT", "IN"),
        ("ATTACHMENTS_IN_HISTORY", "TEXT", "IN"),
        ("APP_RESPONSE_IGNORE_ERROR", "TEXT", "IN"),
        ("APP_RESPONSE_STATUS", "TEXT", "OUT"),
        ("APP_RESPONSE_CONTENT", "TEXT", "OUT"),
        ("TIMEOUT", "NUMERIC", "IN"),
        ("MAX_RETRIES", "NUMERIC", "IN"),
        ("RESULT_RETRIES", "NUMERIC", "OUT"),
        ("RESULT_DURATION_MS", "NUMERIC", "OUT"),
        ("RESULT_REQUEST_ID", "TEXT", "OUT"),
        ("RESULT", "TEXT", "OUT"),
        ("RESULT_CONTENT", "TEXT", "OUT"),
        ("RESULT_CONTENTS", "TEXT", "OUT"),
        ("FINISH_REASON", "TEXT", "OUT"),
        ("RESULT_TOTAL_TOKENS", "NUMERIC", "OUT"),
        ("RESULT_COMPLETION_TOKENS", "NUMERIC", "OUT"),
        ("RESULT_PROMPT_TOKENS", "NUMERIC", "OUT"),
        ("RESULT_CACHED_TOKENS", "NUMERIC", "OUT"),
        ("SELECTED_TOOLS", "TEXT", "OUT"),
        ("SELECTED_TOOLS_PARAM", "TEXT", "OUT"),
        ("SELECTED_TOOLS_PARAMS", "TEXT", "OUT"),
        ("SELECTED_TOOLS_COUNT", "NUMERIC", "OUT"),
        ("<property>", "TEXT", "OUT"),
    ],
    "OPENAIMODERATION": [
        ("TEXT", "TEXT", "IN"),
        ("MODEL", "TEXT", "IN"),
        ("API_KEY", "TEXT", "IN"),
        ("URL", "TEXT", "IN"),
        ("PROVIDER", "TEXT", "IN"),
        ("APP_RESPONSE_IGNORE_ERROR", "TEXT", "IN"),
        ("APP_RESPONSE_STATUS", "TEXT", "OUT"),
        ("APP_RESPONSE_CONTENT", "TEXT", "OUT"),
        ("TIMEOUT", "NUMERIC", "IN"),
        ("MAX_RETRIES", "NUMERIC", "IN"),
        ("RESULT_RETRIES", "NUMERIC", "OUT"),
        ("RESULT_DURATION_MS", "NUMERIC", "OUT"),
        ("RESULT_REQUEST_ID", "TEXT", "OUT"),
        ("FLAGGED", "TEXT", "OUT"),
        ("FLAGGED_CATEGORIES", "TEXT", "OUT"),
        ("CATEGORY_SCORES", "TEXT", "OUT"),
        ("RESULT", "TEXT", "OUT"),
    ],
    "OPENAITRANSCRIPTION": [
        ("FILE", "FILE", "IN"),
        ("API_KEY", "TEXT", "IN"),
        ("URL", "TEXT", "IN"),
        ("MODEL", "TEXT", "IN"),
        ("TEMPERATURE", "NUMERIC", "IN"),
        ("LANGUAGE", "TEXT", "IN"),
        ("PROMPT", "TEXT", "IN"),
        ("VERBOSE_OUTPUT", "TEXT", "IN"),
        ("WORDS_OUTPUT", "TEXT", "IN"),
        ("RESULT_WORDS_SEPARATOR", "TEXT", "IN"),
        ("PROVIDER", "TEXT", "IN"),
        ("APP_RESPONSE_IGNORE_ERROR", "TEXT", "IN"),
        ("APP_RESPONSE_STATUS", "TEXT", "OUT"),
        ("APP_RESPONSE_CONTENT", "TEXT", "OUT"),
        ("TIMEOUT", "NUMERIC", "IN"),
        ("MAX_RETRIES", "NUMERIC", "IN"),
        ("RESULT_RETRIES", "NUMERIC", "OUT"),
        ("RESULT_DURATION_MS", "NUMERIC", "OUT"),
        ("RESULT_REQUEST_ID", "TEXT", "OUT"),
        ("TEXT", "TEXT", "OUT"),
        ("RESULT", "TEXT", "OUT"),
        ("RESULT_LANGUAGE", "TEXT", "OUT"),
        ("RESULT_DURATION", "NUMERIC", "OUT"),
        ("RESULT_WORDS", "TEXT", "OUT"),
        ("RESULT_SEGMENTS", "TEXT", "OUT"),
    ],
}


def test_registered_names() -> None:
    assert [app.name for app in registry.all_apps()] == sorted(CONTRACT)


@pytest.mark.parametrize("name", sorted(CONTRACT))
def test_parameter_lists(name: str) -> None:
    app = registry.get(name)
    declared = [(p.name, p.type.value, p.direction.value) for p in app.params]
    assert declared == CONTRACT[name]


def test_required_parameters() -> None:
    required = {(a.name, p.name) for a in registry.all_apps() for p in a.params if p.required}
    assert required == {
        ("GETAGENTTOOL", "TOOLS"),
        ("GETAGENTTOOLDATA", "TOOL_DATA"),
        ("OPENAIADDMESSAGE", "ROLE"),
        ("OPENAICHAT", "MODEL"),
        ("OPENAIMODERATION", "TEXT"),
        ("OPENAITRANSCRIPTION", "FILE"),
    }


def test_documented_defaults() -> None:
    chat = registry.get("OPENAICHAT")
    defaults = {p.name: p.default for p in chat.params if p.default is not None}
    assert defaults["MAX_TOKENS"] == 256
    assert defaults["RESPONSE_FORMAT"] == "text"
    assert defaults["TOOL_CHOICE_REQUIRED"] == "N" and defaults["PARALLEL_TOOL"] == "Y"
    assert defaults["APP_RESPONSE_IGNORE_ERROR"] == "N"
    transcription = {p.name: p.default for p in registry.get("OPENAITRANSCRIPTION").params}
    assert transcription["MODEL"] == "whisper-1"
    assert transcription["RESULT_WORDS_SEPARATOR"] == ","
    moderation = {p.name: p.default for p in registry.get("OPENAIMODERATION").params}
    assert moderation["MODEL"] == "omni-moderation-latest"
    assert {p.name: p.default for p in registry.get("GETAGENTTOOL").params}["TOOL_INDEX"] == 0


def test_duplicate_registration_is_refused() -> None:
    with pytest.raises(KeyError, match="already registered"):
        registry.register(registry.get("ECHO"))

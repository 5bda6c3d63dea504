"""OPENAICHAT: a chat completion, parameter for parameter like WorkflowGen 10's application.

Messages are sent in the documented order: ``MESSAGE_HISTORY``, ``MESSAGE_JSON``, the numbered
``MESSAGE_ROLEx``/``MESSAGE_CONTENTx`` pairs, ``SYSTEM_MESSAGE``, ``USER_MESSAGE``. Every input
is checked before anything is sent. The answer fills the documented OUT parameters; with a JSON
response format, each top-level property of the (schema-validated) answer also fills the
declared OUT parameter of the same name.
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from typing import Any

from ..errors import (
    BadUpstreamAnswer,
    ContentFiltered,
    ParameterError,
    Refusal,
    SchemaMismatch,
    Truncated,
)
from .call import Call, parse_json
from .registry import (
    API_KEY,
    COMMON,
    IN,
    INOUT,
    NUMERIC,
    OUT,
    PROVIDER,
    TEXT,
    UPSTREAM_COMMON,
    App,
    Param,
    register,
)

DEFAULT_URL = "https://api.openai.com/v1/chat/completions"
ROLES = ("system", "user", "assistant", "developer", "tool")
NUMBERED_ROLES = ("assistant", "system", "user", "developer")
NAME_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
NUMBERED_RE = re.compile(r"^MESSAGE_(ROLE|CONTENT)(\d+)$")
FENCE_RE = re.compile(r"^\s*```[A-Za-z0-9_-]*\s*\n?(.*?)\n?\s*```\s*$", re.DOTALL)
FORMATS = {"text": "text", "json_object": "json_object", "json": "json_object",
           "json_schema": "json_schema"}

PARAMS = (
    Param("MODEL", TEXT, IN, "Model id (Azure classic URLs: ignored, the deployment decides).",
          required=True),
    Param("SYSTEM_MESSAGE", TEXT, IN, "A system message, sent after the numbered messages."),
    Param("USER_MESSAGE", TEXT, IN, "A user message, sent last."),
    Param("MESSAGE_ROLE<x>", TEXT, IN,
          "Role of numbered message x (assistant, system or user); x = 1, 2, ... in order.",
          pattern=True),
    Param("MESSAGE_CONTENT<x>", TEXT, IN, "Content of numbered message x.", pattern=True),
    Param("MESSAGE_JSON", TEXT, IN,
          'Messages as a JSON array: [{"role": "...", "content": "..."}, ...].'),
    API_KEY,
    Param("URL", TEXT, IN, "Full chat completions endpoint; default: setting "
          f"OpenAIChatApiUrl, else {DEFAULT_URL}.", default=None),
    Param("TEMPERATURE", NUMERIC, IN,
          "Sampling temperature, 0 to 2 (upstream default 1); sent only when given.",
          minimum=0, maximum=2),
    Param("TOP_P", NUMERIC, IN, "Nucleus sampling mass, 0 to 1; sent only when given.",
          minimum=0, maximum=1),
    Param("FREQUENCY_PENALTY", NUMERIC, IN,
          "-2.0 to 2.0 (upstream default 0); sent only when given.", minimum=-2, maximum=2),
    Param("PRESENCE_PENALTY", NUMERIC, IN,
          "-2.0 to 2.0 (upstream default 0); sent only when given.", minimum=-2, maximum=2),
    Param("MAX_TOKENS", NUMERIC, IN,
          "Largest number of tokens to generate (sent as max_completion_tokens where the "
          "model needs it).", default=256.0, minimum=1, integer=True),
    Param("RESPONSE_FORMAT", TEXT, IN,
          "text, json_object (also json) or json_schema; with json_object the messages must "
          "contain the word JSON.", default="text"),
    Param("RESPONSE_FORMAT_JSON_SCHEMA", TEXT, IN,
          'Required with json_schema: {"name": ..., "schema": {...}, "strict": ...}, or a '
          "bare JSON schema (named schema)."),
    Param("TOOLS", TEXT, IN,
          'Tools as a JSON list: [{"name", "description", "parameters"}] or OpenAI\'s '
          '[{"type": "function", "function": {...}}].'),
    Param("TOOL_CHOICE_REQUIRED", TEXT, IN, "Y: the model must call a tool.", default="N",
          yes_no=True),
    Param("PARALLEL_TOOL", TEXT, IN, "Y: the model may call several tools at once.",
          default="Y", yes_no=True),
    PROVIDER,
    Param("NUMBER_OF_CHOICES", NUMERIC, IN, "Responses to generate (n), 1 to 128.",
          default=1.0, minimum=1, maximum=128, integer=True, ext=True),
    Param("MESSAGE_HISTORY", TEXT, INOUT,
          "The conversation (OpenAI messages JSON); returned with this call's messages and "
          "the assistant answer(s) appended."),
    *COMMON,
    *UPSTREAM_COMMON,
    Param("RESULT", TEXT, OUT, "The upstream response JSON, as received."),
    Param("RESULT_CONTENT", TEXT, OUT, "Content of the (first) assistant message."),
    Param("RESULT_CONTENTS", TEXT, OUT, "JSON array of the contents of all choices.", ext=True),
    Param("FINISH_REASON", TEXT, OUT,
          "stop, length, content_filter, tool_calls or function_call (first choice).", ext=True),
    Param("RESULT_TOTAL_TOKENS", NUMERIC, OUT, "Total tokens used."),
    Param("RESULT_COMPLETION_TOKENS", NUMERIC, OUT, "Completion tokens used."),
    Param("RESULT_PROMPT_TOKENS", NUMERIC, OUT, "Prompt tokens used."),
    Param("SELECTED_TOOLS", TEXT, OUT, "Names of the tools the model selected, comma-separated."),
    Param("SELECTED_TOOLS_PARAM", TEXT, OUT,
          'The selected tool calls: [{"name", "id", "parameters": {...}}].'),
    Param("SELECTED_TOOLS_PARAMS", TEXT, OUT, "Same as SELECTED_TOOLS_PARAM (documented alias)."),
    Param("SELECTED_TOOLS_COUNT", NUMERIC, OUT, "Number of selected tools."),
    Param("<property>", TEXT, OUT,
          "JSON answers: each top-level property goes to the declared OUT parameter of the "
          "same name, converted to its type (objects and arrays as JSON text).", pattern=True),
)


def run(call: Call) -> None:
    """Build the request, call upstream, and fill the outputs."""
    messages, history, sent = build_messages(call)
    response_format = _response_format(call, messages)
    body = _request_body(call, messages, response_format)
    url = call.url("OpenAIChatApiUrl", DEFAULT_URL)
    provider = call.provider(url)
    response = call.services.client.chat(
        url, body, api_key=call.api_key(provider), provider=provider, options=call.options(),
        log=call.log,
    )
    call.record(response)
    choices = _fill_outputs(call, response.data, response.text, response_format)
    if call.wants("MESSAGE_HISTORY"):  # a long history is not re-serialised for nothing
        assistants = [_assistant_message(choice) for choice in choices]
        call.set("MESSAGE_HISTORY", json.dumps(history + sent + assistants, ensure_ascii=False))


# --- messages ---------------------------------------------------------------------------


def build_messages(call: Call) -> tuple[list[dict[str, Any]], list[Any], list[dict[str, Any]]]:
    """(all messages, the received history, the messages added by this call)."""
    history = _message_list(call, "MESSAGE_HISTORY", allow_tool=True)
    sent = _message_list(call, "MESSAGE_JSON", allow_tool=True)
    sent += _numbered_messages(call)
    for name, role in (("SYSTEM_MESSAGE", "system"), ("USER_MESSAGE", "user")):
        text = call.text(name)
        if text is not None:
            sent.append({"role": role, "content": text})
    messages = history + sent
    if not messages:
        raise ParameterError(
            "No message to send: fill USER_MESSAGE (and SYSTEM_MESSAGE), numbered "
            "MESSAGE_ROLEx/MESSAGE_CONTENTx, MESSAGE_JSON or MESSAGE_HISTORY.",
            parameter="USER_MESSAGE",
        )
    return messages, history, sent


def _message_list(call: Call, name: str, *, allow_tool: bool) -> list[dict[str, Any]]:
    value = call.json_input(name)
    if value is None:
        return []
    if isinstance(value, dict):
        value = [value]
    if not isinstance(value, list):
        raise ParameterError(f"Parameter {name} must be a JSON array of messages.", parameter=name)
    for index, message in enumerate(value):
        _check_message(message, f"{name}[{index}]", name)
    return value


def _check_message(message: Any, where: str, name: str) -> None:
    if not isinstance(message, dict):
        raise ParameterError(f"{where} must be a message object.", parameter=name)
    role = message.get("role")
    if role not in ROLES:
        raise ParameterError(
            f"{where} has role {role!r}; use one of {', '.join(ROLES)}.", parameter=name
        )
    content = message.get("content")
    if content is not None and not isinstance(content, str | list):
        raise ParameterError(
            f"{where} ({role}): content must be text or a list of content parts.", parameter=name
        )
    if role == "assistant" and (content is not None or message.get("tool_calls")):
        return
    if content is None or content == "" or content == []:
        raise ParameterError(f"{where} ({role}) has no content.", parameter=name)
    if role == "tool" and not message.get("tool_call_id"):
        raise ParameterError(f"{where} (tool) has no tool_call_id.", parameter=name)


def _numbered_messages(call: Call) -> list[dict[str, Any]]:
    numbers: dict[int, dict[str, str]] = {}
    for parameter in call.context:
        match = NUMBERED_RE.match(parameter.name)
        if match and parameter.is_input:
            numbers.setdefault(int(match.group(2)), {})[match.group(1)] = parameter.name
    if not numbers:
        return []
    ordered = sorted(numbers)
    expected = list(range(ordered[0], ordered[0] + len(ordered)))
    if ordered[0] not in (0, 1) or ordered != expected:
        missing = sorted(set(range(1, ordered[-1] + 1)) - set(ordered))
        raise ParameterError(
            f"Numbered messages must be numbered 1, 2, 3... without gaps; MESSAGE_ROLE{missing[0]}"
            f"/MESSAGE_CONTENT{missing[0]} is missing.", parameter=f"MESSAGE_ROLE{missing[0]}"
        )
    return [m for number in ordered if (m := _numbered(call, number, numbers[number]))]


def _numbered(call: Call, number: int, names: dict[str, str]) -> dict[str, Any] | None:
    role_name, content_name = f"MESSAGE_ROLE{number}", f"MESSAGE_CONTENT{number}"
    if "ROLE" not in names or "CONTENT" not in names:
        absent = role_name if "ROLE" not in names else content_name
        raise ParameterError(
            f"{absent} is missing: each MESSAGE_ROLEx needs its MESSAGE_CONTENTx.",
            parameter=absent,
        )
    role, content = call.text(role_name), call.text(content_name)
    if role is None and content is None:
        return None  # an optional pair the process left empty
    if role is None:
        raise ParameterError(
            f"{role_name} is empty but {content_name} is not.", parameter=role_name
        )
    if role.strip().lower() not in NUMBERED_ROLES:
        raise ParameterError(
            f"{role_name} is {role!r}; use assistant, system or user.", parameter=role_name
        )
    if content is None:
        raise ParameterError(
            f"{content_name} is empty: a {role} message needs content.", parameter=content_name
        )
    return {"role": role.strip().lower(), "content": content}


# --- request ----------------------------------------------------------------------------


def _response_format(call: Call, messages: list[dict[str, Any]]) -> dict[str, Any] | None:
    raw = (call.text("RESPONSE_FORMAT") or "text").strip().lower()
    kind = FORMATS.get(raw)
    if kind is None:
        raise ParameterError(
            f"RESPONSE_FORMAT must be text, json_object or json_schema, not {raw!r}.",
            parameter="RESPONSE_FORMAT",
        )
    if kind == "text":
        return None
    if kind == "json_object":
        if "json" not in json.dumps(messages, ensure_ascii=False).lower():
            raise ParameterError(
                "RESPONSE_FORMAT json_object needs the word JSON in the messages (OpenAI "
                "refuses the call otherwise); say e.g. 'Answer in JSON.'",
                parameter="RESPONSE_FORMAT",
            )
        return {"type": "json_object"}
    return {"type": "json_schema", "json_schema": json_schema_format(call)}


def json_schema_format(call: Call) -> dict[str, Any]:
    """RESPONSE_FORMAT_JSON_SCHEMA as OpenAI's ``json_schema`` object (wrapped or bare)."""
    name = "RESPONSE_FORMAT_JSON_SCHEMA"
    value = call.json_input(name)
    if value is None:
        raise ParameterError(f"{name} is required with RESPONSE_FORMAT json_schema.",
                             parameter=name)
    if not isinstance(value, dict):
        raise ParameterError(f"{name} must be a JSON object.", parameter=name)
    bare = not isinstance(value.get("schema"), dict)
    wrapped: dict[str, Any] = {"name": "schema", **({"schema": value} if bare else value)}
    schema: dict[str, Any] = wrapped["schema"]
    if not isinstance(wrapped["name"], str) or not NAME_RE.match(wrapped["name"]):
        raise ParameterError(
            f"{name}: name must be 1-64 letters, digits, _ or -.", parameter=name
        )
    if "strict" in wrapped and not isinstance(wrapped["strict"], bool | None):
        raise ParameterError(f"{name}: strict must be true or false.", parameter=name)
    from jsonschema import exceptions  # only JSON-schema calls pay its import

    try:
        _validator(json.dumps(schema, sort_keys=True))
    except exceptions.SchemaError as exc:
        raise ParameterError(f"{name}: the schema is not valid ({exc.message}).",
                             parameter=name) from None
    return wrapped


def tools(call: Call) -> list[dict[str, Any]] | None:
    """TOOLS in OpenAI's form; WorkflowGen's flat form is converted."""
    value = call.json_input("TOOLS")
    if value is None:
        return None
    if not isinstance(value, list):
        raise ParameterError("TOOLS must be a JSON array of tools.", parameter="TOOLS")
    converted = []
    for index, tool in enumerate(value):
        if not isinstance(tool, dict):
            raise ParameterError(f"TOOLS[{index}] must be an object.", parameter="TOOLS")
        function = tool.get("function") if tool.get("type") == "function" else tool
        if not isinstance(function, dict) or not isinstance(function.get("name"), str) \
                or not NAME_RE.match(function["name"]):
            raise ParameterError(
                f"TOOLS[{index}] needs a name of 1-64 letters, digits, _ or -.", parameter="TOOLS"
            )
        if "parameters" in function and not isinstance(function["parameters"], dict):
            raise ParameterError(f"TOOLS[{index}].parameters must be a JSON schema object.",
                                 parameter="TOOLS")
        keep = ("name", "description", "parameters", "strict")
        converted.append({"type": "function",
                          "function": {k: function[k] for k in keep if k in function}})
    return converted or None


def _request_body(
    call: Call, messages: list[dict[str, Any]], response_format: dict[str, Any] | None
) -> dict[str, Any]:
    body: dict[str, Any] = {"model": call.text("MODEL"), "messages": messages}
    for name, key in (("TEMPERATURE", "temperature"), ("TOP_P", "top_p"),
                      ("FREQUENCY_PENALTY", "frequency_penalty"),
                      ("PRESENCE_PENALTY", "presence_penalty")):
        value = call.number(name)
        if value is not None:
            body[key] = value
    body["max_tokens"] = int(call.number("MAX_TOKENS") or 256)
    choices = int(call.number("NUMBER_OF_CHOICES") or 1)
    if choices > 1:
        body["n"] = choices
    if response_format is not None:
        body["response_format"] = response_format
    tool_list = tools(call)
    if tool_list:
        body["tools"] = tool_list
        body["parallel_tool_calls"] = call.flag("PARALLEL_TOOL")
        if call.flag("TOOL_CHOICE_REQUIRED"):
            body["tool_choice"] = "required"
    elif call.flag("TOOL_CHOICE_REQUIRED"):
        raise ParameterError("TOOL_CHOICE_REQUIRED is Y but TOOLS is empty.",
                             parameter="TOOL_CHOICE_REQUIRED")
    return body


# --- answer -----------------------------------------------------------------------------


def _choices(data: Any) -> list[dict[str, Any]]:
    choices = data.get("choices") if isinstance(data, dict) else None
    if not isinstance(choices, list) or not choices or \
            not all(isinstance(c, dict) and isinstance(c.get("message"), dict) for c in choices):
        raise BadUpstreamAnswer("The chat answer has no choices with a message.", http_status=200)
    return sorted(choices, key=lambda c: c.get("index") if isinstance(c.get("index"), int) else 0)


def _fill_outputs(
    call: Call, data: Any, text: str, response_format: dict[str, Any] | None
) -> list[dict[str, Any]]:
    """Write the answer's outputs; its checked choices, in index order."""
    choices = _choices(data)
    first = choices[0]
    message, finish = first["message"], first.get("finish_reason")
    if finish == "content_filter":
        raise ContentFiltered(
            "The provider's content filter stopped the answer (finish_reason content_filter).",
            http_status=200, body=text,
        )
    selected = selected_tools(first)
    call.set("RESULT", text)
    content = message.get("content")
    if content is None and message.get("refusal") and response_format is None:
        content = message["refusal"]
    call.set("RESULT_CONTENT", content if isinstance(content, str) else None)
    call.set("RESULT_CONTENTS", [c["message"].get("content") for c in choices])
    call.set("FINISH_REASON", finish)
    usage = data.get("usage") if isinstance(data.get("usage"), dict) else {}
    call.set("RESULT_TOTAL_TOKENS", usage.get("total_tokens"))
    call.set("RESULT_COMPLETION_TOKENS", usage.get("completion_tokens"))
    call.set("RESULT_PROMPT_TOKENS", usage.get("prompt_tokens"))
    call.set("SELECTED_TOOLS", ",".join(tool["name"] for tool in selected) or None)
    for name in ("SELECTED_TOOLS_PARAM", "SELECTED_TOOLS_PARAMS"):
        call.set(name, selected if selected else None)
    call.set("SELECTED_TOOLS_COUNT", len(selected))
    if response_format is not None and not selected:
        _fill_json_properties(call, message, finish, response_format)
    return choices


def selected_tools(choice: dict[str, Any]) -> list[dict[str, Any]]:
    """The tool calls of a choice as WorkflowGen's ``[{"name", "id", "parameters"}]``."""
    selected = []
    for tool_call in choice["message"].get("tool_calls") or []:
        function = tool_call.get("function") if isinstance(tool_call, dict) else None
        if not isinstance(function, dict) or not isinstance(function.get("name"), str):
            raise BadUpstreamAnswer("The answer holds a tool call without a function name.",
                                    http_status=200)
        arguments = function.get("arguments") or "{}"
        try:
            parameters = parse_json(arguments) if isinstance(arguments, str) else arguments
        except ValueError:
            raise BadUpstreamAnswer(
                f"The model called tool {function['name']} (id {tool_call.get('id')}) with "
                f"arguments that are not valid JSON: {arguments[:200]}", http_status=200,
            ) from None
        selected.append({"name": function["name"], "id": tool_call.get("id"),
                         "parameters": parameters})
    return selected


def _assistant_message(choice: dict[str, Any]) -> dict[str, Any]:
    message = choice["message"]
    kept: dict[str, Any] = {"role": "assistant", "content": message.get("content")}
    if message.get("tool_calls"):
        kept["tool_calls"] = message["tool_calls"]
    if message.get("refusal"):
        kept["refusal"] = message["refusal"]
    return kept


def _fill_json_properties(
    call: Call, message: dict[str, Any], finish: Any, response_format: dict[str, Any]
) -> None:
    if message.get("refusal"):
        raise Refusal(f"The model refused to answer: {message['refusal']}", http_status=200)
    if finish == "length":
        raise Truncated(
            "The JSON answer was cut by the token limit (finish_reason length); raise "
            "MAX_TOKENS.", http_status=200,
        )
    answer = parse_json_answer(message.get("content"))
    if response_format["type"] == "json_schema":
        check_answer(answer, response_format["json_schema"]["schema"])
    if not isinstance(answer, dict):
        return
    for name in call.output_names():
        if name in answer and call.app.param(name) is None:
            try:
                call.set(name, answer[name])  # objects/arrays become JSON text
            except ParameterError as exc:
                raise SchemaMismatch(exc.message, http_status=200) from None


def parse_json_answer(content: Any) -> Any:
    """The JSON of an answer, without the Markdown fences compatible servers add."""
    if not isinstance(content, str) or not content.strip():
        raise BadUpstreamAnswer("The model gave no JSON answer (empty content).", http_status=200)
    match = FENCE_RE.match(content)
    text = match.group(1) if match else content
    try:
        return parse_json(text)
    except ValueError as exc:
        raise BadUpstreamAnswer(
            f"The model's answer is not valid JSON ({exc}): {content[:200]}", http_status=200
        ) from None


def check_answer(answer: Any, schema: dict[str, Any]) -> None:
    """Validate the answer against the schema; a mismatch names the offending field."""
    from jsonschema import exceptions

    validator = _validator(json.dumps(schema, sort_keys=True))
    error = exceptions.best_match(validator.iter_errors(answer))
    if error is not None:
        field = "/".join(str(part) for part in error.absolute_path) or "(the whole answer)"
        raise SchemaMismatch(
            f"The JSON answer does not match the schema at {field}: {error.message}",
            http_status=200,
        )


@lru_cache(maxsize=256)
def _validator(schema_text: str) -> Any:
    """A checked validator of this schema, kept: checking a schema costs ~1 ms, and a process
    sends the same few schemas again and again (an invalid one raises each time)."""
    schema = json.loads(schema_text)
    from jsonschema import validators

    validator = validators.validator_for(schema)
    validator.check_schema(schema)
    return validator(schema)


OPENAICHAT = register(
    App(
        name="OPENAICHAT",
        description="Chat completion with OpenAI, Azure OpenAI or a compatible server "
        "(WorkflowGen 10 parameters, plus Qflow's choices and finish reason).",
        params=PARAMS,
        log_setting="OpenAIChatLogLevel",
        run=run,
    )
)

"""OPENAICHAT: a chat completion, parameter for parameter like WorkflowGen 10's application.

Messages are sent in the documented order: ``MESSAGE_HISTORY``, ``MESSAGE_JSON``, the numbered
``MESSAGE_ROLEx``/``MESSAGE_CONTENTx`` pairs, ``SYSTEM_MESSAGE``, ``USER_MESSAGE`` (with the
attachments' parts after its text, or in a user message of their own: :mod:`.chat_files`).
Every input is checked, and every attachment read, before anything is sent. The answer fills
the documented OUT parameters; with a JSON response format, each top-level property of the
(schema-validated) answer also fills the declared OUT parameter of the same name.
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from typing import Any

from .. import jsontext
from ..attachments import Accepts
from ..errors import (
    BadUpstreamAnswer,
    ContentFiltered,
    ParameterError,
    Refusal,
    SchemaMismatch,
    Truncated,
)
from ..messages import Message, TextPart, parse_messages
from ..settings import fallback
from ..upstream import ChatRequest, ChatResult, Choice, Provider, ResponseFormat, Tool, send_chat
from ..upstream.chat import EFFORTS
from . import chat_files
from .call import Call
from .registry import (
    API_KEY,
    CHAT_PROVIDER,
    COMMON,
    IN,
    INOUT,
    NUMERIC,
    OUT,
    TEXT,
    UPSTREAM_COMMON,
    App,
    Param,
    register,
)

DEFAULT_URL = fallback("OpenAIChatApiUrl")
#: The URL setting and default endpoint of the providers that have their own.
PROVIDER_URLS = {
    provider: (setting, fallback(setting)) for provider, setting in (
        (Provider.ANTHROPIC, "AnthropicChatApiUrl"), (Provider.MISTRAL, "MistralChatApiUrl"),
        (Provider.GEMINI, "GeminiChatApiUrl"))
}
#: Providers that refuse json_object unless the messages contain the word JSON.
JSON_WORD_PROVIDERS = (Provider.OPENAI, Provider.AZURE)
SAMPLING = (("TEMPERATURE", "temperature"), ("TOP_P", "top_p"),
            ("FREQUENCY_PENALTY", "frequency_penalty"), ("PRESENCE_PENALTY", "presence_penalty"))
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
    Param("URL", TEXT, IN, "Full chat endpoint; default: the URL setting of PROVIDER, else "
          f"setting OpenAIChatApiUrl, else {DEFAULT_URL}.", default=None),
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
          "text, json_object (also json) or json_schema; with json_object and the openai or "
          "azure provider the messages must contain the word JSON.", default="text"),
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
    CHAT_PROVIDER,
    Param("REASONING_EFFORT", TEXT, IN,
          "none, minimal, low, medium, high or xhigh, for reasoning models: reasoning_effort "
          "(Anthropic: output_config.effort, nearest level); sent only when given.",
          choices=EFFORTS, ext=True),
    Param("NUMBER_OF_CHOICES", NUMERIC, IN, "Responses to generate (n), 1 to 128.",
          default=1.0, minimum=1, maximum=128, integer=True, ext=True),
    Param("MESSAGE_HISTORY", TEXT, INOUT,
          "The conversation (OpenAI messages JSON, whatever the provider); returned with this "
          "call's messages and the first choice's assistant message appended."),
    *chat_files.PARAMS,
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
    Param("RESULT_CACHED_TOKENS", NUMERIC, OUT,
          "Prompt tokens read from the provider's prompt cache (0 when none).", ext=True),
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
    """Build the neutral request, send it through the provider's adapter, fill the outputs."""
    endpoint = call.endpoint("OpenAIChatApiUrl", DEFAULT_URL, provider_urls=PROVIDER_URLS)
    messages, history, sent = build_messages(call, chat_files.accepts(endpoint.provider))
    request = chat_request(call, messages, endpoint.provider)
    call.metrics.model = request.model
    result = send_chat(call.services.client, endpoint, request,
                       profiles=call.services.profiles, log=call.log)
    call.record_chat(endpoint, request.model, result)
    first = _fill_outputs(call, result, request.response_format)
    if call.wants("MESSAGE_HISTORY"):  # a long history is not re-serialised for nothing
        conversation = history + [m.to_openai() for m in sent] + [_assistant_message(first)]
        call.set("MESSAGE_HISTORY", json.dumps(conversation, ensure_ascii=False))


# --- messages ---------------------------------------------------------------------------


def build_messages(call: Call, accepts: Accepts
                   ) -> tuple[list[Message], list[Any], list[Message]]:
    """(all messages, the received history as given, the messages added by this call as the
    returned history keeps them: attachments as placeholders unless ATTACHMENTS_IN_HISTORY=Y)."""
    raw_history = call.json_input("MESSAGE_HISTORY")
    history = parse_messages(raw_history, "MESSAGE_HISTORY")
    sent = parse_messages(call.json_input("MESSAGE_JSON"), "MESSAGE_JSON")
    sent += _numbered_messages(call)
    text = call.text("SYSTEM_MESSAGE")
    if text is not None:
        sent.append(Message("system", text))
    kept = list(sent)
    text, files = call.text("USER_MESSAGE"), chat_files.user_parts(call, accepts)
    if files.sent:
        head = (TextPart(text),) if text is not None else ()
        sent.append(Message("user", head + tuple(files.sent)))
        kept.append(Message("user", head + tuple(files.kept)))
    elif text is not None:
        sent.append(Message("user", text))
        kept.append(sent[-1])
    messages = history + sent
    if not messages:
        raise ParameterError(
            "No message to send: fill USER_MESSAGE (and SYSTEM_MESSAGE), numbered "
            "MESSAGE_ROLEx/MESSAGE_CONTENTx, MESSAGE_JSON or MESSAGE_HISTORY.",
            parameter="USER_MESSAGE",
        )
    received = raw_history if isinstance(raw_history, list) else \
        [raw_history] if raw_history is not None else []
    return messages, received, kept


def _numbered_messages(call: Call) -> list[Message]:
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


def _numbered(call: Call, number: int, names: dict[str, str]) -> Message | None:
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
    return Message(role.strip().lower(), content)


# --- request ----------------------------------------------------------------------------


def response_format(call: Call, messages: list[Message], provider: Provider
                    ) -> ResponseFormat | None:
    """RESPONSE_FORMAT (and its schema); ``json_object`` needs the word JSON in the messages
    for OpenAI and Azure only (they refuse the call otherwise)."""
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
        if provider in JSON_WORD_PROVIDERS and not any(
            "json" in m.text.lower() for m in messages
        ):
            raise ParameterError(
                "RESPONSE_FORMAT json_object needs the word JSON in the messages (OpenAI "
                "refuses the call otherwise); say e.g. 'Answer in JSON.'",
                parameter="RESPONSE_FORMAT",
            )
        return ResponseFormat("json_object")
    wrapped = json_schema_format(call)
    return ResponseFormat("json_schema", wrapped["name"], wrapped["schema"],
                          wrapped.get("strict"), "strict" in wrapped)


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


def tools(call: Call) -> list[Tool]:
    """TOOLS (WorkflowGen's flat form or OpenAI's), checked."""
    value = call.json_input("TOOLS")
    if value is None:
        return []
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
        description = function.get("description")
        strict = function.get("strict")
        converted.append(Tool(function["name"],
                              description if isinstance(description, str) else None,
                              function.get("parameters"),
                              strict if isinstance(strict, bool) else None))
    return converted


def chat_request(call: Call, messages: list[Message], provider: Provider) -> ChatRequest:
    """The neutral request of this call (every input checked)."""
    sampling = {key: value for name, key in SAMPLING
                if (value := call.number(name)) is not None}
    tool_list = tools(call)
    if not tool_list and call.flag("TOOL_CHOICE_REQUIRED"):
        raise ParameterError("TOOL_CHOICE_REQUIRED is Y but TOOLS is empty.",
                             parameter="TOOL_CHOICE_REQUIRED")
    return ChatRequest(
        model=call.text("MODEL") or "",
        messages=tuple(messages),
        max_tokens=int(call.number("MAX_TOKENS") or 256),
        sampling=sampling,
        n=int(call.number("NUMBER_OF_CHOICES") or 1),
        response_format=response_format(call, messages, provider),
        tools=tuple(tool_list),
        tool_choice_required=call.flag("TOOL_CHOICE_REQUIRED"),
        parallel_tools=call.flag("PARALLEL_TOOL"),
        reasoning_effort=call.text("REASONING_EFFORT"),
    )


# --- answer -----------------------------------------------------------------------------


def _fill_outputs(
    call: Call, result: ChatResult, response_format: ResponseFormat | None
) -> Choice:
    """Write the answer's outputs; the first choice."""
    first = result.choices[0]
    message, finish = first.message, first.finish_reason
    if finish == "content_filter":
        raise ContentFiltered(
            "The provider's content filter stopped the answer (finish_reason content_filter).",
            http_status=200, body=result.text,
        )
    selected = selected_tools(message)
    call.set("RESULT", result.text)
    content = message.content if isinstance(message.content, str) else None
    if content is None and message.refusal and response_format is None:
        content = message.refusal
    call.set("RESULT_CONTENT", content)
    call.set("RESULT_CONTENTS", [c.message.content if isinstance(c.message.content, str)
                                 else None for c in result.choices])
    call.set("FINISH_REASON", finish)
    usage = result.usage
    call.set("RESULT_TOTAL_TOKENS", usage.total)
    call.set("RESULT_COMPLETION_TOKENS", usage.completion)
    call.set("RESULT_PROMPT_TOKENS", usage.prompt)
    call.set("RESULT_CACHED_TOKENS", usage.cached or 0)
    call.set("SELECTED_TOOLS", ",".join(tool["name"] for tool in selected) or None)
    for name in ("SELECTED_TOOLS_PARAM", "SELECTED_TOOLS_PARAMS"):
        call.set(name, selected if selected else None)
    call.set("SELECTED_TOOLS_COUNT", len(selected))
    if response_format is not None and not selected:
        _fill_json_properties(call, message, finish, response_format)
    return first


def selected_tools(message: Message) -> list[dict[str, Any]]:
    """The tool calls of an answer as WorkflowGen's ``[{"name", "id", "parameters"}]``."""
    selected = []
    for tool_call in message.tool_calls:
        if not tool_call.name:
            raise BadUpstreamAnswer("The answer holds a tool call without a function name.",
                                    http_status=200)
        try:
            parameters = jsontext.loads(tool_call.arguments or "{}")
        except (ValueError, RecursionError):
            raise BadUpstreamAnswer(
                f"The model called tool {tool_call.name} (id {tool_call.id}) with "
                f"arguments that are not valid JSON: {tool_call.arguments[:200]}",
                http_status=200,
            ) from None
        selected.append({"name": tool_call.name, "id": tool_call.id, "parameters": parameters})
    return selected


def _assistant_message(choice: Choice) -> dict[str, Any]:
    """The first choice's assistant turn as OpenAI JSON, for MESSAGE_HISTORY."""
    message = choice.message
    kept: dict[str, Any] = {"role": "assistant", "content": message.content}
    if message.tool_calls:
        kept["tool_calls"] = [call.to_openai() for call in message.tool_calls]
    if message.refusal:
        kept["refusal"] = message.refusal
    return kept


def _fill_json_properties(
    call: Call, message: Message, finish: str | None, response_format: ResponseFormat
) -> None:
    if message.refusal:
        raise Refusal(f"The model refused to answer: {message.refusal}", http_status=200)
    if finish == "length":
        raise Truncated(
            "The JSON answer was cut by the token limit (finish_reason length); raise "
            "MAX_TOKENS.", http_status=200,
        )
    answer = parse_json_answer(message.content)
    if response_format.type == "json_schema" and response_format.schema is not None:
        check_answer(answer, response_format.schema)
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
        return jsontext.loads(text)
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
        description="Chat completion with OpenAI, Anthropic, Mistral, Gemini, Azure OpenAI or "
        "a compatible server (WorkflowGen 10 parameters, plus Qflow's choices and finish "
        "reason).",
        params=PARAMS,
        log_setting="OpenAIChatLogLevel",
        run=run,
    )
)

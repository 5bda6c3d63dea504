"""OPENAIADDMESSAGE: append a message to a conversation (OpenAI ``messages`` JSON).

The history comes from ``MESSAGE_HISTORY``, or, with ``REQUEST_ID`` and ``REQUEST_DATA_NAME``,
from that request's data through WorkflowGen's GraphQL API (and is written back there). Each
append keeps the conversation valid for the next OPENAICHAT call:

* a ``tool`` message must answer a *pending* tool call: an id of the last assistant message's
  ``tool_calls`` that no tool message answered yet (``TOOL_CALL_ID``);
* no other message may come while tool calls are pending;
* an assistant message whose tool call ids are among those of the last assistant message is
  a no-op (all of them, or one tool at a time):
  OPENAICHAT already appended it, and processes built for WorkflowGen's own application add it
  again;
* tool call ids already in the history are not added a second time.

``CONTENT`` rule: when it parses as a JSON message object (a known ``role`` and only message
keys: role, content, name, tool_calls, tool_call_id, refusal) or a non-empty array of such
objects, those messages are appended as they are and ``ROLE`` is not used; any other text
(including JSON data such as a tool's result) is the content of one ``ROLE`` message.
"""

from __future__ import annotations

import json
from typing import Any, NamedTuple

from .. import jsontext
from ..errors import MissingParameter, ParameterError
from ..messages import ToolCall, is_message_json, parse_message, parse_messages
from ..wfgen_graphql import GraphqlConfig, WorkflowGenGraphql
from .call import Call
from .registry import COMMON, IN, INOUT, NUMERIC, TEXT, App, Param, register

ROLES = ("user", "system", "assistant", "tool")

PARAMS = (
    Param("ROLE", TEXT, IN, "user, system, assistant or tool.", required=True, choices=ROLES),
    Param("CONTENT", TEXT, IN,
          "The message content; required except for an assistant message given by "
          "ASSISTANT_TOOL_CALL. A JSON message object (known role, message keys only) or an "
          "array of them is appended as is (ROLE unused)."),
    Param("MESSAGE_HISTORY", TEXT, INOUT,
          "The conversation (OpenAI messages JSON), returned with the message appended. With "
          "REQUEST_ID the history is that request's data instead, and is returned here too."),
    Param("TOOL_CALL_ID", TEXT, IN,
          "ROLE tool: the id of the tool call answered (GETAGENTTOOL's TOOL_ID); it must be "
          "pending in the history."),
    Param("ASSISTANT_TOOL_CALL", TEXT, IN,
          "ROLE assistant: the tool calls made, OPENAICHAT's SELECTED_TOOLS_PARAM or OpenAI "
          "tool_calls; ids already in the history's last assistant message change nothing."),
    Param("REQUEST_ID", NUMERIC, IN,
          "Number of another request whose data holds the history (read and updated through "
          "WorkflowGen's GraphQL API; settings WorkflowGenGraphqlUrl, WorkflowGenUsername, "
          "WorkflowGenPassword).", minimum=1, integer=True),
    Param("REQUEST_DATA_NAME", TEXT, IN,
          "With REQUEST_ID: the name of that request's TEXT data holding the history."),
    *COMMON,
)


def run(call: Call) -> None:
    """Build the message(s), append them to the history, store and return it."""
    additions, origin = new_messages(call)
    remote = _remote(call)
    if remote is None:
        history = parse_history(call.text("MESSAGE_HISTORY"), "MESSAGE_HISTORY")
    else:
        history = parse_history(remote.read(), "REQUEST_DATA_NAME")
    changed = [m for m in additions if append(history, m, origin)]
    text = json.dumps(history, ensure_ascii=False)
    if remote is not None and changed:
        remote.write(text)
    if not changed:
        call.log.info("nothing appended: the history already ends with those tool calls")
    call.set("MESSAGE_HISTORY", text)


# --- the new message(s) -----------------------------------------------------------------


def new_messages(call: Call) -> tuple[list[dict[str, Any]], str | None]:
    """The messages to append, and ``"CONTENT"`` when they came as JSON messages."""
    content = call.text("CONTENT")
    given = json_messages(content) if content is not None else None
    if given is not None:
        for index, message in enumerate(given):
            check_message(message, f"CONTENT[{index}]", "CONTENT")
        return given, "CONTENT"
    role = call.text("ROLE") or ""
    if role == "assistant":
        return [_assistant(call, content)], None
    if content is None:
        raise MissingParameter(f"Parameter CONTENT is required for a {role} message.",
                               parameter="CONTENT")
    if role == "tool":
        call_id = call.text("TOOL_CALL_ID")
        if call_id is None:
            raise MissingParameter(
                "Parameter TOOL_CALL_ID is required for a tool message: the id of the tool call "
                "it answers (GETAGENTTOOL's TOOL_ID).", parameter="TOOL_CALL_ID",
            )
        return [{"role": "tool", "tool_call_id": call_id, "content": content}], None
    return [{"role": role, "content": content}], None


def json_messages(content: str) -> list[dict[str, Any]] | None:
    """CONTENT as JSON message(s) under the module's CONTENT rule, else ``None``."""
    text = content.strip()
    if not text.startswith(("{", "[")):
        return None
    try:
        value = jsontext.loads(text)
    except ValueError:
        return None
    items = value if isinstance(value, list) else [value]
    if items and all(is_message_json(item) for item in items):
        return items
    return None


def _assistant(call: Call, content: str | None) -> dict[str, Any]:
    tool_calls = assistant_tool_calls(call.json_input("ASSISTANT_TOOL_CALL"))
    if content is None and not tool_calls:
        raise MissingParameter(
            "An assistant message needs CONTENT, ASSISTANT_TOOL_CALL or both.",
            parameter="CONTENT",
        )
    message: dict[str, Any] = {"role": "assistant", "content": content}
    if tool_calls:
        message["tool_calls"] = tool_calls
    return message


def assistant_tool_calls(value: Any) -> list[dict[str, Any]]:
    """ASSISTANT_TOOL_CALL (either form, one call or an array) as OpenAI ``tool_calls``."""
    name = "ASSISTANT_TOOL_CALL"
    if value is None:
        return []
    items = value if isinstance(value, list) else [value]
    converted = []
    for index, item in enumerate(items):
        tool = ToolCall.parse(item, f"{name}[{index}]", name)
        if not tool.id:
            raise ParameterError(
                f"{name}[{index}] ({tool.name}) has no id: tool messages answer tool calls "
                "by id.", parameter=name,
            )
        converted.append(tool.to_openai())
    return converted


# --- the history ------------------------------------------------------------------------


def parse_history(text: str | None, parameter: str) -> list[dict[str, Any]]:
    """The history JSON as a list of messages (``[]`` when empty), each checked as OPENAICHAT
    checks it (:func:`workflowapp.messages.parse_messages`): a history this application
    returns is one OPENAICHAT takes. The messages stay as received, unknown keys included."""
    if text is None or not text.strip():
        return []
    try:
        value = jsontext.loads(text)
    except ValueError as exc:
        raise ParameterError(f"{_source(parameter)} is not valid JSON ({exc}).",
                             parameter=parameter) from None
    if isinstance(value, dict):
        value = [value]
    if not isinstance(value, list) or not all(
        isinstance(m, dict) and isinstance(m.get("role"), str) for m in value
    ):
        raise ParameterError(
            f"{_source(parameter)} must be a JSON array of messages "
            '([{"role": ..., "content": ...}, ...]).', parameter=parameter,
        )
    parse_messages(value, parameter)
    return value


def _source(parameter: str) -> str:
    return "The history in REQUEST_DATA_NAME" if parameter == "REQUEST_DATA_NAME" else parameter


def check_message(message: dict[str, Any], where: str, parameter: str) -> None:
    """A JSON message is complete: content (or assistant tool calls), tool_call_id for tools
    (:func:`workflowapp.messages.parse_message`'s rules, the same as OPENAICHAT's)."""
    parse_message(message, where, parameter)


def append(history: list[dict[str, Any]], message: dict[str, Any], origin: str | None) -> bool:
    """Append ``message`` if it keeps the conversation valid; False for the no-op case.

    :param origin: the parameter to name in errors when the message came whole (CONTENT).
    """
    called, answered = last_tool_calls(history)
    pending = [call_id for call_id in called if call_id not in answered]
    if message["role"] == "tool":
        _check_answer(message.get("tool_call_id"), called, pending, origin or "TOOL_CALL_ID")
        history.append(message)
        return True
    ids = [c["id"] for c in message.get("tool_calls") or ()]
    if ids and set(ids) <= set(called):
        # OPENAICHAT already appended this assistant message; a process may also add the calls
        # one tool at a time (GETAGENTTOOL's TOOL), which repeats a part of them.
        return False
    if pending:
        named = origin or f"ROLE {message['role']}"
        raise ParameterError(
            f"{named}: the tool calls {', '.join(pending)} of the last assistant message are "
            "not answered yet; add a tool message (ROLE tool) for each first.",
            parameter=origin or "ROLE",
        )
    repeated = sorted(set(ids) & _all_tool_call_ids(history))
    if repeated:
        named = origin or "ASSISTANT_TOOL_CALL"
        raise ParameterError(
            f"{named}: the history already holds the tool call(s) {', '.join(repeated)}; an "
            "id can be called only once.", parameter=named,
        )
    history.append(message)
    return True


def last_tool_calls(history: list[dict[str, Any]]) -> tuple[list[str], set[str]]:
    """(ids of the last assistant message's tool calls, ids answered by the tool messages after)."""
    answered: set[str] = set()
    for message in reversed(history):
        if message.get("role") == "tool":
            answered.add(str(message.get("tool_call_id")))
            continue
        calls = message.get("tool_calls") if message.get("role") == "assistant" else None
        if isinstance(calls, list):
            return [str(c.get("id")) for c in calls if isinstance(c, dict)], answered
        break
    return [], answered


def _check_answer(call_id: Any, called: list[str], pending: list[str], parameter: str) -> None:
    if call_id in pending:
        return
    if call_id in called:
        problem = "was already answered"
    elif pending:
        problem = f"is not pending; the last assistant message awaits {', '.join(pending)}"
    else:
        problem = ("is not pending: the history does not end with an assistant message whose "
                   "tool calls await an answer")
    named = "TOOL_CALL_ID" if parameter == "TOOL_CALL_ID" else f"{parameter}: tool_call_id"
    raise ParameterError(f"{named} {call_id} {problem}.", parameter=parameter)


def _all_tool_call_ids(history: list[dict[str, Any]]) -> set[str]:
    return {str(c.get("id")) for m in history if m.get("role") == "assistant"
            for c in m.get("tool_calls") or () if isinstance(c, dict)}


# --- another request's history ----------------------------------------------------------


class RemoteHistory(NamedTuple):
    """The history kept in TEXT data ``name`` of request ``number``, through GraphQL."""

    api: WorkflowGenGraphql
    number: int
    name: str

    def read(self) -> str | None:
        return self.api.read_text(self.number, self.name)

    def write(self, text: str) -> None:
        self.api.write_text(self.number, self.name, text)


def _remote(call: Call) -> RemoteHistory | None:
    """The other request's history when REQUEST_ID/REQUEST_DATA_NAME are given."""
    number, name = call.number("REQUEST_ID"), call.text("REQUEST_DATA_NAME")
    if number is None and name is None:
        return None
    if number is None or name is None:
        absent, other = (("REQUEST_ID", "REQUEST_DATA_NAME") if number is None
                         else ("REQUEST_DATA_NAME", "REQUEST_ID"))
        raise MissingParameter(
            f"Parameter {absent} is required with {other}: together they name the request "
            "data holding the history.", parameter=absent,
        )
    if call.text("MESSAGE_HISTORY") is not None:
        call.log.info("REQUEST_ID given: the received MESSAGE_HISTORY is not used")
    config = GraphqlConfig.from_settings(call.services.settings,
                                         purpose="OPENAIADDMESSAGE with REQUEST_ID")
    return RemoteHistory(WorkflowGenGraphql(config, log=call.log), int(number), name)


OPENAIADDMESSAGE = register(
    App(
        name="OPENAIADDMESSAGE",
        description="Adds a message (user, system, assistant with tool calls, or a tool "
        "result) to a conversation, here or in another request's data.",
        params=PARAMS,
        log_setting="OpenAIAddMessageLogLevel",
        run=run,
        calls_upstream=False,
    )
)

"""OPENAIADDMESSAGE through the Flask app: local histories, another request's through GraphQL."""

from __future__ import annotations

import json
import socket
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from werkzeug.test import Client as WebClient

from tests.fakes.graphql_fake import FakeWorkflowGenGraphql
from tests.helpers import FORMATS, Reply, out, param, post
from workflowapp.context.model import Format

SELECTED = [
    {"name": "GET_STOCK_INFORMATION", "id": "call_A",
     "parameters": {"product_name": "vis", "serial_number": "V45645"}},
    {"name": "GET_STOCK_INFORMATION", "id": "call_B",
     "parameters": {"product_name": "boulons", "serial_number": "b456"}},
]
TOOL_CALLS = [
    {"id": "call_A", "type": "function",
     "function": {"name": "GET_STOCK_INFORMATION",
                  "arguments": '{"product_name": "vis", "serial_number": "V45645"}'}},
    {"id": "call_B", "type": "function",
     "function": {"name": "GET_STOCK_INFORMATION",
                  "arguments": '{"product_name": "boulons", "serial_number": "b456"}'}},
]
USER = {"role": "user", "content": "Stock of vis and boulons?"}
ASSISTANT = {"role": "assistant", "content": None, "tool_calls": TOOL_CALLS}
TOOL_A = {"role": "tool", "tool_call_id": "call_A", "content": "12 in stock"}
OUTS = (out("APP_RESPONSE_STATUS"), out("APP_RESPONSE_CONTENT"))


def add(client: WebClient, role: str | None, *params: Any, history: Any = None,
        fmt: Format = Format.DATASET) -> Reply:
    given = [param("ROLE", role)] if role is not None else []
    if history is not None:
        given.append(param("MESSAGE_HISTORY", json.dumps(history), "INOUT"))
    else:
        given.append(out("MESSAGE_HISTORY"))
    return post(client, "OPENAIADDMESSAGE", *given, *params, *OUTS, fmt=fmt)


def history_of(reply: Reply) -> list[dict[str, Any]]:
    assert reply.status == 200, reply.text
    value = json.loads(reply["MESSAGE_HISTORY"])
    assert isinstance(value, list)
    return value


# --- local histories ----------------------------------------------------------------------


@pytest.mark.parametrize("fmt", FORMATS)
def test_user_message_starts_a_history(client: WebClient, fmt: Format) -> None:
    reply = add(client, "User", param("CONTENT", "Bonjour"), fmt=fmt)
    assert history_of(reply) == [{"role": "user", "content": "Bonjour"}]
    assert reply["APP_RESPONSE_STATUS"] == "200"


@pytest.mark.parametrize("fmt", FORMATS)
def test_system_and_assistant_messages_are_appended(client: WebClient, fmt: Format) -> None:
    system = add(client, "system", param("CONTENT", "Be brief."), history=[USER], fmt=fmt)
    assert history_of(system) == [USER, {"role": "system", "content": "Be brief."}]
    assistant = add(client, "assistant", param("CONTENT", "Checking."), history=[USER], fmt=fmt)
    assert history_of(assistant) == [USER, {"role": "assistant", "content": "Checking."}]


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("calls", [SELECTED, TOOL_CALLS], ids=["selected_tools", "tool_calls"])
def test_assistant_tool_calls_are_converted(client: WebClient, fmt: Format,
                                            calls: list[dict[str, Any]]) -> None:
    reply = add(client, "assistant", param("ASSISTANT_TOOL_CALL", json.dumps(calls)),
                history=[USER], fmt=fmt)
    (_, added) = history_of(reply)
    assert added["role"] == "assistant" and added["content"] is None
    assert [c["id"] for c in added["tool_calls"]] == ["call_A", "call_B"]
    assert all(c["type"] == "function" for c in added["tool_calls"])
    arguments = [json.loads(c["function"]["arguments"]) for c in added["tool_calls"]]
    assert arguments == [s["parameters"] for s in SELECTED]


def test_single_tool_call_object_is_accepted(client: WebClient) -> None:
    reply = add(client, "assistant", param("CONTENT", "Let me check."),
                param("ASSISTANT_TOOL_CALL", json.dumps(SELECTED[0])), history=[USER])
    added = history_of(reply)[-1]
    assert added["content"] == "Let me check."
    assert [c["id"] for c in added["tool_calls"]] == ["call_A"]


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("history", [[USER, ASSISTANT], [USER, ASSISTANT, TOOL_A]],
                         ids=["unanswered", "partly_answered"])
def test_same_tool_calls_again_are_a_no_op(client: WebClient, fmt: Format,
                                           history: list[dict[str, Any]]) -> None:
    reply = add(client, "assistant", param("ASSISTANT_TOOL_CALL", json.dumps(SELECTED)),
                history=history, fmt=fmt)
    assert history_of(reply) == history


def test_one_tool_at_a_time_repeats_part_of_the_calls(client: WebClient) -> None:
    """A process adding GETAGENTTOOL's single TOOL before each result changes nothing."""
    history: list[dict[str, Any]] = [USER, ASSISTANT]
    for selected, call_id in ((SELECTED[0], "call_A"), (SELECTED[1], "call_B")):
        same = add(client, "assistant", param("ASSISTANT_TOOL_CALL", json.dumps(selected)),
                   history=history)
        assert history_of(same) == history
        answered = add(client, "tool", param("CONTENT", "ok"), param("TOOL_CALL_ID", call_id),
                       history=history)
        history = history_of(answered)
    assert [m["role"] for m in history] == ["user", "assistant", "tool", "tool"]


@pytest.mark.parametrize("fmt", FORMATS)
def test_tool_results_answer_pending_calls(client: WebClient, fmt: Format) -> None:
    first = add(client, "tool", param("CONTENT", "12 in stock"), param("TOOL_CALL_ID", "call_A"),
                history=[USER, ASSISTANT], fmt=fmt)
    assert history_of(first) == [USER, ASSISTANT, TOOL_A]
    data = '{"stock": 3, "role": "admin"}'  # a JSON tool result is content, not a message
    second = add(client, "tool", param("CONTENT", data), param("TOOL_CALL_ID", "call_B"),
                 history=history_of(first), fmt=fmt)
    assert history_of(second)[-1] == {"role": "tool", "tool_call_id": "call_B", "content": data}


def test_json_message_content_is_appended_as_is(client: WebClient) -> None:
    message = {"role": "assistant", "content": "Done.", "name": "bot"}
    reply = add(client, "user", param("CONTENT", json.dumps(message)), history=[USER])
    assert history_of(reply) == [USER, message]
    messages = [{"role": "system", "content": "Short answers."}, USER]
    reply = add(client, "user", param("CONTENT", json.dumps(messages)))
    assert history_of(reply) == messages


@pytest.mark.parametrize("content", [
    '{"role": "user", "content": "x", "extra": 1}',  # a key no message has: plain content
    '{"role": "admin"}',
    '[{"role": "user", "content": "x"}, 3]',
    "[]",
    "{not json",
])
def test_other_json_is_plain_content(client: WebClient, content: str) -> None:
    reply = add(client, "user", param("CONTENT", content))
    assert history_of(reply) == [{"role": "user", "content": content}]


def test_json_assistant_message_repeating_the_calls_is_a_no_op(client: WebClient) -> None:
    reply = add(client, "assistant", param("CONTENT", json.dumps(ASSISTANT)),
                history=[USER, ASSISTANT])
    assert history_of(reply) == [USER, ASSISTANT]


ERRORS = [
    ("tool", [param("CONTENT", "x"), param("TOOL_CALL_ID", "call_Z")], [USER, ASSISTANT],
     "TOOL_CALL_ID", "TOOL_CALL_ID call_Z is not pending; the last assistant message awaits "
     "call_A, call_B."),
    ("tool", [param("CONTENT", "x"), param("TOOL_CALL_ID", "call_A")], [USER, ASSISTANT, TOOL_A],
     "TOOL_CALL_ID", "TOOL_CALL_ID call_A was already answered."),
    ("tool", [param("CONTENT", "x"), param("TOOL_CALL_ID", "call_A")], [USER],
     "TOOL_CALL_ID", "is not pending: the history does not end with an assistant message"),
    ("tool", [param("CONTENT", "x")], [USER, ASSISTANT], "TOOL_CALL_ID",
     "Parameter TOOL_CALL_ID is required for a tool message"),
    ("tool", [param("TOOL_CALL_ID", "call_A")], [USER, ASSISTANT], "CONTENT",
     "Parameter CONTENT is required for a tool message."),
    ("user", [param("CONTENT", "next")], [USER, ASSISTANT, TOOL_A], "ROLE",
     "ROLE user: the tool calls call_B of the last assistant message are not answered yet"),
    ("user", [], [USER], "CONTENT", "Parameter CONTENT is required for a user message."),
    ("assistant", [], [USER], "CONTENT", "An assistant message needs CONTENT, "
     "ASSISTANT_TOOL_CALL or both."),
    ("assistant", [param("ASSISTANT_TOOL_CALL", json.dumps([SELECTED[0]]))],
     [USER, ASSISTANT, TOOL_A, {**TOOL_A, "tool_call_id": "call_B"},
      {"role": "assistant", "content": "Both are in stock."}], "ASSISTANT_TOOL_CALL",
     "ASSISTANT_TOOL_CALL: the history already holds the tool call(s) call_A"),
    ("assistant", [param("ASSISTANT_TOOL_CALL", '[{"name": "F", "parameters": {}}]')], [USER],
     "ASSISTANT_TOOL_CALL", "ASSISTANT_TOOL_CALL[0] (F) has no id"),
    ("assistant", [param("ASSISTANT_TOOL_CALL", "[oops")], [USER], "ASSISTANT_TOOL_CALL",
     "Parameter ASSISTANT_TOOL_CALL is not valid JSON"),
    ("user", [param("CONTENT", '{"role": "tool", "content": "x"}')], [USER], "CONTENT",
     "CONTENT[0] (tool) has no tool_call_id."),
    ("user", [param("CONTENT", '{"role": "tool", "tool_call_id": "call_Z", "content": "x"}')],
     [USER, ASSISTANT], "CONTENT", "CONTENT: tool_call_id call_Z is not pending"),
    ("robot", [param("CONTENT", "x")], [USER], "ROLE",
     "Parameter ROLE must be one of user, system, assistant, tool, not 'robot'."),
    (None, [param("CONTENT", "x")], [USER], "ROLE", "Parameter ROLE is required"),
    ("user", [param("CONTENT", "x")], {"not": "messages"}, "MESSAGE_HISTORY",
     "MESSAGE_HISTORY must be a JSON array of messages"),
    ("user", [param("CONTENT", "x"), param("REQUEST_ID", 12)], None, "REQUEST_DATA_NAME",
     "Parameter REQUEST_DATA_NAME is required with REQUEST_ID"),
    ("user", [param("CONTENT", "x"), param("REQUEST_ID", 1.5), param("REQUEST_DATA_NAME", "H")],
     None, "REQUEST_ID", "Parameter REQUEST_ID must be a whole number"),
]


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize(("role", "params", "history", "named", "message"), ERRORS)
def test_errors_name_the_parameter(client: WebClient, fmt: Format, role: str | None,
                                   params: list[Any], history: Any, named: str,
                                   message: str) -> None:
    reply = add(client, role, *params, history=history, fmt=fmt)
    assert reply.status == 400
    assert message in reply.text
    assert named in reply.text
    ignored = add(client, role, *params, param("APP_RESPONSE_IGNORE_ERROR", "Y"),
                  history=history, fmt=fmt)
    assert ignored.status == 200
    assert ignored["APP_RESPONSE_STATUS"] in ("invalid_parameter", "missing_parameter")
    assert message in ignored["APP_RESPONSE_CONTENT"]
    if history is not None:
        assert json.loads(ignored["MESSAGE_HISTORY"]) == history, "INOUT left as received"


def test_invalid_history_json(client: WebClient) -> None:
    reply = post(client, "OPENAIADDMESSAGE", param("ROLE", "user"), param("CONTENT", "x"),
                 param("MESSAGE_HISTORY", "[{", "INOUT"))
    assert reply.status == 400 and "MESSAGE_HISTORY is not valid JSON" in reply.text


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize(("history", "problem"), [
    ([USER, ASSISTANT, {"role": "tool", "content": "12"}],
     "MESSAGE_HISTORY[2] (tool) has no tool_call_id"),
    ([USER, {"role": "assistant", "tool_calls": [{"id": "c1", "type": "function",
                                                  "function": {"arguments": "{}"}}]}],
     "MESSAGE_HISTORY[1].tool_calls[0]"),
    ([{"role": "user", "content": ""}], "MESSAGE_HISTORY[0] (user) has no content"),
    ([{"role": "robot", "content": "hi"}], "MESSAGE_HISTORY[0] has role 'robot'"),
])
def test_a_history_openaichat_would_refuse_is_refused_here_too(
        client: WebClient, history: list[dict[str, Any]], problem: str, fmt: Format) -> None:
    """messages.py checks both applications' histories: what OPENAIADDMESSAGE returns,
    OPENAICHAT takes."""
    reply = add(client, "user", param("CONTENT", "x"), history=history, fmt=fmt)
    assert reply.status == 400 and problem in reply.text, reply.text
    chat = post(client, "OPENAICHAT", param("MODEL", "m"), param("API_KEY", "k"),
                param("MESSAGE_HISTORY", json.dumps(history), "INOUT"), *OUTS, fmt=fmt)
    assert chat.status == 400 and problem in chat.text, chat.text


# --- another request's history, through WorkflowGen's GraphQL API -------------------------


@pytest.fixture(scope="module")
def graphql_server() -> Iterator[FakeWorkflowGenGraphql]:
    with FakeWorkflowGenGraphql() as fake:
        yield fake


@pytest.fixture
def graphql(graphql_server: FakeWorkflowGenGraphql) -> FakeWorkflowGenGraphql:
    graphql_server.reset()
    return graphql_server


@pytest.fixture
def remote_client(make_client: Callable[..., WebClient],
                  graphql: FakeWorkflowGenGraphql) -> WebClient:
    return make_client(**graphql.settings())


def remote(number: float = 1234) -> list[Any]:
    return [param("REQUEST_ID", number), param("REQUEST_DATA_NAME", "CONVERSATION")]


@pytest.mark.parametrize("fmt", FORMATS)
def test_remote_history_is_read_updated_and_returned(
    remote_client: WebClient, graphql: FakeWorkflowGenGraphql, fmt: Format
) -> None:
    graphql.add_request(1234, CONVERSATION=json.dumps([USER, ASSISTANT]), OTHER="kept")
    reply = add(remote_client, "tool", param("CONTENT", "12 in stock"),
                param("TOOL_CALL_ID", "call_A"), *remote(), fmt=fmt)
    expected = [USER, ASSISTANT, TOOL_A]
    assert history_of(reply) == expected
    assert json.loads(graphql.data(1234, "CONVERSATION")) == expected
    assert graphql.data(1234, "OTHER") == "kept"
    assert [c.operation for c in graphql.calls] == ["query", "mutation"]
    assert graphql.settings()["WorkflowGenPassword"] not in reply.text


def test_remote_empty_data_starts_a_history(remote_client: WebClient,
                                            graphql: FakeWorkflowGenGraphql) -> None:
    graphql.add_request(1234, CONVERSATION=None)
    reply = add(remote_client, "user", param("CONTENT", "Où est Montréal ?"), *remote(),
                history=[{"role": "user", "content": "ignored: REQUEST_ID wins"}])
    expected = [{"role": "user", "content": "Où est Montréal ?"}]
    assert history_of(reply) == expected
    assert json.loads(graphql.data(1234, "CONVERSATION")) == expected


def test_remote_no_op_writes_nothing(remote_client: WebClient,
                                     graphql: FakeWorkflowGenGraphql) -> None:
    graphql.add_request(1234, CONVERSATION=json.dumps([USER, ASSISTANT]))
    reply = add(remote_client, "assistant", param("ASSISTANT_TOOL_CALL", json.dumps(SELECTED)),
                *remote())
    assert history_of(reply) == [USER, ASSISTANT]
    assert [c.operation for c in graphql.calls] == ["query"]


def test_remote_without_settings_names_them(client: WebClient) -> None:
    reply = add(client, "user", param("CONTENT", "x"), *remote())
    assert reply.status == 500
    assert "WorkflowGenGraphqlUrl, WorkflowGenUsername, WorkflowGenPassword" in reply.text
    ignored = add(client, "user", param("CONTENT", "x"), *remote(),
                  param("APP_RESPONSE_IGNORE_ERROR", "Y"))
    assert ignored["APP_RESPONSE_STATUS"] == "missing_setting"


@pytest.mark.parametrize(("setup", "status", "code", "fragment"), [
    ("no_request", 400, "invalid_parameter", "REQUEST_ID 1234: WorkflowGen has no such request"),
    ("no_data", 400, "invalid_parameter", "REQUEST_DATA_NAME 'CONVERSATION': request 1234 has "
                                          "no data of that name (its data: HISTORY"),
    ("bad_history", 400, "invalid_parameter", "The history in REQUEST_DATA_NAME is not valid "
                                              "JSON"),
    ("graphql_error", 502, "workflowgen_error", "refused the request: Not allowed"),
    ("pending", 400, "invalid_parameter", "are not answered yet"),
])
def test_remote_errors(remote_client: WebClient, graphql: FakeWorkflowGenGraphql, setup: str,
                       status: int, code: str, fragment: str) -> None:
    if setup == "no_data":
        graphql.add_request(1234, HISTORY="[]")
    elif setup == "bad_history":
        graphql.add_request(1234, CONVERSATION="not json")
    elif setup == "graphql_error":
        for _ in range(2):
            graphql.fail_next(200, {"errors": [{"message": "Not allowed"}]})
    elif setup == "pending":
        graphql.add_request(1234, CONVERSATION=json.dumps([USER, ASSISTANT]))
    reply = add(remote_client, "user", param("CONTENT", "x"), *remote())
    assert reply.status == status
    assert fragment in reply.text
    ignored = add(remote_client, "user", param("CONTENT", "x"), *remote(),
                  param("APP_RESPONSE_IGNORE_ERROR", "Y"))
    assert ignored["APP_RESPONSE_STATUS"] == code
    assert [c.operation for c in graphql.calls if c.operation == "mutation"] == []


def test_remote_wrong_password(make_client: Callable[..., WebClient],
                               graphql: FakeWorkflowGenGraphql) -> None:
    client = make_client(**{**graphql.settings(), "WorkflowGenPassword": "Wrong-Secret-9"})
    reply = add(client, "user", param("CONTENT", "x"), *remote())
    assert reply.status == 502
    assert "WorkflowGenPassword" in reply.text and "Wrong-Secret-9" not in reply.text
    ignored = add(client, "user", param("CONTENT", "x"), *remote(),
                  param("APP_RESPONSE_IGNORE_ERROR", "Y"))
    assert ignored["APP_RESPONSE_STATUS"] == "401"
    assert "Wrong-Secret-9" not in ignored.text


def test_remote_unreachable(make_client: Callable[..., WebClient]) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    client = make_client(WorkflowGenGraphqlUrl=f"http://127.0.0.1:{port}/wfgen/graphql",
                         WorkflowGenUsername="u", WorkflowGenPassword="p")
    reply = add(client, "user", param("CONTENT", "x"), *remote(),
                param("APP_RESPONSE_IGNORE_ERROR", "Y"))
    assert reply["APP_RESPONSE_STATUS"] == "connection_error"
    assert "Cannot reach WorkflowGen's GraphQL API" in reply["APP_RESPONSE_CONTENT"]

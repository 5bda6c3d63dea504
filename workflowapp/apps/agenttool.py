"""GETAGENTTOOL and GETAGENTTOOLDATA: take the tool calls of OPENAICHAT apart, in the process.

WorkflowGen draws the tool loop in the process diagram: OPENAICHAT returns the calls the model
chose (``SELECTED_TOOLS_PARAM``), these applications give the process one call's name, id and
parameters, and each *other* declared OUT parameter receives the tool parameter of the same
name (*propertyToExtract*). Nothing is sent upstream.

A tool call is accepted in WorkflowGen's form ``{"name", "id", "parameters": {...}}`` or in
OpenAI's ``{"id", "type": "function", "function": {"name", "arguments": "<JSON>"}}``, and is
always returned in WorkflowGen's form.

*propertyToExtract* rule: a declared OUT parameter the call's parameters lack is emptied (a value
of a previous tool call never lingers in the process data; an INOUT one keeps its value);
objects and arrays go to TEXT parameters as JSON text; a value the OUT parameter's type cannot
hold is an error naming it. Names match exactly (WorkflowGen's names are case-sensitive).
"""

from __future__ import annotations

import json
from typing import Any

from .. import messages
from ..errors import ParameterError
from ..messages import ToolCall
from .call import Call
from .registry import COMMON, IN, NUMERIC, OUT, TEXT, App, Param, register

PROPERTY_RULE = (
    "Any other declared OUT parameter receives the tool parameter of the same name "
    "(exact case), converted to its type (objects and arrays as JSON text); one the call "
    "lacks is emptied."
)
# Set by execute() itself: never tool properties, even in an app that did not declare them.
_STATUS_OUTPUTS = frozenset({"APP_RESPONSE_STATUS", "APP_RESPONSE_CONTENT"})
TOOL_OUTPUTS = (
    Param("TOOL_NAME", TEXT, OUT, "The tool call's name."),
    Param("TOOL_ID", TEXT, OUT, "The tool call's id (for OPENAIADDMESSAGE's TOOL_CALL_ID)."),
    Param("TOOL_PARAMETERS", TEXT, OUT, "The tool call's parameters, JSON."),
    Param("<propertyToExtract>", TEXT, OUT, PROPERTY_RULE, pattern=True),
)


def parse_tool_call(value: Any, where: str, parameter: str) -> dict[str, Any]:
    """One tool call (either form) in WorkflowGen's form ``{"name", "id", "parameters"}``.

    :param where: how the error messages name the value (``TOOLS[1]``).
    :raises ParameterError: naming ``parameter`` when ``value`` is not a tool call.
    """
    return ToolCall.parse(value, where, parameter).to_selected()


def parse_tool_calls(value: Any, parameter: str) -> list[dict[str, Any]]:
    """A JSON array of tool calls (either form), each in WorkflowGen's form."""
    return [call.to_selected() for call in messages.parse_tool_calls(value, parameter)]


def fill_tool_outputs(call: Call, tool: dict[str, Any]) -> None:
    """TOOL_NAME, TOOL_ID, TOOL_PARAMETERS and every *propertyToExtract* OUT parameter."""
    call.set("TOOL_NAME", tool["name"])
    call.set("TOOL_ID", tool["id"])
    call.set("TOOL_PARAMETERS", json.dumps(tool["parameters"], ensure_ascii=False))
    parameters = tool["parameters"]
    missing = []
    for name in call.output_names():
        if call.app.param(name) is not None or name in _STATUS_OUTPUTS:
            continue
        if name not in parameters:
            if call.context.parameters[name].is_input:
                continue  # an INOUT parameter keeps the value it came with
            missing.append(name)
        call.set(name, parameters.get(name))  # to_type: objects/arrays as JSON
    if missing:
        call.log.info("tool %s has no parameter %s: emptied", tool["name"], ", ".join(missing))


def run_get_tool(call: Call) -> None:
    """GETAGENTTOOL: the call at TOOL_INDEX of TOOLS."""
    tools = parse_tool_calls(call.json_input("TOOLS"), "TOOLS")
    index = int(call.number("TOOL_INDEX") or 0)
    if index >= len(tools):
        held = f"indexes 0 to {len(tools) - 1}" if tools else "none"
        raise ParameterError(
            f"TOOL_INDEX {index} is out of range: TOOLS holds {len(tools)} tool call(s) "
            f"({held}).", parameter="TOOL_INDEX",
        )
    tool = tools[index]
    call.set("TOOL", json.dumps(tool, ensure_ascii=False))
    fill_tool_outputs(call, tool)


def run_get_tool_data(call: Call) -> None:
    """GETAGENTTOOLDATA: the one call of TOOL_DATA."""
    value = call.json_input("TOOL_DATA")
    if isinstance(value, list):
        raise ParameterError(
            "TOOL_DATA must be one tool call object, not an array; take one call out of an "
            "array with GETAGENTTOOL.", parameter="TOOL_DATA",
        )
    fill_tool_outputs(call, parse_tool_call(value, "TOOL_DATA", "TOOL_DATA"))


GETAGENTTOOL = register(
    App(
        name="GETAGENTTOOL",
        description="Takes one tool call out of OPENAICHAT's SELECTED_TOOLS_PARAM: its name, "
        "id, parameters, and each parameter by name.",
        params=(
            Param("TOOLS", TEXT, IN,
                  'JSON array of tool calls: OPENAICHAT\'s SELECTED_TOOLS_PARAM [{"name", '
                  '"id", "parameters"}] or OpenAI tool_calls.', required=True),
            Param("TOOL_INDEX", NUMERIC, IN, "Index of the tool call in TOOLS (0 = first).",
                  default=0.0, minimum=0, integer=True),
            Param("TOOL", TEXT, OUT,
                  'The extracted tool call, JSON: {"name", "id", "parameters"}.'),
            *TOOL_OUTPUTS,
            *COMMON,
        ),
        log_setting="GetAgentToolLogLevel",
        run=run_get_tool,
        calls_upstream=False,
    )
)

GETAGENTTOOLDATA = register(
    App(
        name="GETAGENTTOOLDATA",
        description="Reads one tool call (e.g. GETAGENTTOOL's TOOL): its name, id, parameters, "
        "and each parameter by name.",
        params=(
            Param("TOOL_DATA", TEXT, IN,
                  'One tool call, JSON: {"name", "id", "parameters": {...}} (OpenAI\'s '
                  "tool_call form is accepted too).", required=True),
            *TOOL_OUTPUTS,
            *COMMON,
        ),
        log_setting="GetAgentToolDataLogLevel",
        run=run_get_tool_data,
        calls_upstream=False,
    )
)

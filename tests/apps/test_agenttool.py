"""GETAGENTTOOL and GETAGENTTOOLDATA through the Flask app, in DataSet XML and JSON contexts."""

from __future__ import annotations

import json
from typing import Any

import pytest
from werkzeug.test import Client as WebClient

from tests.helpers import FORMATS, out, param, post
from workflowapp.context.model import Format

DOC_SELECTED: list[dict[str, Any]] = [
    {"name": "GET_STOCK_INFORMATION", "id": "call_Vuc2Ga8jP7vUksxG9C0fwpY8",
     "parameters": {"product_name": "vis", "serial_number": "V45645"}},
    {"name": "GET_STOCK_INFORMATION", "id": "call_nq3SCVUk0FjAHCeqOZGNXpC8",
     "parameters": {"product_name": "boulons", "serial_number": "b456"}},
]
OPENAI_CALLS = [
    {"id": "call_A", "type": "function",
     "function": {"name": "PURCHASE_ORDER",
                  "arguments": '{"serial_number": "X1", "quantity": 3, "rush": true}'}},
]
TOOL_OUTS = (out("TOOL"), out("TOOL_NAME"), out("TOOL_ID"), out("TOOL_PARAMETERS"),
             out("APP_RESPONSE_STATUS"), out("APP_RESPONSE_CONTENT"))


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("index", [0, 1])
def test_get_tool_documented_example(client: WebClient, fmt: Format, index: int) -> None:
    reply = post(client, "GETAGENTTOOL", param("TOOLS", json.dumps(DOC_SELECTED)),
                 param("TOOL_INDEX", index), *TOOL_OUTS, out("serial_number"),
                 out("product_name"), fmt=fmt)
    assert reply.status == 200, reply.text
    expected = DOC_SELECTED[index]
    assert json.loads(reply["TOOL"]) == expected
    assert reply["TOOL_NAME"] == "GET_STOCK_INFORMATION"
    assert reply["TOOL_ID"] == expected["id"]
    assert json.loads(reply["TOOL_PARAMETERS"]) == expected["parameters"]
    assert reply["serial_number"] == expected["parameters"]["serial_number"]
    assert reply["product_name"] == expected["parameters"]["product_name"]
    assert reply["APP_RESPONSE_STATUS"] == "200"
    assert reply["APP_RESPONSE_CONTENT"] is None


def test_tool_index_defaults_to_the_first_call(client: WebClient) -> None:
    reply = post(client, "GETAGENTTOOL", param("TOOLS", json.dumps(DOC_SELECTED)),
                 out("TOOL_ID"))
    assert reply["TOOL_ID"] == "call_Vuc2Ga8jP7vUksxG9C0fwpY8"


@pytest.mark.parametrize("fmt", FORMATS)
def test_openai_tool_calls_are_accepted_and_typed_by_out_parameter(
    client: WebClient, fmt: Format
) -> None:
    reply = post(client, "GETAGENTTOOL", param("TOOLS", json.dumps(OPENAI_CALLS)), *TOOL_OUTS,
                 out("quantity", "NUMERIC"), out("serial_number"), out("rush"), fmt=fmt)
    assert reply.status == 200, reply.text
    assert json.loads(reply["TOOL"]) == {
        "name": "PURCHASE_ORDER", "id": "call_A",
        "parameters": {"serial_number": "X1", "quantity": 3, "rush": True}}
    assert reply["quantity"] == 3.0
    assert reply["serial_number"] == "X1"
    assert reply["rush"] == "true"


def test_objects_and_arrays_go_to_text_as_json(client: WebClient) -> None:
    tool = {"name": "SHIP", "id": "c1",
            "parameters": {"address": {"city": "Montréal"}, "items": [1, 2]}}
    reply = post(client, "GETAGENTTOOLDATA", param("TOOL_DATA", json.dumps(tool)),
                 out("address"), out("items"))
    assert json.loads(reply["address"]) == {"city": "Montréal"}
    assert json.loads(reply["items"]) == [1, 2]


@pytest.mark.parametrize("fmt", FORMATS)
def test_absent_property_is_emptied_and_inout_kept(client: WebClient, fmt: Format) -> None:
    tool = {"name": "GET_STOCK_INFORMATION", "id": "c2", "parameters": {"serial_number": "b4"}}
    reply = post(client, "GETAGENTTOOLDATA", param("TOOL_DATA", json.dumps(tool)),
                 param("product_name", "vis from the previous call", "OUT"),
                 param("note", "kept", "INOUT"), out("serial_number"), fmt=fmt)
    assert reply.status == 200, reply.text
    assert reply["serial_number"] == "b4"
    assert reply["product_name"] is None
    assert reply["note"] == "kept"


def test_status_outputs_are_never_properties(client: WebClient) -> None:
    tool = {"name": "T", "id": "c3",
            "parameters": {"APP_RESPONSE_STATUS": "hijack", "APP_RESPONSE_CONTENT": "x"}}
    reply = post(client, "GETAGENTTOOLDATA", param("TOOL_DATA", json.dumps(tool)),
                 out("APP_RESPONSE_STATUS"), out("APP_RESPONSE_CONTENT"), out("TOOL_NAME"))
    assert reply["APP_RESPONSE_STATUS"] == "200"
    assert reply["APP_RESPONSE_CONTENT"] is None
    assert reply["TOOL_NAME"] == "T"


@pytest.mark.parametrize("fmt", FORMATS)
def test_documented_get_tool_data_example(client: WebClient, fmt: Format) -> None:
    tool_data = ('{"name":"GET_STOCK_INFORMATION","id":"call_75hCa1n3NZtlLLx1VGqSXY8C",'
                 '"parameters":{"serial_number":"v456"}}')
    reply = post(client, "GETAGENTTOOLDATA", param("TOOL_DATA", tool_data), out("TOOL_NAME"),
                 out("TOOL_ID"), out("TOOL_PARAMETERS"), out("serial_number"), fmt=fmt)
    assert reply.status == 200, reply.text
    assert reply["serial_number"] == "v456"
    assert reply["TOOL_NAME"] == "GET_STOCK_INFORMATION"
    assert reply["TOOL_ID"] == "call_75hCa1n3NZtlLLx1VGqSXY8C"
    assert json.loads(reply["TOOL_PARAMETERS"]) == {"serial_number": "v456"}


ERRORS = [
    ("GETAGENTTOOL", [param("TOOLS", json.dumps(DOC_SELECTED)), param("TOOL_INDEX", 2)],
     "TOOL_INDEX 2 is out of range: TOOLS holds 2 tool call(s) (indexes 0 to 1).",
     "invalid_parameter"),
    ("GETAGENTTOOL", [param("TOOLS", "[]")],
     "TOOL_INDEX 0 is out of range: TOOLS holds 0 tool call(s) (none).", "invalid_parameter"),
    ("GETAGENTTOOL", [param("TOOLS", "[{not json")], "Parameter TOOLS is not valid JSON",
     "invalid_parameter"),
    ("GETAGENTTOOL", [param("TOOLS", '{"name": "A"}')],
     "TOOLS must be a JSON array of tool calls.", "invalid_parameter"),
    ("GETAGENTTOOL", [param("TOOLS", '[{"id": "x"}]')], "TOOLS[0] has no tool name.",
     "invalid_parameter"),
    ("GETAGENTTOOL", [param("TOOLS", json.dumps(DOC_SELECTED)), param("TOOL_INDEX", -1)],
     "Parameter TOOL_INDEX must be at least 0, not -1.", "invalid_parameter"),
    ("GETAGENTTOOL", [param("TOOLS", json.dumps(DOC_SELECTED)), param("TOOL_INDEX", 0.5)],
     "Parameter TOOL_INDEX must be a whole number", "invalid_parameter"),
    ("GETAGENTTOOL", [], "Parameter TOOLS is required", "missing_parameter"),
    ("GETAGENTTOOL",
     [param("TOOLS", '[{"id": "c", "type": "function", '
                     '"function": {"name": "F", "arguments": "{oops"}}]')],
     "TOOLS[0] has parameters that are not valid JSON", "invalid_parameter"),
    ("GETAGENTTOOLDATA", [param("TOOL_DATA", json.dumps(DOC_SELECTED))],
     "TOOL_DATA must be one tool call object, not an array", "invalid_parameter"),
    ("GETAGENTTOOLDATA", [param("TOOL_DATA", '{"name": "F", "parameters": [1]}')],
     "TOOL_DATA has parameters that are not a JSON object.", "invalid_parameter"),
    ("GETAGENTTOOLDATA", [param("TOOL_DATA", "nope")], "Parameter TOOL_DATA is not valid JSON",
     "invalid_parameter"),
    ("GETAGENTTOOLDATA",
     [param("TOOL_DATA", '{"name": "F", "id": "c", "parameters": {"quantity": "many"}}'),
      out("quantity", "NUMERIC")],
     "OUT parameter quantity is NUMERIC but the value 'many' is not a number it can hold.",
     "invalid_parameter"),
]


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize(("app", "params", "message", "code"), ERRORS)
def test_errors_fail_with_a_clear_message(client: WebClient, fmt: Format, app: str,
                                          params: list[Any], message: str, code: str) -> None:
    reply = post(client, app, *params, out("TOOL_NAME"), fmt=fmt)
    assert reply.status == 400
    assert message in reply.text


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize(("app", "params", "message", "code"), ERRORS)
def test_errors_ignored_fill_the_status(client: WebClient, fmt: Format, app: str,
                                        params: list[Any], message: str, code: str) -> None:
    reply = post(client, app, *params, param("APP_RESPONSE_IGNORE_ERROR", "Y"),
                 out("TOOL_NAME"), out("APP_RESPONSE_STATUS"), out("APP_RESPONSE_CONTENT"),
                 fmt=fmt)
    assert reply.status == 200, reply.text
    assert reply["APP_RESPONSE_STATUS"] == code
    assert message in reply["APP_RESPONSE_CONTENT"]
    assert reply["TOOL_NAME"] is None


def test_manifest_lists_the_property_pattern(client: WebClient) -> None:
    for app in ("GETAGENTTOOL", "GETAGENTTOOLDATA"):
        names = [p["name"] for p in client.get(f"/apps/{app}").get_json()["parameters"]]
        assert "<propertyToExtract>" in names
        assert {"TOOL_NAME", "TOOL_ID", "TOOL_PARAMETERS"} <= set(names)

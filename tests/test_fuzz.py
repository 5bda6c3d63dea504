"""Property-based fuzzing of every application's parameter handling and of the web layer:
random and mutated contexts never produce a 5xx or a stack trace; the answer is either a
valid context in the request's format or a clear 4xx (or a 502 when upstream refused)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from werkzeug.test import Client as WebClient

from tests.fakes.server import FakeOpenAI
from tests.helpers import FORMATS, context
from workflowapp.apps import registry
from workflowapp.context import read_context
from workflowapp.context.model import DataType, Direction, FileRef, Format, Parameter

FUZZ = settings(max_examples=60, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture,
                                       HealthCheck.too_slow])
ALLOWED = {200, 400, 404, 413, 502}

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.integers(-(10**400), 10**400)
    | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner,
                                                                 max_size=3),
    max_leaves=8,
)
texts = st.one_of(
    st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc")), max_size=40),
    st.sampled_from(["Y", "N", "yes", "0", "json_schema", "json_object", "user", "tool",
                     "assistant", "-1", "1e400", "[]", "{}", "null", "whisper-1",
                     '[{"type": "function", "name": "x"}]', '{"type": "function"}',
                     '[{"name": "T", "id": "c1", "parameters": {"n": 1' + "0" * 400 + '}}]',
                     '{"name": "T", "id": "c1", "parameters": {"serial_number": [1]}}',
                     '[{"role": "assistant", "tool_calls": [{"id": "c", "type": "function",'
                     ' "function": {"name": "T", "arguments": "{}"}}]}]',
                     '{"name": "s", "schema": {"type": "object"}, "strict": true}']),
    json_values.map(json.dumps),
)
numbers = st.floats(allow_nan=False, allow_infinity=False, min_value=-1e6, max_value=1e6)


@st.composite
def app_contexts(draw: st.DrawFn, app: registry.App) -> list[Parameter]:
    """A context with a random subset of the app's parameters and random values."""
    chosen: list[Parameter] = []
    for declared in app.params:
        if declared.pattern or not draw(st.booleans()):
            continue
        data_type = draw(st.sampled_from([declared.type, declared.type, DataType.TEXT,
                                          DataType.NUMERIC]))
        direction = declared.direction
        value: Any = None
        if direction is not Direction.OUT and draw(st.booleans()):
            value = draw(numbers) if data_type is DataType.NUMERIC else draw(texts) or None
            if data_type is DataType.FILE:
                value = None
        chosen.append(Parameter(declared.name, data_type, direction, value))
    extra = draw(st.lists(st.sampled_from(["MESSAGE_ROLE1", "MESSAGE_CONTENT1", "MESSAGE_ROLE3",
                                           "serial_number", "X_OUT"]), unique=True, max_size=3))
    for name in extra:
        if all(p.name != name for p in chosen):
            chosen.append(Parameter(name, DataType.TEXT, Direction.IN, draw(texts) or None))
    return chosen


@pytest.mark.parametrize("app_name", [app.name for app in registry.all_apps()])
@pytest.mark.parametrize("fmt", FORMATS)
def test_random_parameters_never_crash(
    client: WebClient, fake_openai: FakeOpenAI, app_name: str, fmt: Format
) -> None:
    app = registry.get(app_name)
    fake_openai.expect_invalid()  # random histories may be refused upstream: that is a 502

    @FUZZ
    @given(params=app_contexts(app))
    def check(params: list[Parameter]) -> None:
        response = client.post(f"/{app_name}", data=context(*params, fmt=fmt))
        text = response.get_data(as_text=True)
        assert response.status_code in ALLOWED, text
        assert "Traceback" not in text
        if response.status_code == 200:
            assert read_context(response.get_data()).format is fmt
        else:
            assert response.content_type.startswith("text/plain")

    check()


@FUZZ
@given(body=st.binary(max_size=300))
def test_random_bodies_are_refused_cleanly(client: WebClient, body: bytes) -> None:
    response = client.post("/ECHO", data=body)
    assert response.status_code in (200, 400), response.get_data(as_text=True)


@FUZZ
@given(data=st.data())
def test_mutated_contexts_are_refused_cleanly(client: WebClient, data: st.DataObject) -> None:
    fmt = data.draw(st.sampled_from([Format.DATASET, Format.JSON, Format.RECORDSET]))
    body = bytearray(context(Parameter("A", DataType.TEXT, Direction.IN, "x"),
                             Parameter("A_OUT", DataType.TEXT, Direction.OUT), fmt=fmt))
    for _ in range(data.draw(st.integers(1, 4))):
        position = data.draw(st.integers(0, len(body) - 1))
        body[position] = data.draw(st.integers(0, 255))
    response = client.post("/ECHO", data=bytes(body))
    assert response.status_code in (200, 400), response.get_data(as_text=True)


# --- deeply nested JSON in a parameter: 400 naming it, never a RecursionError ---------------

BASE = {
    "OPENAICHAT": [("MODEL", "gpt-4o-mini"), ("USER_MESSAGE", "hi")],
    "OPENAIADDMESSAGE": [("ROLE", "user"), ("CONTENT", "c")],
    "GETAGENTTOOL": [],
    "GETAGENTTOOLDATA": [],
}
JSON_PARAMETERS = [
    ("OPENAICHAT", "MESSAGE_JSON", []), ("OPENAICHAT", "TOOLS", []),
    ("OPENAICHAT", "MESSAGE_HISTORY", []),
    ("OPENAICHAT", "RESPONSE_FORMAT_JSON_SCHEMA", [("RESPONSE_FORMAT", "json_schema")]),
    ("OPENAIADDMESSAGE", "CONTENT", []), ("OPENAIADDMESSAGE", "MESSAGE_HISTORY", []),
    ("OPENAIADDMESSAGE", "ASSISTANT_TOOL_CALL", [("ROLE", "assistant")]),
    ("GETAGENTTOOL", "TOOLS", []), ("GETAGENTTOOLDATA", "TOOL_DATA", []),
]


@st.composite
def deep_json(draw: st.DrawFn) -> str:
    """JSON nested beyond any sensible depth, bare or inside a plausible shell."""
    depth = draw(st.integers(70, 3000))
    opener, closer = draw(st.sampled_from([("[", "]"), ('{"a":', "}"),
                                           ('{"type": "object", "properties": {"a":', "}}")]))
    core = opener * depth + "1" + closer * depth
    shell = draw(st.sampled_from(["{}", '[{"role": "user", "content": {}}]',
                                  '{"name": "T", "id": "c1", "parameters": {}}',
                                  '[{"name": "T", "id": "c1", "parameters": {}}]',
                                  '{"name": "s", "schema": {}}']))
    return shell.replace("{}", core, 1) if draw(st.booleans()) else core


@pytest.mark.parametrize(("app_name", "name", "extra"), JSON_PARAMETERS)
def test_deeply_nested_json_is_a_400_naming_the_parameter(
    client: WebClient, app_name: str, name: str, extra: list[tuple[str, str]]
) -> None:
    @settings(max_examples=12, deadline=None,
              suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
    @given(value=deep_json(), fmt=st.sampled_from(FORMATS))
    def check(value: str, fmt: Format) -> None:
        given = dict(BASE[app_name] + extra)
        params = [Parameter(n, DataType.TEXT, Direction.IN, v) for n, v in given.items()
                  if n != name]
        params.append(Parameter(name, DataType.TEXT, Direction.IN, value))
        response = client.post(f"/{app_name}", data=context(*params, fmt=fmt))
        text = response.get_data(as_text=True)
        if name == "CONTENT" and response.status_code == 200:
            return  # CONTENT that is not JSON messages is the message's text (the CONTENT rule)
        assert response.status_code == 400, text
        assert name in text and "deeper" in text, text

    check()


@FUZZ
@given(before=st.text(max_size=20), after=st.text(max_size=20), fmt=st.just(Format.JSON))
def test_a_nul_in_a_file_path_is_a_400_naming_it(
    client: WebClient, before: str, after: str, fmt: Format
) -> None:
    """XML cannot carry NUL; JSON can, as FILE given as text or as a file reference."""
    path = f"C:\\files\\{before}\x00{after}.mp3"
    for data_type in (DataType.TEXT, DataType.FILE):
        value: Any = path if data_type is DataType.TEXT else FileRef(path=path)
        body = context(Parameter("FILE", data_type, Direction.IN, value), fmt=fmt)
        response = client.post("/OPENAITRANSCRIPTION", data=body)
        text = response.get_data(as_text=True)
        assert response.status_code == 400, text
        assert "FILE" in text and "NUL" in text


# --- half a surrogate pair: JSON contexts can carry one, UTF-8 cannot ---------------------

lone_surrogates = st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF)


@pytest.mark.parametrize("app_name", [app.name for app in registry.all_apps()])
def test_a_lone_surrogate_in_any_input_is_a_400_naming_it(client: WebClient,
                                                          app_name: str) -> None:
    """In a TEXT value (a FILE path given as text included), a FILE's name, or as a ``\\uD800``
    escape in JSON text: a 400 that names the parameter, never an encoding error's 500."""
    app = registry.get(app_name)
    names = [param.name for param in app.inputs] + ["MESSAGE_CONTENT1", "ANY_OTHER"]

    @FUZZ
    @given(name=st.sampled_from(names), before=st.text(max_size=8), lone=lone_surrogates,
           after=st.text(max_size=8), shape=st.sampled_from(["text", "file", "json"]))
    def check(name: str, before: str, lone: str, after: str, shape: str) -> None:
        text = before + lone + after
        value: Any = {"text": text, "file": FileRef(path="/files/a.pdf", name=text),
                      "json": json.dumps([{"role": "user", "content": text}])}[shape]
        data_type = DataType.FILE if shape == "file" else DataType.TEXT
        params = [Parameter(n, DataType.TEXT, Direction.IN, v)
                  for n, v in BASE.get(app_name, []) if n != name]
        params.append(Parameter(name, data_type, Direction.IN, value))
        response = client.post(f"/{app_name}", data=context(*params, fmt=Format.JSON))
        answer = response.get_data(as_text=True)
        assert response.status_code in ALLOWED, answer
        if shape != "json":
            assert response.status_code == 400 and name in answer, answer
            assert "surrogate" in answer or "not UTF-8" in answer, answer
        elif "surrogate" in answer:  # where the parameter is read as JSON
            assert response.status_code == 400 and name in answer, answer

    check()

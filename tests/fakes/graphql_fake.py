"""A loopback fake of WorkflowGen's GraphQL API: request data to read and update.

A real werkzeug server on 127.0.0.1 (daemon thread) that

* requires HTTP Basic credentials (401 otherwise, as IIS answers);
* parses each document with a small GraphQL parser (operations, variable definitions,
  fields, arguments, inline fragments) and executes it against the part of WorkflowGen's
  schema the host uses, answering GraphQL errors for unknown fields, wrong variable types and
  bad inputs, so a wrong query string in :mod:`workflowapp.wfgen_graphql` fails loudly;
* keeps the data of each request (``add_request``) and applies ``updateRequestDataset``.

Schema served (as the host assumes it)::

    type Query    { request(number: Int!): Request }
    type Mutation { updateRequestDataset(input: UpdateRequestDatasetInput!):
                    UpdateRequestDatasetPayload }
    type Request  { id: ID! number: Int! dataset: RequestDataset }
    type RequestDataset { items: [Data] }
    interface Data { name: String! dataType: String! }   TextData { textValue },
        NumericData { numericValue }, DateTimeData { dateTimeValue }
    input UpdateRequestDatasetInput { number: Int, id: ID, clientMutationId: String,
        parameters: [{name: String!, textValue | numericValue | dateTimeValue}] }
    type UpdateRequestDatasetPayload { clientMutationId: String request: Request }
"""

from __future__ import annotations

import base64
import json
import re
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from werkzeug.serving import WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response

__all__ = ["FakeWorkflowGenGraphql", "GraphqlError", "RecordedCall", "parse_document"]

PATH = "/wfgen/graphql"
_TOKEN = re.compile(r'\s+|,|#[^\n]*|(\.\.\.|[{}()\[\]:$!=@])|("(?:[^"\\]|\\.)*")|'
                    r"(-?\d+\.\d+(?:[eE][+-]?\d+)?)|(-?\d+)|([_A-Za-z][_0-9A-Za-z]*)")
_VALUE_FIELDS = {"TEXT": "textValue", "NUMERIC": "numericValue", "DATETIME": "dateTimeValue"}
_TYPENAMES = {"TEXT": "TextData", "NUMERIC": "NumericData", "DATETIME": "DateTimeData"}


class GraphqlError(Exception):
    """A GraphQL error answered in the ``errors`` array."""


# -- parsing ---------------------------------------------------------------------------------


@dataclass
class Field:
    """A field selection (or an inline fragment when ``on`` is set)."""

    name: str
    alias: str | None = None
    arguments: dict[str, Any] = field(default_factory=dict)
    selections: list[Field] | None = None
    on: str | None = None


@dataclass
class Operation:
    kind: str  # query or mutation
    variables: dict[str, str]  # name -> declared type, e.g. "Int!"
    selections: list[Field]


@dataclass(frozen=True)
class Variable:
    name: str


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens: list[tuple[str, str]] = []
        position = 0
        while position < len(text):
            match = _TOKEN.match(text, position)
            if match is None:
                raise GraphqlError(f"Syntax Error: Unexpected character {text[position]!r}.")
            position = match.end()
            for kind, value in zip(("punct", "string", "float", "int", "name"),
                                   match.groups(), strict=True):
                if value is not None:
                    self.tokens.append((kind, value))
        self.index = 0

    def peek(self) -> tuple[str, str]:
        return self.tokens[self.index] if self.index < len(self.tokens) else ("eof", "")

    def take(self, expected: str | None = None, kind: str | None = None) -> str:
        found_kind, value = self.peek()
        if (expected is not None and value != expected) or (kind and found_kind != kind) \
                or found_kind == "eof":
            found = value or "EOF"
            raise GraphqlError(f"Syntax Error: Expected {expected or kind}, found {found}.")
        self.index += 1
        return value

    def operation(self) -> Operation:
        kind, variables = "query", {}
        if self.peek()[1] in ("query", "mutation"):
            kind = self.take()
            if self.peek()[0] == "name":
                self.take()
            if self.peek()[1] == "(":
                variables = self.variable_definitions()
        selections = self.selection_set()
        if self.peek()[0] != "eof":
            raise GraphqlError("Syntax Error: only one operation is supported by this fake.")
        return Operation(kind, variables, selections)

    def variable_definitions(self) -> dict[str, str]:
        found = {}
        self.take("(")
        while self.peek()[1] != ")":
            self.take("$")
            name = self.take(kind="name")
            self.take(":")
            found[name] = self.type_ref()
        self.take(")")
        return found

    def type_ref(self) -> str:
        if self.peek()[1] == "[":
            self.take("[")
            inner = self.type_ref()
            self.take("]")
            text = f"[{inner}]"
        else:
            text = self.take(kind="name")
        if self.peek()[1] == "!":
            self.take("!")
            text += "!"
        return text

    def selection_set(self) -> list[Field]:
        self.take("{")
        selections = []
        while self.peek()[1] != "}":
            selections.append(self.selection())
        self.take("}")
        if not selections:
            raise GraphqlError("Syntax Error: empty selection set.")
        return selections

    def selection(self) -> Field:
        if self.peek()[1] == "...":
            self.take("...")
            self.take("on")
            type_name = self.take(kind="name")
            return Field("...", on=type_name, selections=self.selection_set())
        name, alias = self.take(kind="name"), None
        if self.peek()[1] == ":":
            self.take(":")
            alias, name = name, self.take(kind="name")
        arguments = self.arguments() if self.peek()[1] == "(" else {}
        selections = self.selection_set() if self.peek()[1] == "{" else None
        return Field(name, alias, arguments, selections)

    def arguments(self) -> dict[str, Any]:
        found = {}
        self.take("(")
        while self.peek()[1] != ")":
            name = self.take(kind="name")
            self.take(":")
            found[name] = self.value()
        self.take(")")
        return found

    def value(self) -> Any:
        kind, text = self.peek()
        if text == "$":
            self.take("$")
            return Variable(self.take(kind="name"))
        if text == "[":
            self.take("[")
            items = []
            while self.peek()[1] != "]":
                items.append(self.value())
            self.take("]")
            return items
        if text == "{":
            self.take("{")
            obj = {}
            while self.peek()[1] != "}":
                key = self.take(kind="name")
                self.take(":")
                obj[key] = self.value()
            self.take("}")
            return obj
        self.take()
        if kind == "string":
            return json.loads(text)
        if kind == "int":
            return int(text)
        if kind == "float":
            return float(text)
        if kind == "name":
            return {"true": True, "false": False, "null": None}.get(text, text)
        raise GraphqlError(f"Syntax Error: Unexpected {text}.")


def parse_document(text: str) -> Operation:
    """Parse one GraphQL operation (the subset WorkflowGen clients use)."""
    return _Parser(text).operation()


# -- the fake --------------------------------------------------------------------------------


@dataclass
class RecordedCall:
    """One POST received: its auth, document, variables and what was answered."""

    authorized: bool
    query: str | None
    variables: dict[str, Any]
    operation: str | None = None
    status: int = 200
    errors: list[str] = field(default_factory=list)


# Fields of each object type: field -> (type name or None for a scalar, argument types).
_SCHEMA: dict[str, dict[str, tuple[str | None, dict[str, str]]]] = {
    "Query": {"request": ("Request", {"number": "Int!"})},
    "Mutation": {"updateRequestDataset": ("UpdateRequestDatasetPayload",
                                          {"input": "UpdateRequestDatasetInput!"})},
    "Request": {"id": (None, {}), "number": (None, {}), "dataset": ("RequestDataset", {})},
    "RequestDataset": {"items": ("Data", {})},
    "Data": {"name": (None, {}), "dataType": (None, {})},
    "TextData": {"textValue": (None, {})},
    "NumericData": {"numericValue": (None, {})},
    "DateTimeData": {"dateTimeValue": (None, {})},
    "UpdateRequestDatasetPayload": {"clientMutationId": (None, {}), "request": ("Request", {})},
}
_INTERFACE_MEMBERS = {"Data": ("TextData", "NumericData", "DateTimeData")}


class FakeWorkflowGenGraphql:
    """The fake server; use as a context manager or ``start()``/``stop()``."""

    def __init__(self, username: str = "wfgen_admin", password: str = "wfgen-S3CRET-pass",
                 host: str = "127.0.0.1") -> None:
        self.username, self.password, self.host = username, password, host
        self.port = 0
        self._lock = threading.Lock()
        self._requests: dict[int, dict[str, tuple[str, Any]]] = {}
        self._calls: list[RecordedCall] = []
        self._faults: list[tuple[int, str]] = []
        self._server: Any = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}{PATH}"

    def settings(self) -> dict[str, str]:
        """The host settings that point at this fake."""
        return {"WorkflowGenGraphqlUrl": self.url, "WorkflowGenUsername": self.username,
                "WorkflowGenPassword": self.password}

    # -- state -------------------------------------------------------------------------------

    def add_request(self, number: int, **data: Any) -> None:
        """Create request ``number`` with data: str -> TEXT, float/int -> NUMERIC, None -> TEXT."""
        typed = {name: ("NUMERIC" if isinstance(value, int | float) else "TEXT", value)
                 for name, value in data.items()}
        with self._lock:
            self._requests[number] = typed

    def data(self, number: int, name: str) -> Any:
        """The current value of a request's data."""
        with self._lock:
            return self._requests[number][name][1]

    def fail_next(self, status: int, body: str | dict[str, Any]) -> None:
        """Answer the next POST with ``status`` and ``body`` (a dict is sent as JSON)."""
        with self._lock:
            self._faults.append((status, body if isinstance(body, str) else json.dumps(body)))

    @property
    def calls(self) -> list[RecordedCall]:
        with self._lock:
            return list(self._calls)

    def reset(self) -> None:
        with self._lock:
            self._requests.clear()
            self._calls.clear()
            self._faults.clear()

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> FakeWorkflowGenGraphql:
        class Quiet(WSGIRequestHandler):
            def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
                pass

        self._server = make_server(self.host, 0, self._wsgi, threaded=True,
                                   request_handler=Quiet)
        self.port = self._server.server_port
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.05}, daemon=True,
                                        name=f"graphql-fake-{self.port}")
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> FakeWorkflowGenGraphql:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # -- serving -----------------------------------------------------------------------------

    def _wsgi(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        request = Request(environ)
        return self._answer(request)(environ, start_response)

    def _answer(self, request: Request) -> Response:
        if request.path != PATH or request.method != "POST":
            return Response("Not Found", 404)
        record = RecordedCall(self._authorized(request), None, {})
        with self._lock:
            self._calls.append(record)
            fault = self._faults.pop(0) if self._faults else None
        if fault is not None:
            record.status = fault[0]
            return Response(fault[1], fault[0], content_type="application/json")
        if not record.authorized:
            record.status = 401
            return Response("401 - Unauthorized: Access is denied due to invalid credentials.",
                            401, {"WWW-Authenticate": 'Basic realm="wfgen"'})
        body = request.get_json(silent=True)
        if not isinstance(body, dict) or not isinstance(body.get("query"), str):
            return self._errors(record, 400, ["Must provide query string."])
        record.query = body["query"]
        variables = body.get("variables") or {}
        record.variables = variables if isinstance(variables, dict) else {}
        try:
            operation = parse_document(record.query)
            record.operation = operation.kind
            data = self._execute(operation, record.variables)
        except GraphqlError as exc:
            return self._errors(record, 400, [str(exc)])
        return Response(json.dumps({"data": data}), 200, content_type="application/json")

    def _authorized(self, request: Request) -> bool:
        scheme, _, encoded = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            given = base64.b64decode(encoded).decode()
        except ValueError:
            return False
        return given == f"{self.username}:{self.password}"

    def _errors(self, record: RecordedCall, status: int, messages: list[str]) -> Response:
        record.status, record.errors = status, messages
        body = {"errors": [{"message": m} for m in messages]}
        return Response(json.dumps(body), status, content_type="application/json")

    # -- execution ---------------------------------------------------------------------------

    def _execute(self, operation: Operation, variables: dict[str, Any]) -> dict[str, Any]:
        root = "Mutation" if operation.kind == "mutation" else "Query"
        result = {}
        for selection in operation.selections:
            if selection.on is not None:
                raise GraphqlError("Inline fragments are not expected at the root.")
            type_name, expected = _field_type(root, selection.name)
            _validate(type_name, selection)  # statically, as GraphQL servers do
            arguments = _arguments(selection, expected, operation.variables, variables)
            value = (self._request(arguments["number"]) if selection.name == "request"
                     else self._update(arguments["input"]))
            result[selection.alias or selection.name] = _select(value, type_name, selection)
        return result

    def _request(self, number: Any) -> dict[str, Any] | None:
        if not isinstance(number, int) or isinstance(number, bool):
            raise GraphqlError(f"Int cannot represent non-integer value: {number!r}")
        with self._lock:
            data = self._requests.get(number)
            if data is None:
                return None
            items = [{"__typename": _TYPENAMES[kind], "name": name, "dataType": kind,
                      _VALUE_FIELDS[kind]: value} for name, (kind, value) in data.items()]
        token = base64.b64encode(f"Request:{number}".encode()).decode()
        return {"__typename": "Request", "id": token, "number": number,
                "dataset": {"__typename": "RequestDataset", "items": items}}

    def _update(self, given: Any) -> dict[str, Any]:
        if not isinstance(given, dict) or set(given) - {"number", "id", "clientMutationId",
                                                        "parameters"}:
            raise GraphqlError(f"Invalid UpdateRequestDatasetInput: {given!r}")
        number = given.get("number")
        if number is None and isinstance(given.get("id"), str):
            number = int(base64.b64decode(given["id"]).decode().split(":")[1])
        parameters = given.get("parameters")
        if not isinstance(parameters, list):
            raise GraphqlError("UpdateRequestDatasetInput.parameters must be a list.")
        with self._lock:
            stored = self._requests.get(number) if isinstance(number, int) else None
            if stored is None:
                raise GraphqlError(f"Request not found: {number!r}")
            for parameter in parameters:
                name, kind, value = _parameter(parameter)
                if name not in stored:
                    raise GraphqlError(f"Data not found: {name}")
                if stored[name][0] != kind:
                    raise GraphqlError(f"Data {name} is {stored[name][0]}, not {kind}")
                stored[name] = (kind, value)
        return {"__typename": "UpdateRequestDatasetPayload",
                "clientMutationId": given.get("clientMutationId"), "request": self._request(number)}


def _field_type(type_name: str, name: str) -> tuple[str | None, dict[str, str]]:
    fields = dict(_SCHEMA[type_name])
    if type_name in _INTERFACE_MEMBERS["Data"]:
        fields.update(_SCHEMA["Data"])  # the members of interface Data have its fields
    if name == "__typename":
        return None, {}
    if name not in fields:
        raise GraphqlError(f'Cannot query field "{name}" on type "{type_name}".')
    return fields[name]


def _arguments(selection: Field, expected: dict[str, str], declared: dict[str, str],
               variables: dict[str, Any]) -> dict[str, Any]:
    unknown = set(selection.arguments) - set(expected)
    if unknown:
        raise GraphqlError(f'Unknown argument "{sorted(unknown)[0]}" on field "{selection.name}".')
    values = {}
    for name, type_text in expected.items():
        given = selection.arguments.get(name)
        if isinstance(given, Variable):
            if declared.get(given.name) != type_text:
                raise GraphqlError(
                    f'Variable "${given.name}" of type "{declared.get(given.name)}" used in '
                    f'position expecting type "{type_text}".')
            if given.name not in variables:
                raise GraphqlError(f'Variable "${given.name}" of required type "{type_text}" '
                                   "was not provided.")
            given = variables[given.name]
        if given is None and type_text.endswith("!"):
            raise GraphqlError(f'Argument "{name}" of type "{type_text}" is required.')
        values[name] = given
    return values


def _validate(type_name: str | None, selection: Field) -> None:
    """Check a field's selection against the schema, whatever the data."""
    if type_name is None:
        if selection.selections is not None:
            raise GraphqlError(f'Field "{selection.name}" must not have a selection.')
        return
    if selection.selections is None:
        raise GraphqlError(f'Field "{selection.name}" of type "{type_name}" must have a '
                           "selection of subfields.")
    for sub in selection.selections:
        if sub.on is not None:
            if sub.on not in _SCHEMA:
                raise GraphqlError(f'Unknown type "{sub.on}".')
            _validate(sub.on, Field(sub.on, selections=sub.selections))
        elif sub.name != "__typename":
            _validate(_field_type(type_name, sub.name)[0], sub)


def _select(value: Any, type_name: str | None, selection: Field) -> Any:
    if type_name is None or value is None:
        return value  # a scalar, or a null object
    selections = selection.selections or []  # _validate() required one
    if isinstance(value, list):
        return [_object(item, type_name, selections) for item in value]
    return _object(value, type_name, selections)


def _object(value: dict[str, Any], type_name: str, selections: list[Field]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    concrete = value.get("__typename", type_name)
    for selection in selections:
        if selection.on is not None:
            if selection.on == concrete:
                result.update(_object(value, concrete, selection.selections or []))
            continue
        if selection.name == "__typename":
            result[selection.alias or "__typename"] = concrete
            continue
        field_type, _ = _field_type(type_name, selection.name)
        result[selection.alias or selection.name] = _select(value.get(selection.name),
                                                            field_type, selection)
    return result


def _parameter(parameter: Any) -> tuple[str, str, Any]:
    if not isinstance(parameter, dict) or not isinstance(parameter.get("name"), str):
        raise GraphqlError(f"Invalid parameter input: {parameter!r}")
    values = [(kind, parameter[key]) for kind, key in _VALUE_FIELDS.items() if key in parameter]
    if len(values) != 1 or set(parameter) - {"name", *_VALUE_FIELDS.values()}:
        raise GraphqlError(f"Parameter {parameter['name']} needs exactly one value field.")
    kind, value = values[0]
    return parameter["name"], kind, value

"""Building WorkflowGen contexts for tests and reading the replies."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from werkzeug.test import Client as WebClient

from workflowapp.apps.call import Services
from workflowapp.context import read_context, write_context
from workflowapp.context.model import (
    Context,
    DataType,
    Direction,
    FileRef,
    Format,
    Parameter,
)

SECRET_KEY = "sk-test-SECRET-0123456789abcdef"

FORMATS = [Format.DATASET, Format.JSON]


def typed(records: Iterable[Any]) -> list[tuple[str, tuple[Any, ...]]]:
    """Records with their class name: NamedTuples of two classes compare equal by value alone."""
    return [(type(record).__name__, tuple(record)) for record in records]


def services_of(client: WebClient) -> Services:
    """The services (settings, upstream client, events hub) of the host a client calls."""
    from workflowapp.host import Host

    host = client.application
    assert isinstance(host, Host)
    return host.services


def param(name: str, value: Any = None, direction: str = "IN", data_type: str | None = None
          ) -> Parameter:
    """A parameter; the data type is inferred from the value unless given."""
    if data_type is None:
        if isinstance(value, bool):
            raise TypeError("use 'Y'/'N'")
        if isinstance(value, int | float):
            data_type = "NUMERIC"
        elif isinstance(value, datetime):
            data_type = "DATETIME"
        elif isinstance(value, FileRef):
            data_type = "FILE"
        else:
            data_type = "TEXT"
    if isinstance(value, int):
        value = float(value)
    return Parameter(name, DataType(data_type), Direction(direction), value)


def out(name: str, data_type: str = "TEXT") -> Parameter:
    """A declared OUT parameter without value."""
    return Parameter(name, DataType(data_type), Direction.OUT)


def context(*parameters: Parameter, fmt: Format = Format.DATASET,
            session: dict[str, str] | None = None) -> bytes:
    """The wire bytes of a context made of these parameters."""
    ctx = Context(format=fmt)
    for parameter in parameters:
        ctx.add(parameter)
    ctx.session = dict(session or {"replyTo": "http://wfgen.example/reply?ID=1"}
                       if fmt is not Format.RECORDSET else {})
    return write_context(ctx)


@dataclass
class Reply:
    """An answer of the host: status, text and, for 200, the OUT values by name."""

    status: int
    text: str
    values: dict[str, Any]
    content_type: str

    def __getitem__(self, name: str) -> Any:
        return self.values[name]


def post(client: WebClient, app: str, *parameters: Parameter, fmt: Format = Format.DATASET,
         **kwargs: Any) -> Reply:
    """Post a context to ``/<app>`` and read the reply."""
    response = client.post(f"/{app}", data=context(*parameters, fmt=fmt), **kwargs)
    text = response.get_data(as_text=True)
    values: dict[str, Any] = {}
    if response.status_code == 200:
        reply = read_context(response.get_data())
        assert reply.format is fmt, "the reply must use the request's format"
        values = {p.name: p.value for p in reply}
    return Reply(response.status_code, text, values, response.content_type or "")

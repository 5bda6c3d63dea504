"""The context model: what WorkflowGen posts, independent of its wire format.

A :class:`Context` holds the action's parameters (in received order) and the session values.
Values are typed by the parameter's data type:

========  ===========================================================
TEXT      ``str`` (never ``""``: an empty text is "no value", ``None``)
NUMERIC   ``float`` (WorkflowGen's .NET ``double``)
DATETIME  timezone-aware ``datetime`` in UTC
FILE      :class:`FileRef` (files travel by reference, never inline)
========  ===========================================================
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import TypeAlias


class DataType(enum.StrEnum):
    """WorkflowGen's four parameter data types."""

    TEXT = "TEXT"
    NUMERIC = "NUMERIC"
    DATETIME = "DATETIME"
    FILE = "FILE"


class Direction(enum.StrEnum):
    """Direction of a parameter, as the action declares it."""

    IN = "IN"
    OUT = "OUT"
    INOUT = "INOUT"


class Format(enum.StrEnum):
    """The three context formats WorkflowGen can be set to send."""

    DATASET = "dataset"
    RECORDSET = "recordset"
    JSON = "json"


@dataclass(frozen=True)
class FileRef:
    """A FILE value: a reference to a file WorkflowGen stored, never its content.

    ``path`` is the path as WorkflowGen sent it (XML ``filePath``; JSON ``url`` converted back
    to a path: ``file:///C:/x/a%20b.txt`` -> ``C:\\x\\a b.txt``, ``file://srv/share/a`` ->
    ``\\\\srv\\share\\a``).
    """

    path: str
    name: str | None = None
    size: float | None = None
    content_type: str | None = None
    description: str | None = None
    original_path: str | None = None
    last_modified: datetime | None = None


Value: TypeAlias = str | float | datetime | FileRef | None


#: Parameter names whose values ``repr()`` never shows (API keys, passwords, tokens).
SECRET_NAME = re.compile(r"(?i)(api_?key|password|secret|token)")


@dataclass(repr=False, slots=True)
class Parameter:
    """One parameter of the action: name, data type, direction and value."""

    name: str
    data_type: DataType
    direction: Direction
    value: Value = None

    def __repr__(self) -> str:
        shown = "[REDACTED]" if self.value is not None and SECRET_NAME.search(self.name) \
            else repr(self.value)
        return (f"Parameter(name={self.name!r}, data_type={self.data_type.value}, "
                f"direction={self.direction.value}, value={shown})")

    @property
    def is_output(self) -> bool:
        """True for OUT and INOUT parameters: the application may fill them."""
        return self.direction is not Direction.IN

    @property
    def is_input(self) -> bool:
        """True for IN and INOUT parameters: they carry values to the application."""
        return self.direction is not Direction.OUT


@dataclass
class Context:
    """A parsed context: parameters keyed by exact (case-sensitive) name, in received order.

    ``session`` holds the DataSet ``session`` values as text (``replyTo``,
    ``processInstanceId``, ``activityInstanceId``, ``culture``, ``timeZone``, ...), or only
    ``replyTo`` for JSON (``replyToUrl``). ``format`` is the wire format it was read from, and
    ``with_schema`` whether a DataSet carried an inline ``xs:schema`` (the reply mirrors it).
    """

    parameters: dict[str, Parameter] = field(default_factory=dict)
    session: dict[str, str] = field(default_factory=dict)
    format: Format = Format.DATASET
    with_schema: bool = False

    def add(self, parameter: Parameter) -> None:
        """Append a parameter; a duplicate name is a :class:`ValueError` (the reader reports it)."""
        if parameter.name in self.parameters:
            raise ValueError(f"duplicate parameter {parameter.name!r}")
        self.parameters[parameter.name] = parameter

    def get(self, name: str) -> Parameter | None:
        """The parameter of that exact name, or ``None``."""
        return self.parameters.get(name)

    def __iter__(self) -> Iterator[Parameter]:
        return iter(self.parameters.values())

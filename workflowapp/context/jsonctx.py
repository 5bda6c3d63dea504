"""JSON contexts, the shape of WorkflowGen's ``JsonContext`` (protocol notes §4.5, §5).

``{"replyToUrl": "...", "parameters": [{"name", "dataType", "direction", <one value>}]}`` with
the value under ``textValue``, ``numericValue``, ``dateTimeValue`` or ``fileValue`` (the one
matching ``dataType`` is read; the others are ignored). Property names are case-sensitive and
unknown properties ignored, as in the SDK; a wrong JSON type is a clear error, never coerced
(except numeric strings such as ``"12.5"`` for ``numericValue``/``size``, which the SDK accepts).

``replyToUrl`` is stored as ``ctx.session["replyTo"]`` (the DataSet name) and written back from
it. FILE values travel as ``file:`` URLs (``fileValue.url``), converted to and from a path.
Output is compact UTF-8; datetimes lose their fraction (``YYYY-MM-DDTHH:MM:SSZ``).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from workflowapp.context import values
from workflowapp.context._xml import chunked
from workflowapp.context.model import Context, DataType, FileRef, Format, Parameter, Value
from workflowapp.errors import ContextError

__all__ = ["read", "write"]

_VALUE_KEYS = {
    DataType.TEXT: "textValue",
    DataType.NUMERIC: "numericValue",
    DataType.DATETIME: "dateTimeValue",
    DataType.FILE: "fileValue",
}


def _reject_constant(name: str) -> Any:
    raise ContextError(f"the context is not valid JSON: {name} is not a JSON value")


_FLAT = (
    "the JSON context has no 'parameters' array: WorkflowGen posts "
    '{"parameters": [{"name": "MODEL", "dataType": "TEXT", "direction": "IN", '
    '"textValue": "gpt-4o-mini"}, {"name": "RESULT_CONTENT", "dataType": "TEXT", '
    '"direction": "OUT"}]}, not a flat object of names and values'
)


def _flat(document: dict[str, Any]) -> bool:
    """A flat ``{"MODEL": "..."}`` posted as if it were the context (a common first try);
    other keys without ``parameters`` are ignored, as WorkflowGen's SDK ignores them."""
    if any(key.lower() == "parameters" for key in document):
        return False
    return any(not isinstance(value, dict | list) for key, value in document.items()
               if key != "replyToUrl")


def read(text: str) -> Context:
    """Parse a JSON context.

    :raises ContextError: invalid JSON (with line and column), a wrong shape or type, or a
        parameter that cannot be read; the message names the parameter.
    """
    if not text or text.isspace():
        raise ContextError("the context is empty")
    return from_document(_loads(text))


def read_bytes(body: bytes) -> Context:
    """:func:`read` of a UTF-8 body; its decoded text is dropped once parsed, before the
    parameters are built (a large context is not held as bytes, text and objects at once)."""
    text = body.decode("utf-8-sig")
    if not text or text.isspace():
        raise ContextError("the context is empty")
    document = _loads(text)
    del text
    return from_document(document)


def from_document(document: Any) -> Context:
    """The context a parsed JSON document holds (see :func:`read`); each parameter's JSON is
    let go once read."""
    if not isinstance(document, dict):
        raise ContextError(
            f"the JSON context must be an object, not {_json_type(document)}"
        )
    ctx = Context(format=Format.JSON)
    reply_to = document.get("replyToUrl")
    if reply_to is not None:
        ctx.session["replyTo"] = _string(reply_to, "replyToUrl")
    parameters = document.get("parameters")
    if parameters is None:
        if _flat(document):
            raise ContextError(_FLAT)
        return ctx
    if not isinstance(parameters, list):
        raise ContextError(f"'parameters' must be an array, not {_json_type(parameters)}")
    for index in range(len(parameters)):
        item, parameters[index] = parameters[index], None
        _add(ctx, item, index + 1)
    return ctx


def _loads(text: str) -> Any:
    try:
        # parse_int=float: every number is a double anyway, and huge integers cannot hit
        # Python's int-digits limit (a ValueError json would not report with a position).
        return json.loads(text, parse_int=float, parse_constant=_reject_constant)
    except json.JSONDecodeError as exc:
        raise ContextError(
            f"the context is not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})"
        ) from None
    except RecursionError:
        raise ContextError("the context is not usable JSON: it is nested too deeply") from None


_JSON_TYPES = {type(None): "null", bool: "a boolean", str: "a string", float: "a number",
               int: "a number", list: "an array", dict: "an object"}


def _json_type(value: object) -> str:
    """How a JSON value is named in error messages."""
    return _JSON_TYPES.get(type(value), type(value).__name__)


def _string(value: object, what: str) -> str:
    if not isinstance(value, str):
        raise ContextError(f"'{what}' must be a string, not {_json_type(value)}")
    return value


def _add(ctx: Context, item: object, index: int) -> None:
    if not isinstance(item, dict):
        raise ContextError(f"parameter #{index} must be an object, not {_json_type(item)}")
    name = item.get("name")
    if name is None or name == "":
        raise ContextError(f"parameter #{index} has no name")
    if not isinstance(name, str):
        raise ContextError(f"parameter #{index}: 'name' must be a string, not {_json_type(name)}")
    if name in ctx.parameters:
        raise ContextError(f"duplicate parameter {name!r}", parameter=name)
    try:
        data_type = values.parse_data_type(item.get("dataType"))
        direction = values.parse_direction(item.get("direction"))
        key = _VALUE_KEYS[data_type]
        value = _read_value(data_type, item.get(key), key)
    except (TypeError, ValueError) as exc:
        raise ContextError(f"parameter {name!r}: {exc}", parameter=name) from None
    ctx.parameters[name] = Parameter(name, data_type, direction, value)


def _read_value(data_type: DataType, raw: object, key: str) -> Value:
    """The value of ``key``; TypeError/ValueError (named by key) when it cannot be read."""
    if raw is None:
        return None
    if data_type is DataType.FILE:
        return _read_file(raw)
    if data_type is DataType.NUMERIC:
        return _number(raw, key)
    if not isinstance(raw, str):
        raise TypeError(f"{key} must be a string, not {_json_type(raw)}")
    if data_type is DataType.TEXT:
        return raw or None
    return _date(raw, key)


def _number(raw: object, key: str) -> float | None:
    if isinstance(raw, float):
        if raw in (float("inf"), float("-inf")):
            raise ValueError(f"{key} is out of range for a double")
        return raw
    if isinstance(raw, str):  # the SDK (Json.NET) accepts "12.5"
        try:
            return values.parse_numeric(raw) if raw.strip() else None
        except ValueError as exc:
            raise ValueError(f"{key} {exc}") from None
    raise TypeError(f"{key} must be a number, not {_json_type(raw)}")


def _date(raw: str, key: str) -> datetime | None:
    try:
        return values.parse_datetime(raw) if raw.strip() else None
    except ValueError as exc:
        raise ValueError(f"{key} {exc}") from None


def _read_file(raw: object) -> FileRef | None:
    if not isinstance(raw, dict):
        raise TypeError(f"fileValue must be an object, not {_json_type(raw)}")
    if not raw:
        return None
    url = raw.get("url")
    if not url:
        raise ValueError("fileValue has no url")
    if not isinstance(url, str):
        raise TypeError(f"fileValue.url must be a string, not {_json_type(url)}")
    try:
        path = values.file_url_to_path(url)
    except ValueError as exc:
        raise ValueError(f"fileValue.url {exc}") from None
    return FileRef(
        path=path,
        name=_optional_string(raw, "name"),
        size=_optional_number(raw, "size"),
        content_type=_optional_string(raw, "contentType"),
        description=_optional_string(raw, "description"),
        last_modified=_optional_date(raw, "updatedAt"),
    )


def _optional_number(raw: dict[str, Any], key: str) -> float | None:
    value = raw.get(key)
    return None if value is None else _number(value, f"fileValue.{key}")


def _optional_string(raw: dict[str, Any], key: str) -> str | None:
    value = raw.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise TypeError(f"fileValue.{key} must be a string, not {_json_type(value)}")
    return value or None


def _optional_date(raw: dict[str, Any], key: str) -> datetime | None:
    value = raw.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise TypeError(f"fileValue.{key} must be a string, not {_json_type(value)}")
    return _date(value, f"fileValue.{key}")


def write(ctx: Context) -> bytes:
    """Serialise ``ctx`` as a compact JSON context (UTF-8, no BOM).

    Integral numbers are written ``256.0`` (as Json.NET does), absent values omitted, FILE
    paths as ``file:`` URLs, ``replyToUrl`` from ``ctx.session["replyTo"]``.

    :raises ContextError: infinity/NaN, a path that has no ``file:`` URL (relative path), or a
        value of the wrong type for its data type; the message names the parameter.
    """
    document: dict[str, Any] = {}
    reply_to = ctx.session.get("replyTo")
    if reply_to is not None:
        document["replyToUrl"] = reply_to
    document["parameters"] = [_parameter(p) for p in ctx.parameters.values()]
    text = json.dumps(document, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates: JSON can still carry them as \\udXXX escapes
        return json.dumps(document, separators=(",", ":"), allow_nan=False).encode("ascii")


def write_parts(ctx: Context) -> list[bytes]:
    """:func:`write` as UTF-8 chunks of about 64 K characters (:func:`._xml.chunked`), the
    same document: a large reply is never one more string (four bytes a character once it
    holds a symbol such as €) beside its bytes, and goes out in a few writes."""
    try:
        return chunked(_pieces(ctx))
    except UnicodeEncodeError:  # lone surrogates: the one-string writer escapes them all
        return [write(ctx)]


def _pieces(ctx: Context) -> Iterator[str]:
    reply_to = ctx.session.get("replyTo")
    dumps = functools.partial(json.dumps, ensure_ascii=False, separators=(",", ":"),
                              allow_nan=False)
    yield ('{"replyToUrl":' + dumps(reply_to) + "," if reply_to is not None else "{") \
        + '"parameters":['
    for index, parameter in enumerate(ctx.parameters.values()):
        yield ("," if index else "") + dumps(_parameter(parameter))
    yield "]}"


def _parameter(parameter: Parameter) -> dict[str, Any]:
    item: dict[str, Any] = {
        "name": parameter.name,
        "dataType": parameter.data_type,  # a StrEnum: json writes its value
        "direction": parameter.direction,
    }
    value = parameter.value
    if value is None or value == "":
        return item
    try:
        item[_VALUE_KEYS[parameter.data_type]] = _write_value(parameter.data_type, value)
    except (TypeError, ValueError, OverflowError) as exc:
        name = parameter.name
        raise ContextError(f"parameter {name!r}: {exc}", parameter=name) from None
    return item


def _write_value(data_type: DataType, value: object) -> Any:
    if data_type is DataType.TEXT:
        return values.expect_type(value, str, "TEXT")
    if data_type is DataType.NUMERIC:
        return values.check_finite(values.expect_number(value))
    if data_type is DataType.DATETIME:
        return values.format_json_datetime(values.expect_type(value, datetime, "DATETIME"))
    return _write_file(values.expect_type(value, FileRef, "FILE"))


def _write_file(file: FileRef) -> dict[str, Any]:
    size = None if file.size is None else values.check_finite(file.size)
    fields = {
        "name": file.name,
        "description": file.description,
        "contentType": file.content_type,
        "size": int(size) if size is not None and size.is_integer() else size,
        "url": values.path_to_file_url(file.path),
        "updatedAt": None if file.last_modified is None else
        values.format_json_datetime(file.last_modified),
    }
    return {key: value for key, value in fields.items() if value is not None}

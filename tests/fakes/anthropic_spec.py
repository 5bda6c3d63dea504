"""Anthropic Messages API (version 2023-06-01) checks, from the pinned ``anthropic`` SDK's types.

Requests are validated with ``pydantic.TypeAdapter(MessageCreateParamsNonStreaming)`` of
``anthropic==0.125.0`` whose core schema is made strict in two ways the SDK types are not:
every TypedDict/model forbids unknown keys (``n``, ``response_format``, a misspelt block
field), and ``Iterable[...]`` fields are validated as lists (pydantic validates iterables
lazily, so message content would otherwise never be checked). :func:`check_request` adds the
rules the types do not express (turn order, tool round trip, headers are the server's job).

Answers are validated with the SDK's ``Message`` model (same strictness), errors with its
``ErrorResponse`` model.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pydantic
import pydantic_core
from anthropic.types import ErrorResponse, Message
from anthropic.types.message_create_params import MessageCreateParamsNonStreaming

from tests.fakes.spec import InvalidReply, Problem

__all__ = [
    "API_VERSION",
    "ERROR_TYPES",
    "MAX_IMAGE_BASE64",
    "MAX_REQUEST_BYTES",
    "SDK_VERSION",
    "check_conversation",
    "check_error",
    "check_message",
    "check_request",
    "error_type",
]

API_VERSION = "2023-06-01"
SDK_VERSION = "0.125.0"
ERROR_TYPES = {
    400: "invalid_request_error", 401: "authentication_error", 402: "billing_error",
    403: "permission_error", 404: "not_found_error", 409: "conflict_error",
    413: "request_too_large", 429: "rate_limit_error", 500: "api_error",
    504: "timeout_error", 529: "overloaded_error",
}
"""``error.type`` by HTTP status, as the API documents them."""

_TOOL_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,128}$")
MAX_IMAGE_BASE64 = 5 * 1024 * 1024
"""The API's limit on one base64 image (the encoded text)."""
MAX_REQUEST_BYTES = 32 * 1024 * 1024
"""The Messages API's request size limit (answered 413 ``request_too_large``)."""
_RANGES = {"temperature": (0.0, 1.0), "top_p": (0.0, 1.0)}


# -- SDK-type validation ---------------------------------------------------------------------


def _strict(node: Any) -> Any:
    """A copy of a pydantic core schema: unknown keys forbidden, iterables checked as lists."""
    if isinstance(node, list):
        return [_strict(item) for item in node]
    if not isinstance(node, dict):
        return node
    kind = node.get("type")
    if kind == "generator":
        node = {"type": "list", "items_schema": node.get("items_schema", {"type": "any"})}
    copied = {key: _strict(value) for key, value in node.items()}
    if kind in ("typed-dict", "model-fields"):
        copied["extra_behavior"] = "forbid"
    if kind == "model":
        # pydantic-core reuses a built class's own (lax) validator: use an unbuilt subclass.
        copied["cls"] = _unbuilt(node["cls"])
        copied["custom_init"] = False
    if isinstance(copied.get("config"), dict):
        copied["config"] = {**copied["config"], "extra_fields_behavior": "forbid"}
    return copied


@functools.cache
def _unbuilt(cls: type[Any]) -> type[Any]:
    return type(cls.__name__, (cls,), {"__module__": __name__})


@functools.cache
def _validator(target: Any) -> pydantic_core.SchemaValidator:
    if isinstance(target, type) and issubclass(target, pydantic.BaseModel):
        target.model_rebuild()  # the SDK's models defer building their schema
        schema = target.__pydantic_core_schema__
    else:
        schema = pydantic.TypeAdapter(target).core_schema
    return pydantic_core.SchemaValidator(_strict(schema))


def _validate(target: Any, data: Any) -> list[Any] | None:
    try:
        _validator(target).validate_python(data)
    except pydantic.ValidationError as exc:
        return list(exc.errors())
    return None


def _describe(errors: Sequence[Any], data: Any) -> str:
    """``path: message`` of the error the client most likely meant, as the API words it.

    A union reports one error list per branch. A branch with a failing ``type``/``role``
    literal, or whose value has the wrong base type, is not the one the client meant, so the
    errors of the other branches win; when every branch misses, the tag is reported. Branch
    labels (``TextBlockParam``, ``list[...]``) are dropped from the path.
    """
    located = []
    missed: set[tuple[Any, ...]] = set()
    for error in errors:
        path, labels = _data_path(error["loc"], data)
        branch = tuple(error["loc"][:labels[-1][0] + 1]) if labels else ()
        tag_miss = error["type"] == "literal_error" and path[-1:] in (["type"], ["role"])
        type_miss = (error["type"].endswith("_type") or error["type"] == "model_type") and \
            bool(labels) and len(path) == labels[-1][1]
        if tag_miss or type_miss:
            missed.add(branch)
        located.append((path, branch, error))
    meant = [item for item in located
             if not any(item[1][:size] in missed for size in range(1, len(item[1]) + 1))]
    if meant:
        path, _, error = max(meant, key=lambda item: len(item[0]))
        return _where(path, error["msg"])
    tags = [item for item in located if item[2]["type"] == "literal_error"
            and item[0][-1:] == ["type"]]
    if tags:
        path = tags[0][0]
        expected = ", ".join(dict.fromkeys(str(item[2]["ctx"]["expected"]) for item in tags
                                           if item[0] == path))
        value = _at(data, path)
        return _where(path[:-1], f"Input tag {value!r} found using 'type' does not match any "
                      f"of the expected tags: {expected}")
    path, _, error = located[0]
    return _where(path, error["msg"])


def _where(path: Sequence[Any], message: str) -> str:
    where = ".".join(str(part) for part in path)
    return f"{where}: {message}" if where else message


def _at(data: Any, path: Sequence[Any]) -> Any:
    for part in path:
        try:
            data = data[part]
        except (KeyError, IndexError, TypeError):
            return None
    return data


def _data_path(loc: Sequence[Any], data: Any) -> tuple[list[Any], list[tuple[int, int]]]:
    """The parts of ``loc`` that address ``data``, and ``(loc index, path depth)`` of each
    union label in ``loc``."""
    path: list[Any] = []
    labels: list[tuple[int, int]] = []
    current = data
    for position, part in enumerate(loc):
        in_dict = isinstance(current, Mapping) and isinstance(part, str) and part in current
        in_list = isinstance(current, list) and isinstance(part, int) and 0 <= part < len(current)
        if in_dict or in_list:
            current = current[part]
            path.append(part)
        elif isinstance(current, Mapping) and isinstance(part, str) and "[" not in part \
                and part[:1].islower():
            path.append(part)  # a missing or extra field name
            current = None
        else:
            labels.append((position, len(path)))
    return path, labels


# -- requests --------------------------------------------------------------------------------


def check_request(body: Any) -> None:
    """Raise :class:`Problem` (400) unless ``body`` is a valid non-streaming Messages request."""
    if not isinstance(body, dict):
        raise Problem("Input should be a valid dictionary")
    errors = _validate(MessageCreateParamsNonStreaming, body)
    messages = body.get("messages")
    if errors is not None:
        raise Problem(_describe(errors, body))
    _check_sampling(body)
    _check_tools(body)
    if isinstance(messages, list):
        check_conversation(messages)


def _check_sampling(body: Mapping[str, Any]) -> None:
    for name, (low, high) in _RANGES.items():
        value = body.get(name)
        if isinstance(value, int | float) and not low <= value <= high:
            raise Problem(f"{name}: range: {low:g}..{high:g}")
    if "temperature" in body and "top_p" in body:
        raise Problem("`temperature` and `top_p` cannot both be specified for this model. "
                      "Please use only one.")


def _check_tools(body: Mapping[str, Any]) -> None:
    tools = body.get("tools") or []
    names = [tool.get("name") for tool in tools if isinstance(tool, dict)]
    for index, name in enumerate(names):
        if isinstance(name, str) and not _TOOL_NAME.match(name):
            raise Problem(f"tools.{index}.custom.name: String should match pattern "
                          f"'{_TOOL_NAME.pattern}'")
    if len(set(names)) != len(names):
        raise Problem("tools: Tool names must be unique.")
    choice = body.get("tool_choice")
    if isinstance(choice, dict) and choice.get("type") != "none" and not tools:
        raise Problem("tool_choice: tool_choice may only be specified while providing tools")
    forced = choice.get("name") if isinstance(choice, dict) and choice.get("type") == "tool" \
        else None
    if forced is not None and forced not in names:
        raise Problem(f"tool_choice: Tool '{forced}' not found in provided tools")


@dataclass
class _Turn:
    """Consecutive messages of one role, merged as the API merges them."""

    role: str
    first: int
    blocks: list[tuple[int, int, dict[str, Any]]] = field(default_factory=list)
    """``(message index, block index, block)``."""

    @property
    def last(self) -> int:
        return self.blocks[-1][0] if self.blocks else self.first

    def where(self) -> str:
        if self.last == self.first:
            return f"messages.{self.first}"
        return (f"messages.{self.first} (consecutive {self.role} messages {self.first}-"
                f"{self.last} are merged into one turn)")


def check_conversation(messages: Sequence[Any]) -> None:
    """The rules of ``messages`` that the SDK types do not express.

    No ``system`` role, the first message is ``user``, non-empty content, ``tool_use`` only
    from the assistant and ``tool_result`` only from the user; after consecutive same-role
    messages are merged: every ``tool_result`` answers a ``tool_use`` of the previous assistant
    turn and comes before any other block of its turn, and every ``tool_use`` is answered in
    the next turn. A base64 image is at most 5 MB of base64 text.
    """
    if not messages:
        raise Problem("messages: at least one message is required")
    for index, message in enumerate(messages):
        if message.get("role") not in ("user", "assistant"):
            raise Problem(f"messages.{index}.role: Input should be 'user' or 'assistant' (the "
                          "Messages API has no system role in messages: use the top-level "
                          "`system` parameter)")
    if messages[0].get("role") != "user":
        raise Problem('messages: first message must use the "user" role')
    turns = _merge(messages)
    _check_blocks(turns, len(messages))
    _check_tool_round_trip(turns)


def _merge(messages: Sequence[Mapping[str, Any]]) -> list[_Turn]:
    turns: list[_Turn] = []
    for index, message in enumerate(messages):
        role = str(message["role"])
        content = message.get("content")
        if isinstance(content, str):
            content = [{"type": "text", "text": content}]
        if not turns or turns[-1].role != role:
            turns.append(_Turn(role, index))
        turns[-1].blocks += [(index, number, block) for number, block in enumerate(content or [])]
        if not content:
            turns[-1].blocks.append((index, -1, {}))  # an empty message, reported below
    return turns


def _check_blocks(turns: Sequence[_Turn], count: int) -> None:
    seen: set[str] = set()
    for turn in turns:
        for index, number, block in turn.blocks:
            final_assistant = turn.role == "assistant" and index == count - 1
            if number < 0 and not final_assistant:
                raise Problem(f"messages.{index}: all messages must have non-empty content "
                              "except for the optional final assistant message")
            kind = block.get("type")
            if kind == "text" and not final_assistant:
                text = block.get("text", "")
                if not text:
                    raise Problem("messages: text content blocks must be non-empty")
                if not text.strip():
                    raise Problem("messages: text content blocks must contain non-whitespace "
                                  "text")
            if kind == "tool_use":
                if turn.role != "assistant":
                    raise Problem(f"messages.{index}.content.{number}: `tool_use` blocks can "
                                  "only be in `assistant` messages")
                if block["id"] in seen:
                    raise Problem(f"messages.{index}.content.{number}: `tool_use` ids must be "
                                  "unique")
                seen.add(block["id"])
            source = block.get("source") if kind == "image" else None
            if isinstance(source, dict) and source.get("type") == "base64" and len(
                    source.get("data", "")) > MAX_IMAGE_BASE64:
                raise Problem(f"messages.{index}.content.{number}.image.source.base64: image "
                              f"exceeds 5 MB maximum: {len(source['data'])} bytes > "
                              f"{MAX_IMAGE_BASE64} bytes")
            if kind == "tool_result" and turn.role != "user":
                raise Problem(f"messages.{index}.content.{number}: `tool_result` blocks can "
                              "only be in `user` messages")


def _check_tool_round_trip(turns: Sequence[_Turn]) -> None:
    for position, turn in enumerate(turns):
        if turn.role == "assistant":
            asked = [block["id"] for _, _, block in turn.blocks if block.get("type") == "tool_use"]
            following = turns[position + 1] if position + 1 < len(turns) else None
            replies = following.blocks if following else []
            answered = {block.get("tool_use_id") for _, _, block in replies
                        if block.get("type") == "tool_result"}
            missing = [call for call in asked if call not in answered]
            if missing:
                raise Problem(f"{turn.where()}: `tool_use` ids were found without "
                              f"`tool_result` blocks immediately after: {', '.join(missing)}. "
                              "Each `tool_use` block must have a corresponding `tool_result` "
                              "block in the next message.")
            continue
        previous = turns[position - 1] if position > 0 else None
        offered = {block["id"] for _, _, block in (previous.blocks if previous else [])
                   if block.get("type") == "tool_use"}
        other_seen = False
        for index, number, block in turn.blocks:
            if block.get("type") != "tool_result":
                other_seen = True
                continue
            if block.get("tool_use_id") not in offered:
                raise Problem(f"messages.{index}.content.{number}: unexpected `tool_use_id` "
                              f"found in `tool_result` blocks: {block.get('tool_use_id')}. "
                              "Each `tool_result` block must have a corresponding `tool_use` "
                              "block in the previous message.")
            if other_seen:
                raise Problem(f"{turn.where()}: `tool_result` blocks must come first in the "
                              "user message, before any other content block")


# -- answers ---------------------------------------------------------------------------------


def check_message(body: Any) -> None:
    """Raise :class:`InvalidReply` unless ``body`` is a valid ``Message`` (no unknown keys,
    ``stop_reason``/``stop_sequence`` present as the API always sends them)."""
    errors = _validate(Message, body)
    if errors is not None:
        raise InvalidReply(f"Message invalid: {_describe(errors, body)}")
    for key in ("stop_reason", "stop_sequence"):
        if key not in body:
            raise InvalidReply(f"Message invalid: {key}: Field required (the API always sends it)")


def check_error(body: Any) -> None:
    """Raise :class:`InvalidReply` unless ``body`` is a valid ``ErrorResponse``.

    ``request_too_large`` (413) and ``conflict_error`` (409) are documented error types that
    the SDK's union lacks: for them only the envelope is checked.
    """
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict) and error.get("type") in ("request_too_large", "conflict_error"):
        body = {**body, "error": {**error, "type": "api_error"}}
    try:
        ErrorResponse.model_validate(body)
    except pydantic.ValidationError as exc:
        raise InvalidReply(f"ErrorResponse invalid: {_describe(exc.errors(), body)}") from None


def error_type(status: int) -> str:
    """``error.type`` for an HTTP status (other 4xx: ``invalid_request_error``)."""
    return ERROR_TYPES.get(status, "api_error" if status >= 500 else "invalid_request_error")


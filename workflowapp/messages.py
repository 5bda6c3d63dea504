"""The conversation model: messages, content parts and tool calls, in OpenAI's shapes.

The wire and history format of every application is OpenAI's chat-completions ``messages``
JSON, whatever the provider. This module is the one place that parses and checks it
(OPENAICHAT's ``MESSAGE_JSON``/``MESSAGE_HISTORY``, OPENAIADDMESSAGE's messages, GETAGENTTOOL's
tool calls) and converts back, so the provider adapters work on checked objects:

* :class:`Message` — role, content (text or a list of parts), tool calls, ``tool_call_id``;
  keys we do not model (``name``...) are kept in ``extra`` and written back unchanged.
* parts — :class:`TextPart`, :class:`ImagePart` (``image_url`` with a URL or a ``data:`` URL and
  ``detail``), :class:`FilePart` (``file`` with ``filename`` and ``file_data`` as a ``data:``
  URL, e.g. a PDF), and :class:`OtherPart` for part types we pass along without knowing them.
* :class:`ToolCall` — id, name and arguments (the JSON text OpenAI sends); accepted in OpenAI's
  ``{"id", "type", "function": {"name", "arguments"}}`` form or WorkflowGen's
  ``{"name", "id", "parameters"}`` form.

Every check raises :class:`~workflowapp.errors.ParameterError` naming the parameter and the
place (``MESSAGE_JSON[2]``).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from . import jsontext
from .errors import ParameterError

ROLES = ("system", "user", "assistant", "developer", "tool")
#: The message keys OPENAIADDMESSAGE accepts in a JSON message given as CONTENT.
MESSAGE_KEYS = frozenset({"role", "content", "name", "tool_calls", "tool_call_id", "refusal"})
_DATA_URL = re.compile(r"^data:([\w.+-]+/[\w.+-]+)?(?:;[\w=.+-]+)*;base64,(.*)$", re.DOTALL)


# --- content parts ----------------------------------------------------------------------


class TextPart(NamedTuple):
    """``{"type": "text", "text": …}``."""

    text: str

    def to_openai(self) -> dict[str, Any]:
        return {"type": "text", "text": self.text}


class ImagePart(NamedTuple):
    """``{"type": "image_url", "image_url": {"url", "detail"}}``; ``url`` may be a data URL."""

    url: str
    detail: str | None = None

    @property
    def media_type(self) -> str | None:
        """The type of a ``data:`` URL (``image/png``), else ``None``."""
        return data_url_type(self.url)

    @property
    def data(self) -> str | None:
        """The base64 data of a ``data:`` URL, else ``None`` (a remote URL)."""
        return data_url_parts(self.url)[1]

    def to_openai(self) -> dict[str, Any]:
        image: dict[str, Any] = {"url": self.url}
        if self.detail is not None:
            image["detail"] = self.detail
        return {"type": "image_url", "image_url": image}


class FilePart(NamedTuple):
    """``{"type": "file", "file": {"filename", "file_data"}}``: a document (PDF) as a data URL,
    or a provider ``file_id``."""

    filename: str | None = None
    file_data: str | None = None
    file_id: str | None = None

    @property
    def media_type(self) -> str | None:
        return data_url_type(self.file_data)

    @property
    def data(self) -> str | None:
        return data_url_parts(self.file_data)[1] if self.file_data else None

    def to_openai(self) -> dict[str, Any]:
        file = {k: v for k, v in (("filename", self.filename), ("file_data", self.file_data),
                                  ("file_id", self.file_id)) if v is not None}
        return {"type": "file", "file": file}


class OtherPart(NamedTuple):
    """A part type this host does not model (``input_audio``, ``refusal``...), kept as given."""

    value: dict[str, Any]

    @property
    def type(self) -> str:
        return str(self.value.get("type"))

    def to_openai(self) -> dict[str, Any]:
        return dict(self.value)


Part = TextPart | ImagePart | FilePart | OtherPart
#: The part kinds an adapter may declare it carries.
PART_KINDS = ("text", "image", "pdf")


def data_url_parts(url: str | None) -> tuple[str | None, str | None]:
    """(media type, base64 data) of a ``data:…;base64,…`` URL, else ``(None, None)``."""
    found = _DATA_URL.match(url or "")
    if not found:
        return None, None
    return (found.group(1) or "application/octet-stream").lower(), found.group(2)


def data_url_type(url: str | None) -> str | None:
    """The media type of a ``data:`` URL (``image/png``), else ``None``; the data is not copied."""
    found = _DATA_URL.match(url or "")
    return (found.group(1) or "application/octet-stream").lower() if found else None


@dataclass(frozen=True)
class DataView:
    """The base64 data of a ``data:`` URL, left inside the URL.

    A 10 MB PDF is 13.5 MB of base64, and slicing it out of its URL is 13.5 MB more; an adapter
    that sends the data alone (Anthropic's ``source.data``) puts this view in the request body
    and the upstream client's JSON encoder copies it straight from the URL. ``str()`` copies.
    """

    url: str
    start: int

    def __len__(self) -> int:
        return len(self.url) - self.start

    def __str__(self) -> str:
        return self.url[self.start:]


def data_view(url: str | None) -> DataView | None:
    """A :class:`DataView` of a ``data:…;base64,…`` URL's data, else ``None``."""
    found = _DATA_URL.match(url or "")
    return DataView(found.string, found.start(2)) if found else None


def parse_part(value: Any, where: str, parameter: str) -> Part:
    """One OpenAI content part, checked."""
    if not isinstance(value, dict) or not isinstance(value.get("type"), str):
        raise ParameterError(f"{where} must be a content part with a type.", parameter=parameter)
    kind = value["type"]
    if kind == "text":
        if not isinstance(value.get("text"), str):
            raise ParameterError(f"{where} (text) has no text.", parameter=parameter)
        return TextPart(value["text"])
    if kind == "image_url":
        image = value.get("image_url")
        url = image.get("url") if isinstance(image, dict) else image
        if not isinstance(url, str) or not url:
            raise ParameterError(f"{where} (image_url) has no url.", parameter=parameter)
        detail = image.get("detail") if isinstance(image, dict) else None
        return ImagePart(url, detail if isinstance(detail, str) else None)
    if kind == "file":
        file = value.get("file")
        if not isinstance(file, dict) or not (
            isinstance(file.get("file_data"), str) or isinstance(file.get("file_id"), str)
        ):
            raise ParameterError(f"{where} (file) needs file_data or file_id.",
                                 parameter=parameter)
        return FilePart(_str(file.get("filename")), _str(file.get("file_data")),
                        _str(file.get("file_id")))
    return OtherPart(dict(value))


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def part_kind(part: Part) -> str:
    """``text``, ``image``, ``pdf`` or the OpenAI type of another part (for capability checks)."""
    if isinstance(part, TextPart):
        return "text"
    if isinstance(part, ImagePart):
        return "image"
    if isinstance(part, FilePart):
        return "pdf" if part.media_type in (None, "application/pdf") else f"file {part.media_type}"
    return part.type


# --- tool calls -------------------------------------------------------------------------


class ToolCall(NamedTuple):
    """A tool call the model made: ``arguments`` is the JSON text of its parameters."""

    id: str | None
    name: str
    arguments: str = "{}"

    @classmethod
    def parse(cls, value: Any, where: str, parameter: str) -> ToolCall:
        """A tool call in either form (OpenAI's or WorkflowGen's), checked.

        :raises ParameterError: naming ``parameter``; ``where`` says which one (``TOOLS[1]``).
        """
        if not isinstance(value, dict):
            raise ParameterError(f"{where} must be a tool call object.", parameter=parameter)
        function = value.get("function")
        if isinstance(function, dict):  # OpenAI's tool_calls form
            name, parameters = function.get("name"), function.get("arguments")
        else:
            name, parameters = value.get("name"), value.get("parameters")
        if not isinstance(name, str) or not name:
            raise ParameterError(f"{where} has no tool name.", parameter=parameter)
        call_id = value.get("id")
        if call_id is not None and not isinstance(call_id, str):
            raise ParameterError(f"{where} has an id that is not a text.", parameter=parameter)
        checked = _parameters(parameters, where, parameter)
        arguments = parameters if isinstance(parameters, str) and parameters.strip() \
            else json.dumps(checked, ensure_ascii=False)
        return cls(call_id, name, arguments)

    def parameters(self) -> dict[str, Any]:
        """The arguments as an object (``{}`` when they are not one; parse() checked them)."""
        try:
            value = jsontext.loads(self.arguments or "{}")
        except (ValueError, RecursionError):
            return {}
        return value if isinstance(value, dict) else {}

    def to_openai(self) -> dict[str, Any]:
        """OpenAI's ``tool_calls`` item."""
        return {"id": self.id, "type": "function",
                "function": {"name": self.name, "arguments": self.arguments}}

    def to_selected(self) -> dict[str, Any]:
        """WorkflowGen's ``{"name", "id", "parameters"}`` (SELECTED_TOOLS_PARAM, GETAGENTTOOL)."""
        return {"name": self.name, "id": self.id, "parameters": self.parameters()}


def _parameters(value: Any, where: str, parameter: str) -> dict[str, Any]:
    """A call's parameters as an object (OpenAI sends them as a JSON string)."""
    if value is None or value == "":
        return {}
    if isinstance(value, str):
        try:
            value = jsontext.loads(value)
        except ValueError as exc:
            raise ParameterError(f"{where} has parameters that are not valid JSON ({exc}).",
                                 parameter=parameter) from None
        except RecursionError:
            raise ParameterError(f"{where} has parameters nested too deeply.",
                                 parameter=parameter) from None
    if not isinstance(value, dict):
        raise ParameterError(f"{where} has parameters that are not a JSON object.",
                             parameter=parameter)
    return value


def parse_tool_calls(value: Any, parameter: str) -> list[ToolCall]:
    """A JSON array of tool calls (either form)."""
    if not isinstance(value, list):
        raise ParameterError(f"{parameter} must be a JSON array of tool calls.",
                             parameter=parameter)
    return [ToolCall.parse(item, f"{parameter}[{index}]", parameter)
            for index, item in enumerate(value)]


# --- messages ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Message:
    """One OpenAI chat message; ``content`` is text, a list of parts, or ``None``."""

    role: str
    content: str | tuple[Part, ...] | None = None
    tool_calls: tuple[ToolCall, ...] = ()
    tool_call_id: str | None = None
    refusal: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)  # other keys, written back unchanged

    @property
    def parts(self) -> tuple[Part, ...]:
        """The content as parts (a text content is one text part; none is no part)."""
        if self.content is None:
            return ()
        if isinstance(self.content, str):
            return (TextPart(self.content),) if self.content else ()
        return self.content

    @property
    def text(self) -> str:
        """The text of the content: its text parts joined with newlines."""
        if isinstance(self.content, str):
            return self.content
        return "\n".join(p.text for p in self.parts if isinstance(p, TextPart))

    def to_openai(self) -> dict[str, Any]:
        """The message as OpenAI JSON."""
        out: dict[str, Any] = {"role": self.role}
        out["content"] = self.content if not isinstance(self.content, tuple) \
            else [part.to_openai() for part in self.content]
        if self.tool_calls:
            out["tool_calls"] = [call.to_openai() for call in self.tool_calls]
        if self.tool_call_id is not None:
            out["tool_call_id"] = self.tool_call_id
        if self.refusal:
            out["refusal"] = self.refusal
        out.update(self.extra)
        return out


def parse_message(value: Any, where: str, parameter: str) -> Message:
    """One OpenAI message, checked: a known role; content text or parts; an assistant message
    has content or tool calls (with ids); every other message has content; a tool message
    names the tool call it answers.

    :raises ParameterError: naming ``parameter``; ``where`` says which message.
    """
    if not isinstance(value, dict):
        raise ParameterError(f"{where} must be a message object.", parameter=parameter)
    role = value.get("role")
    if role not in ROLES:
        raise ParameterError(
            f"{where} has role {role!r}; use one of {', '.join(ROLES)}.", parameter=parameter
        )
    raw = value.get("content")
    if raw is not None and not isinstance(raw, str | list):
        raise ParameterError(
            f"{where} ({role}): content must be text or a list of content parts.",
            parameter=parameter,
        )
    content: str | tuple[Part, ...] | None = raw if not isinstance(raw, list) else tuple(
        parse_part(part, f"{where}.content[{index}]", parameter) for index, part in enumerate(raw)
    )
    calls = _message_tool_calls(value.get("tool_calls"), role, where, parameter)
    if role == "assistant":
        if raw is None and not calls and not value.get("refusal"):
            raise ParameterError(f"{where} (assistant) has neither content nor tool_calls.",
                                 parameter=parameter)
    elif raw is None or raw == "" or raw == []:
        raise ParameterError(f"{where} ({role}) has no content.", parameter=parameter)
    call_id = value.get("tool_call_id")
    if role == "tool" and not call_id:
        raise ParameterError(f"{where} (tool) has no tool_call_id.", parameter=parameter)
    known = {"role", "content", "tool_calls", "tool_call_id", "refusal"}
    refusal = value.get("refusal")
    return Message(
        role=role,
        content=content,
        tool_calls=calls,
        tool_call_id=str(call_id) if call_id is not None else None,
        refusal=refusal if isinstance(refusal, str) else None,
        extra={k: v for k, v in value.items() if k not in known},
    )


def _message_tool_calls(value: Any, role: str, where: str, parameter: str
                        ) -> tuple[ToolCall, ...]:
    if value is None or (value == [] and role == "assistant"):
        return ()
    if role != "assistant" or not isinstance(value, list) or not all(
        isinstance(c, dict) and c.get("id") for c in value
    ):
        raise ParameterError(f"{where}: tool_calls must be a list of calls with ids.",
                             parameter=parameter)
    return tuple(ToolCall.parse(c, f"{where}.tool_calls[{i}]", parameter)
                 for i, c in enumerate(value))


def parse_messages(value: Any, parameter: str) -> list[Message]:
    """A JSON value holding messages (an array, or one message object), checked."""
    if value is None:
        return []
    if isinstance(value, dict):
        value = [value]
    if not isinstance(value, list):
        raise ParameterError(f"Parameter {parameter} must be a JSON array of messages.",
                             parameter=parameter)
    return [parse_message(m, f"{parameter}[{i}]", parameter) for i, m in enumerate(value)]


def is_message_json(value: Any) -> bool:
    """Whether ``value`` looks like one JSON message (a known role, message keys only)."""
    return isinstance(value, dict) and value.get("role") in ROLES and set(value) <= MESSAGE_KEYS


def assistant_from_openai(value: Any) -> Message:
    """An assistant message of a provider's answer, leniently (the answer was checked already:
    tool calls without a function name are refused by the caller)."""
    if not isinstance(value, dict):
        return Message("assistant")
    content = value.get("content")
    if isinstance(content, list):  # Mistral's chunks, or parts: keep the text
        content = "".join(c.get("text", "") for c in content
                          if isinstance(c, dict) and c.get("type") == "text"
                          and isinstance(c.get("text"), str))
    calls = []
    for raw in value.get("tool_calls") or ():
        function = raw.get("function") if isinstance(raw, dict) else None
        name = function.get("name") if isinstance(function, dict) else None
        arguments = function.get("arguments") if isinstance(function, dict) else None
        if not isinstance(arguments, str):
            arguments = json.dumps(arguments if arguments is not None else {}, ensure_ascii=False)
        call_id = raw.get("id") if isinstance(raw, dict) else None
        calls.append(ToolCall(call_id if isinstance(call_id, str) else None,
                              name if isinstance(name, str) else "", arguments))
    refusal = value.get("refusal")
    return Message("assistant", content if isinstance(content, str) else None, tuple(calls),
                   refusal=refusal if isinstance(refusal, str) else None)

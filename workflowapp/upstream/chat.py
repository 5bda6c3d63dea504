"""The neutral chat request and result between OPENAICHAT and the provider adapters.

``apps/chat.py`` builds a :class:`ChatRequest` from the action's parameters and reads a
:class:`ChatResult`; it never sees a provider's JSON. An adapter
(:mod:`workflowapp.upstream.providers`) encodes the request for its wire format and decodes the
answer back into OpenAI shapes (:class:`~workflowapp.messages.Message`), so every OUT parameter
and ``MESSAGE_HISTORY`` keep OpenAI's shapes whatever the provider.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, NamedTuple

from ..messages import Message

#: REASONING_EFFORT values, lowest to highest.
EFFORTS = ("none", "minimal", "low", "medium", "high", "xhigh")


class Tool(NamedTuple):
    """A function the model may call (OpenAI's ``function`` object)."""

    name: str
    description: str | None = None
    parameters: dict[str, Any] | None = None
    strict: bool | None = None

    def to_openai(self) -> dict[str, Any]:
        function: dict[str, Any] = {"name": self.name}
        if self.description is not None:
            function["description"] = self.description
        if self.parameters is not None:
            function["parameters"] = self.parameters
        if self.strict is not None:
            function["strict"] = self.strict
        return {"type": "function", "function": function}


class ResponseFormat(NamedTuple):
    """``json_object``, or ``json_schema`` with its name, schema and optional ``strict``."""

    type: Literal["json_object", "json_schema"]
    name: str = "schema"
    schema: dict[str, Any] | None = None
    strict: bool | None = None
    has_strict: bool = False  # "strict" was given (forwarded only then, even as null)

    def to_openai(self) -> dict[str, Any]:
        if self.type == "json_object":
            return {"type": "json_object"}
        wrapped: dict[str, Any] = {"name": self.name, "schema": self.schema or {}}
        if self.has_strict:
            wrapped["strict"] = self.strict
        return {"type": "json_schema", "json_schema": wrapped}


#: The sampling parameters a ChatRequest carries, with their API default value.
SAMPLING_DEFAULTS = {"temperature": 1.0, "top_p": 1.0, "frequency_penalty": 0.0,
                     "presence_penalty": 0.0}


@dataclass(frozen=True)
class ChatRequest:
    """One chat completion, provider-neutral. ``sampling`` holds only the parameters given."""

    model: str
    messages: tuple[Message, ...]
    max_tokens: int = 256
    sampling: dict[str, float] = field(default_factory=dict)
    n: int = 1
    response_format: ResponseFormat | None = None
    tools: tuple[Tool, ...] = ()
    tool_choice_required: bool = False
    parallel_tools: bool = True
    reasoning_effort: str | None = None


@dataclass(frozen=True)
class Usage:
    """Token counts in OpenAI's terms; ``cached`` is the part of ``prompt`` read from a cache."""

    prompt: int | None = None
    completion: int | None = None
    total: int | None = None
    cached: int | None = None

    def __add__(self, other: Usage) -> Usage:
        def plus(a: int | None, b: int | None) -> int | None:
            return None if a is None and b is None else (a or 0) + (b or 0)

        return Usage(plus(self.prompt, other.prompt), plus(self.completion, other.completion),
                     plus(self.total, other.total), plus(self.cached, other.cached))

    def as_metrics(self) -> dict[str, int]:
        """``{"prompt", "completion", "cached"}`` for the call's metrics (known counts only)."""
        pairs = (("prompt", self.prompt), ("completion", self.completion),
                 ("cached", self.cached))
        return {name: value for name, value in pairs if value is not None}


@dataclass(frozen=True)
class Choice:
    """One answer: the assistant message (OpenAI shape) and OpenAI's ``finish_reason``."""

    message: Message
    finish_reason: str | None
    index: int = 0
    json_tool: bool = False  # the JSON came as the input of the forced answer tool


@dataclass
class ChatResult:
    """A decoded answer, plus the figures of the HTTP exchange(s) behind it."""

    choices: list[Choice]
    usage: Usage
    text: str  # the provider's own response body (RESULT); a JSON array of bodies for n > 1
    status: int = 200
    request_id: str | None = None
    retries: int = 0
    duration_ms: float = 0.0

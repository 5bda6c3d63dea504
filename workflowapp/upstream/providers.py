"""Provider kinds and the pure request adaptations each one needs.

WorkflowGen's ``URL`` is a full endpoint, so the provider is told by the ``PROVIDER`` setting or
guessed from the URL (:func:`detect_provider`). The kind decides the auth header, the Azure
``api-version`` query, the token-limit field and how chat messages are normalised. Everything
here is pure: the client holds the state (what each model was found to reject).

Known quirks of OpenAI-compatible servers (``docs/openai-api.md`` §5; marked *memory* where not
re-verified at a primary source):

==============  ================================================================================
server          quirk and what we do about it
==============  ================================================================================
Azure OpenAI    ``api-key`` header; classic ``/openai/deployments/{name}/…`` URLs need
                ``api-version`` (added when missing), v1 ``/openai/v1/…`` URLs take none; the
                deployment name (not the model name) selects the model, a wrong one is 404
                ``DeploymentNotFound``; a filtered prompt is 400 ``content_filter``; reasoning
                deployments reject ``max_tokens`` (learned and renamed on the fly).
Ollama          ignores ``max_completion_tokens`` silently (no cap!), so compatible servers get
                ``max_tokens``; ignores ``tool_choice``, ``logit_bias``, ``n``,
                ``parallel_tool_calls``; ``finish_reason`` may be null.
vLLM            ``tool_choice: auto`` needs server flags (else 400); ``parallel_tool_calls``
                honoured only by newer versions; ``user`` ignored.
llama.cpp       ``llama-server``: ``error.code`` is an *integer*; accepts ``developer`` and
                content parts. ``llama-cpp-python``: answers ``developer``, assistant
                ``content: null``, ``json_schema`` with HTTP **500** (validation wrapped as
                ``internal_server_error``, so it is retried like any 5xx) and 500s on
                content-part arrays: hence ``developer`` -> ``system``, ``null`` -> ``""`` and
                flattened text parts for every compatible server.
LiteLLM         raises ``UnsupportedParamsError`` (400) for parameters a target model does not
                take unless ``drop_params`` is on; its capability tables can be wrong.
Mistral         *memory*: takes ``max_tokens``, not ``max_completion_tokens``; strict request
                validation (unknown fields are a 422), ``random_seed`` instead of ``seed``.
Gemini          *memory*: the OpenAI layer (``…/v1beta/openai/``) may wrap errors in a JSON
                list ``[{"error": {…}}]`` (parsed leniently) and rejects some sampling
                parameters per model.
==============  ================================================================================

The reasoning-model adaptations (:func:`adaptation_for`) follow §1.3: on a 400
``unsupported_parameter`` for a token field the other field is used; on a 400
``unsupported_value``/``unsupported_parameter`` for a sampling parameter that parameter is
dropped. Each is tried once per call and remembered per (host, model) by the client.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any, Literal
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from ..errors import ParameterError


class Provider(StrEnum):
    """The kind of server an endpoint URL points to."""

    OPENAI = "openai"
    AZURE = "azure"
    COMPATIBLE = "compatible"


AZURE_HOST_SUFFIXES = (
    ".openai.azure.com",
    ".cognitiveservices.azure.com",
    ".services.ai.azure.com",
)
AZURE_CLASSIC_MARKER = "/openai/deployments/"
OPENAI_HOST = "api.openai.com"

#: The two names of the completion-token limit; callers always pass ``max_tokens``.
TOKEN_FIELDS = ("max_tokens", "max_completion_tokens")
#: Parameters a reasoning model may reject and that can be left out without changing the task.
DROPPABLE = frozenset(
    {
        "temperature",
        "top_p",
        "frequency_penalty",
        "presence_penalty",
        "logprobs",
        "top_logprobs",
        "logit_bias",
        "stop",
        "parallel_tool_calls",
        "n",
    }
)
# Parameters that only make sense together: dropping the first drops the others.
_DROP_ALSO = {"logprobs": ("top_logprobs",)}
_UNSUPPORTED = re.compile(r"[Uu]nsupported (?:parameter|value):?\s*'([A-Za-z_]+)'")


def detect_provider(url: str, given: str | None = None) -> Provider:
    """The provider for ``url``: ``given`` (the PROVIDER parameter or setting) wins, else a guess.

    :raises ParameterError: ``given`` is not one of the provider names.
    """
    if given is not None and given.strip():
        try:
            return Provider(given.strip().lower())
        except ValueError:
            allowed = ", ".join(p.value for p in Provider)
            raise ParameterError(
                f"PROVIDER {given.strip()!r} is not known; use one of: {allowed}",
                parameter="PROVIDER",
            ) from None
    parts = urlsplit(url)
    host = (parts.hostname or "").rstrip(".")
    if host.endswith(AZURE_HOST_SUFFIXES) or is_azure_classic(url):
        return Provider.AZURE
    if host == OPENAI_HOST:
        return Provider.OPENAI
    return Provider.COMPATIBLE


def is_azure_classic(url: str) -> bool:
    """Whether ``url`` is an Azure deployment URL (``/openai/deployments/{name}/…``)."""
    return AZURE_CLASSIC_MARKER in urlsplit(url).path


def azure_deployment(url: str) -> str | None:
    """The deployment name in an Azure classic URL, else ``None``."""
    path = urlsplit(url).path
    if AZURE_CLASSIC_MARKER not in path:
        return None
    rest = path.split(AZURE_CLASSIC_MARKER, 1)[1]
    return rest.split("/", 1)[0] or None


def with_api_version(url: str, provider: Provider, api_version: str) -> str:
    """``url`` with ``api-version`` added when it is an Azure classic URL that lacks one.

    Azure v1 URLs (``/openai/v1/…``) and every other provider are left alone.
    """
    if provider is not Provider.AZURE or not is_azure_classic(url):
        return url
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    if any(name.lower() == "api-version" for name, _ in query):
        return url
    query.append(("api-version", api_version))
    return urlunsplit(parts._replace(query=urlencode(query)))


def auth_headers(provider: Provider, api_key: str) -> dict[str, str]:
    """The auth header for ``provider``: ``api-key`` for Azure, a Bearer token otherwise."""
    if provider is Provider.AZURE:
        return {"api-key": api_key}
    return {"Authorization": f"Bearer {api_key}"}


def default_token_field(provider: Provider) -> str:
    """The token-limit field to send first: OpenAI wants the new name, the others the old one."""
    return "max_completion_tokens" if provider is Provider.OPENAI else "max_tokens"


@dataclass(frozen=True)
class Adaptation:
    """One change made to a chat body after the model rejected a parameter."""

    kind: Literal["rename", "drop"]
    param: str
    to: str | None = None

    def describe(self, model: str) -> str:
        """A log line, e.g. "model o3 does not take max_tokens; using max_completion_tokens"."""
        if self.kind == "rename":
            return f"model {model} does not take {self.param}; using {self.to}"
        return f"model {model} does not take {self.param}; sending it no more"


@dataclass(frozen=True)
class ChatProfile:
    """What a (host, model) was found to need: its token field and the parameters it rejects."""

    token_field: str | None = None
    dropped: frozenset[str] = field(default_factory=frozenset)

    def learn(self, adaptation: Adaptation) -> ChatProfile:
        """This profile with ``adaptation`` remembered."""
        if adaptation.kind == "rename":
            return replace(self, token_field=adaptation.to)
        return replace(self, dropped=self.dropped | {adaptation.param})


def prepare_chat_body(
    body: Mapping[str, Any], provider: Provider, profile: ChatProfile | None = None
) -> dict[str, Any]:
    """A copy of ``body`` ready for ``provider``: token field, learned drops, message quirks."""
    profile = profile or ChatProfile()
    out = dict(body)
    _set_token_field(out, profile.token_field or default_token_field(provider))
    for name in profile.dropped:
        _drop(out, name)
    if provider is Provider.COMPATIBLE and isinstance(out.get("messages"), list):
        out["messages"] = compatible_messages(out["messages"])
    return out


def _set_token_field(body: dict[str, Any], name: str) -> None:
    values = [body.pop(f) for f in TOKEN_FIELDS if f in body]
    if values:
        body[name] = values[0]  # max_tokens first: it is the field callers fill


def _drop(body: dict[str, Any], name: str) -> None:
    body.pop(name, None)
    for other in _DROP_ALSO.get(name, ()):
        body.pop(other, None)


def compatible_messages(messages: Iterable[Any]) -> list[Any]:
    """Messages rewritten for compatible servers (see the quirks table), without mutation."""
    return [_compatible_message(m) if isinstance(m, dict) else m for m in messages]


def _compatible_message(message: dict[str, Any]) -> dict[str, Any]:
    out = dict(message)
    if out.get("role") == "developer":
        out["role"] = "system"
    if out.get("role") == "assistant" and out.get("content") is None:
        out["content"] = ""
    content = out.get("content")
    if isinstance(content, list) and content and all(_is_text_part(p) for p in content):
        out["content"] = "\n".join(p["text"] for p in content)
    return out


def _is_text_part(part: Any) -> bool:
    return (
        isinstance(part, dict) and part.get("type") == "text" and isinstance(part.get("text"), str)
    )


def rejected_param(param: str | None, message: str | None) -> str | None:
    """The parameter an error names: ``param``, else the quoted name in "Unsupported …: 'x'"."""
    if param:
        return param
    match = _UNSUPPORTED.search(message or "")
    return match.group(1) if match else None


def adaptation_for(
    status: int | None,
    code: str | None,
    param: str | None,
    message: str | None,
    body: Mapping[str, Any],
) -> Adaptation | None:
    """The change that answers a rejected parameter in ``body``, or ``None`` if none applies."""
    if status != 400 or code not in ("unsupported_parameter", "unsupported_value"):
        return None
    name = rejected_param(param, message)
    if name is None or name not in body:
        return None
    if name in TOKEN_FIELDS:
        if code != "unsupported_parameter":
            return None  # a bad value (too many tokens) is the caller's to fix
        other = TOKEN_FIELDS[1 - TOKEN_FIELDS.index(name)]
        return Adaptation("rename", name, other)
    if name in DROPPABLE:
        return Adaptation("drop", name)
    return None


def apply(body: Mapping[str, Any], adaptation: Adaptation) -> dict[str, Any]:
    """A copy of ``body`` with ``adaptation`` made."""
    out = dict(body)
    if adaptation.kind == "rename" and adaptation.to is not None:
        _set_token_field(out, adaptation.to)
    else:
        _drop(out, adaptation.param)
    return out

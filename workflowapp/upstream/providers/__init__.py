"""Provider adapters: one module per wire format, and what each provider supports.

WorkflowGen's ``URL`` is a full endpoint, so the provider is told by ``PROVIDER`` or guessed
from the URL (:func:`detect_provider`). An adapter (:func:`adapter_for`) encodes a neutral
:class:`~workflowapp.upstream.chat.ChatRequest` for its provider (URL, headers, body), decodes
the answer into OpenAI shapes, recognises the parameters a model refuses at run time, and
declares what it supports (:class:`Capabilities`; the README's table is
:func:`capability_table`). Adding a provider is one module plus a line in :data:`ADAPTERS`.

- :mod:`.openai`: OpenAI Chat Completions with the rules of Azure, compatible servers,
  Mistral and Gemini.
- :mod:`.anthropic`: Anthropic's native Messages API.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

from .anthropic import AnthropicAdapter
from .base import (
    FEATURES,
    HOSTS,
    LABELS,
    OPENAI_ENDPOINTS,
    Adaptation,
    Capabilities,
    ChatProfile,
    Encoded,
    Endpoint,
    Profiles,
    Provider,
    auth_headers,
    azure_deployment,
    detect_provider,
    is_azure_classic,
    model_key,
    parse_provider,
    with_api_version,
)
from .openai import (
    DROPPABLE,
    TOKEN_FIELDS,
    OpenAIAdapter,
    adaptation_for,
    apply,
    compatible_messages,
    default_token_field,
    mistral_id,
    prepare_chat_body,
    rejected_param,
)

if TYPE_CHECKING:
    from collections.abc import Mapping

    from ..chat import ChatRequest, Choice, Usage


class Adapter(Protocol):
    """What the chat sender needs of a provider module."""

    provider: Provider
    capabilities: Capabilities
    fan_out: bool  # NUMBER_OF_CHOICES > 1 as that many requests

    def encode(self, request: ChatRequest, endpoint: Endpoint, profile: ChatProfile
               ) -> Encoded: ...

    def decode(self, data: Any, text: str, encoded: Encoded) -> tuple[list[Choice], Usage]: ...

    def adaptation(self, status: int | None, code: str | None, param: str | None,
                   message: str | None, body: Mapping[str, Any]) -> Adaptation | None: ...


ADAPTERS: dict[Provider, Adapter] = {
    Provider.OPENAI: OpenAIAdapter(Provider.OPENAI),
    Provider.ANTHROPIC: AnthropicAdapter(),
    Provider.MISTRAL: OpenAIAdapter(Provider.MISTRAL),
    Provider.GEMINI: OpenAIAdapter(Provider.GEMINI),
    Provider.AZURE: OpenAIAdapter(Provider.AZURE),
    Provider.COMPATIBLE: OpenAIAdapter(Provider.COMPATIBLE),
}


def adapter_for(provider: Provider) -> Adapter:
    """The adapter that speaks to ``provider``."""
    return ADAPTERS[provider]


def capability_table() -> str:
    """The README's Markdown table of what each provider supports, from the declarations."""
    providers = list(ADAPTERS)
    lines = ["| parameter | " + " | ".join(f"`{p.value}`" for p in providers) + " |",
             "|---|" + "---|" * len(providers)]
    for feature in FEATURES:
        cells = []
        for provider in providers:
            sent = ADAPTERS[provider].capabilities.features.get(feature)
            cells.append(sent if sent is not None else "no")
        lines.append(f"| {feature} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


__all__ = [
    "ADAPTERS",
    "DROPPABLE",
    "FEATURES",
    "HOSTS",
    "LABELS",
    "OPENAI_ENDPOINTS",
    "TOKEN_FIELDS",
    "Adaptation",
    "Adapter",
    "AnthropicAdapter",
    "Capabilities",
    "ChatProfile",
    "Encoded",
    "Endpoint",
    "OpenAIAdapter",
    "Profiles",
    "Provider",
    "adaptation_for",
    "adapter_for",
    "apply",
    "auth_headers",
    "azure_deployment",
    "capability_table",
    "compatible_messages",
    "default_token_field",
    "detect_provider",
    "is_azure_classic",
    "mistral_id",
    "model_key",
    "parse_provider",
    "prepare_chat_body",
    "rejected_param",
    "with_api_version",
]

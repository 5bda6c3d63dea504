"""Sending a chat request through its provider's adapter, with the run-time adaptations.

:func:`send_chat` encodes the neutral request with the adapter of the endpoint's provider,
posts it through the :class:`~.client.Client`, and decodes the answer. When a model refuses a
parameter at run time (a reasoning model's ``max_tokens``, Anthropic's "temperature and top_p
cannot both be specified", a structured output the model does not have), the adapter says what
to change; the request is encoded again with that lesson and resent once per parameter, and the
lesson is kept for that (host, model) in :class:`~.providers.Profiles`. A provider without
``n`` (Anthropic) serves NUMBER_OF_CHOICES > 1 with that many requests, usage summed.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from typing import Any

from .chat import ChatRequest, ChatResult, Choice
from .client import Client
from .errors import ErrorInfo, redact
from .providers import (
    TOKEN_FIELDS,
    Adapter,
    ChatProfile,
    Endpoint,
    Profiles,
    adapter_for,
    model_key,
)
from .providers.base import Encoded


def send_chat(client: Client, endpoint: Endpoint, request: ChatRequest, *, profiles: Profiles,
              log: logging.Logger) -> ChatResult:
    """The decoded answer to ``request``, or the :class:`~workflowapp.errors.UpstreamError`."""
    adapter = adapter_for(endpoint.provider)
    if not (adapter.fan_out and request.n > 1):
        return _send_one(client, endpoint, adapter, request, profiles, log)
    single = replace(request, n=1)
    results = [_send_one(client, endpoint, adapter, single, profiles, log)
               for _ in range(request.n)]
    return merge(results)


def merge(results: list[ChatResult]) -> ChatResult:
    """One result of several single-choice requests: choices in order, usage summed, and the
    provider's bodies as a JSON array (RESULT)."""
    choices = [replace(r.choices[0], index=i) for i, r in enumerate(results)]
    usage = results[0].usage
    for result in results[1:]:
        usage = usage + result.usage
    return ChatResult(
        choices=choices,
        usage=usage,
        text="[" + ",".join(r.text for r in results) + "]",
        status=results[-1].status,
        request_id=results[0].request_id,
        retries=sum(r.retries for r in results),
        duration_ms=sum(r.duration_ms for r in results),
    )


@dataclass
class _Attempt:
    """The state of one request across its resends."""

    profile: ChatProfile
    encoded: Encoded
    tried: set[str]


def _send_one(client: Client, endpoint: Endpoint, adapter: Adapter, request: ChatRequest,
              profiles: Profiles, log: logging.Logger) -> ChatResult:
    key = model_key(endpoint.url, request.model)
    profile = profiles.get(key)
    state = _Attempt(profile, adapter.encode(request, endpoint, profile), set())

    def resend(status: int | None, info: ErrorInfo, body: dict[str, Any]) -> dict[str, Any] | None:
        adaptation = adapter.adaptation(status, info.code, info.param, info.message, body)
        if adaptation is None or adaptation.param in state.tried:
            return None
        state.tried.update(TOKEN_FIELDS if adaptation.kind == "rename" else (adaptation.param,))
        profiles.learn(key, adaptation)
        state.profile = state.profile.learn(adaptation)
        log.info("%s", redact(adaptation.describe(key[1] or "?"), endpoint.api_key))
        state.encoded = adapter.encode(request, endpoint, state.profile)
        return state.encoded.body

    first = state.encoded
    response = client.post_json(
        first.url, first.body, api_key=endpoint.api_key, provider=endpoint.provider,
        options=endpoint.options, log=log, headers=first.headers, resend=resend,
    )
    choices: list[Choice]
    choices, usage = adapter.decode(response.data, response.text, state.encoded)
    return ChatResult(choices, usage, response.text, response.status, response.request_id,
                      response.retries, response.duration_ms)

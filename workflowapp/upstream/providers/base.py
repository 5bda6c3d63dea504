"""What every provider adapter shares: the provider names, detection, what an adapter declares,
and the run-time lessons (a parameter a model refused) kept per (host, model)."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Literal, NamedTuple
from urllib.parse import SplitResult, parse_qsl, urlencode, urlsplit, urlunsplit

from ...errors import ParameterError
from ...kinds import split_url
from ..chat import SAMPLING_DEFAULTS, ChatRequest

if TYPE_CHECKING:
    from ..client import CallOptions


class Provider(StrEnum):
    """The kind of server an endpoint URL points to (the ``PROVIDER`` parameter's values)."""

    OPENAI = "openai"
    ANTHROPIC = "anthropic"
    MISTRAL = "mistral"
    GEMINI = "gemini"
    AZURE = "azure"
    COMPATIBLE = "compatible"


#: How messages name each provider ("Anthropic answered 429 …").
LABELS = {Provider.OPENAI: "OpenAI", Provider.ANTHROPIC: "Anthropic",
          Provider.MISTRAL: "Mistral", Provider.GEMINI: "Gemini",
          Provider.AZURE: "Azure OpenAI"}
#: Providers that speak OpenAI's other endpoints (moderations, transcriptions).
OPENAI_ENDPOINTS = (Provider.OPENAI, Provider.AZURE, Provider.COMPATIBLE)

AZURE_HOST_SUFFIXES = (
    ".openai.azure.com",
    ".cognitiveservices.azure.com",
    ".services.ai.azure.com",
)
AZURE_CLASSIC_MARKER = "/openai/deployments/"
OPENAI_HOST = "api.openai.com"
#: The official host of each provider that has one (admitted by the default allow-list).
HOSTS = {
    Provider.OPENAI: OPENAI_HOST,
    Provider.ANTHROPIC: "api.anthropic.com",
    Provider.MISTRAL: "api.mistral.ai",
    Provider.GEMINI: "generativelanguage.googleapis.com",
}


def parse_provider(given: str) -> Provider:
    """``given`` (any case, spaces ignored) as a Provider, or a 400 naming PROVIDER."""
    try:
        return Provider(given.strip().lower())
    except ValueError:
        allowed = ", ".join(p.value for p in Provider)
        raise ParameterError(
            f"PROVIDER {given.strip()!r} is not known; use one of: {allowed}",
            parameter="PROVIDER",
        ) from None


def parsed_url(url: str) -> SplitResult:
    """``url`` split, or a 400 naming URL when it cannot be (``http://[x``, a bad port, a
    host that changes under NFKC normalisation): never a crash further on."""
    parts = split_url(url.strip())
    if parts is None:
        raise ParameterError("URL is not a valid URL", parameter="URL")
    return parts


def detect_provider(url: str, given: str | None = None) -> Provider:
    """The provider for ``url``: ``given`` (the PROVIDER parameter or setting) wins, else a guess
    from the host (and Anthropic's ``/v1/messages`` or Azure's ``/openai/deployments/`` path).

    :raises ParameterError: ``given`` is not a provider name, or ``url`` cannot be parsed
        (``http://[x``): a 400 naming URL, never a crash.
    """
    if given is not None and given.strip():
        return parse_provider(given)
    parts = parsed_url(url)
    host = (parts.hostname or "").rstrip(".")
    path = parts.path.rstrip("/")
    if not host:
        return Provider.COMPATIBLE  # the client refuses it, naming URL
    if host.endswith(AZURE_HOST_SUFFIXES) or AZURE_CLASSIC_MARKER in parts.path:
        return Provider.AZURE
    for provider, official in HOSTS.items():
        if host == official:
            return provider
    if path.endswith("/v1/messages"):
        return Provider.ANTHROPIC
    return Provider.COMPATIBLE


def _path(url: str) -> str:
    try:
        return urlsplit(url).path
    except ValueError:
        return ""


def is_azure_classic(url: str) -> bool:
    """Whether ``url`` is an Azure deployment URL (``/openai/deployments/{name}/…``)."""
    return AZURE_CLASSIC_MARKER in _path(url)


def azure_deployment(url: str) -> str | None:
    """The deployment name in an Azure classic URL, else ``None``."""
    path = _path(url)
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
    """The auth header: ``api-key`` for Azure, ``x-api-key`` for Anthropic, else Bearer."""
    if provider is Provider.AZURE:
        return {"api-key": api_key}
    if provider is Provider.ANTHROPIC:
        return {"x-api-key": api_key}
    return {"Authorization": f"Bearer {api_key}"}


# --- one call's endpoint ----------------------------------------------------------------


class Endpoint(NamedTuple):
    """Where one call goes and how: resolved once by the call (``Call.endpoint``)."""

    provider: Provider
    url: str
    api_key: str
    options: CallOptions
    anthropic_version: str = "2023-06-01"
    prompt_cache: bool = True

    @property
    def label(self) -> str:
        """"Anthropic", or "the server at host" for a compatible server."""
        return LABELS.get(self.provider) or f"the server at {_host(self.url)}"


def _host(url: str) -> str:
    try:
        return urlsplit(url).netloc.rpartition("@")[2]
    except ValueError:
        return url


# --- what an adapter declares -----------------------------------------------------------


#: The OPENAICHAT features a capability table describes, in README order.
FEATURES = (
    "TEMPERATURE", "TOP_P", "FREQUENCY_PENALTY", "PRESENCE_PENALTY", "MAX_TOKENS",
    "NUMBER_OF_CHOICES", "json_object", "json_schema", "TOOLS", "TOOL_CHOICE_REQUIRED",
    "PARALLEL_TOOL", "REASONING_EFFORT", "RESULT_CACHED_TOKENS", "images", "PDF",
)
#: The sampling parameter each feature name stands for.
SAMPLING = {"TEMPERATURE": "temperature", "TOP_P": "top_p",
            "FREQUENCY_PENALTY": "frequency_penalty", "PRESENCE_PENALTY": "presence_penalty"}


class Capabilities(NamedTuple):
    """What a provider takes: for each feature of :data:`FEATURES`, how it is sent (a short
    text for the README table), or ``None`` when the provider does not have it; and the content
    part kinds (``text``, ``image``, ``pdf``) it carries natively."""

    features: Mapping[str, str | None]
    parts: frozenset[str] = frozenset({"text"})

    def supports(self, feature: str) -> bool:
        return self.features.get(feature) is not None


def check_sampling(request: ChatRequest, capabilities: Capabilities, provider: Provider
                   ) -> dict[str, float]:
    """The sampling parameters to send: an unsupported one at its API default is dropped
    silently; at any other value it is a 400 naming the parameter and the provider."""
    kept = {}
    for feature, name in SAMPLING.items():
        if name not in request.sampling:
            continue
        value = request.sampling[name]
        if capabilities.supports(feature):
            kept[name] = value
        elif value != SAMPLING_DEFAULTS[name]:
            raise ParameterError(
                f"{feature} is not supported by {LABELS.get(provider, provider.value)}; leave it "
                f"empty (or at its default {SAMPLING_DEFAULTS[name]:g}).", parameter=feature,
            )
    return kept


class Encoded(NamedTuple):
    """A request ready to send: URL, extra headers (auth included) and JSON body."""

    url: str
    headers: dict[str, str]
    body: dict[str, Any]
    json_tool: str | None = None  # the forced tool that carries a JSON answer, if any


# --- run-time lessons -------------------------------------------------------------------


class Adaptation(NamedTuple):
    """One change made to a chat body after the model rejected a parameter."""

    kind: Literal["rename", "drop", "json_tool"]
    param: str
    to: str | None = None

    def describe(self, model: str) -> str:
        """A log line, e.g. "model o3 does not take max_tokens; using max_completion_tokens"."""
        if self.kind == "rename":
            return f"model {model} does not take {self.param}; using {self.to}"
        if self.kind == "json_tool":
            return (f"model {model} does not take {self.param}; asking for the JSON through a "
                    "forced tool")
        return f"model {model} does not take {self.param}; sending it no more"


class ChatProfile(NamedTuple):
    """What a (host, model) was found to need: its token field, the parameters it rejects, and
    whether structured output must go through a forced tool (Anthropic models without it)."""

    token_field: str | None = None
    dropped: frozenset[str] = frozenset()
    json_tool: bool = False

    def learn(self, adaptation: Adaptation) -> ChatProfile:
        """This profile with ``adaptation`` remembered."""
        if adaptation.kind == "rename":
            return self._replace(token_field=adaptation.to)
        if adaptation.kind == "json_tool":
            return self._replace(json_tool=True)
        return self._replace(dropped=self.dropped | {adaptation.param})


class Profiles:
    """What each (host, model) was found to reject, kept for the process lifetime."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._profiles: dict[tuple[str, str], ChatProfile] = {}

    def get(self, key: tuple[str, str]) -> ChatProfile:
        with self._lock:
            return self._profiles.get(key, ChatProfile())

    def learn(self, key: tuple[str, str], adaptation: Adaptation) -> None:
        with self._lock:
            self._profiles[key] = self._profiles.get(key, ChatProfile()).learn(adaptation)


def model_key(url: str, model: str) -> tuple[str, str]:
    """(host, model) for remembering adaptations: Azure's deployment names the model."""
    try:
        host = (urlsplit(url).hostname or "").lower()
    except ValueError:
        host = ""
    return host, azure_deployment(url) or model

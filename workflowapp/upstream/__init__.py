"""The upstream layer: the HTTP client, the provider adapters and the chat sender.

Applications reach the network only through :class:`Client` (one per process); chat goes
through :func:`send_chat`, which encodes a neutral :class:`ChatRequest` with the provider's
adapter::

    result = send_chat(client, endpoint, request, profiles=profiles, log=log)

Failures arrive as :class:`~workflowapp.errors.UpstreamError` leaves (see :mod:`.errors`).
"""

from .chat import ChatRequest, ChatResult, Choice, ResponseFormat, Tool, Usage
from .client import USER_AGENT, CallOptions, Client, Response, host_allowed, safe_url
from .errors import ErrorInfo, parse_error_body, redact
from .policy import DEFAULT_MAX_RETRIES, MAX_RETRY_AFTER, Decision, evaluate
from .providers import Endpoint, Profiles, Provider, detect_provider
from .send import send_chat

__all__ = [
    "DEFAULT_MAX_RETRIES",
    "MAX_RETRY_AFTER",
    "USER_AGENT",
    "CallOptions",
    "ChatRequest",
    "ChatResult",
    "Choice",
    "Client",
    "Decision",
    "Endpoint",
    "ErrorInfo",
    "Profiles",
    "Provider",
    "ResponseFormat",
    "Response",
    "Tool",
    "Usage",
    "detect_provider",
    "evaluate",
    "host_allowed",
    "parse_error_body",
    "redact",
    "safe_url",
    "send_chat",
]

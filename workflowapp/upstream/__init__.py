"""The OpenAI-compatible HTTP client: timeouts, retries, providers, error translation.

Applications reach the network only through :class:`Client` (one per process)::

    client.chat(url, body, api_key=key, provider=detect_provider(url, given), options=CallOptions())

Failures arrive as :class:`~workflowapp.errors.UpstreamError` leaves (see :mod:`.errors`).
"""

from .client import USER_AGENT, CallOptions, Client, Response, host_allowed, safe_url
from .errors import ErrorInfo, parse_error_body, redact
from .policy import DEFAULT_MAX_RETRIES, MAX_RETRY_AFTER, Decision, evaluate
from .providers import Provider, detect_provider

__all__ = [
    "DEFAULT_MAX_RETRIES",
    "MAX_RETRY_AFTER",
    "USER_AGENT",
    "CallOptions",
    "Client",
    "Decision",
    "ErrorInfo",
    "Provider",
    "Response",
    "detect_provider",
    "evaluate",
    "host_allowed",
    "parse_error_body",
    "redact",
    "safe_url",
]

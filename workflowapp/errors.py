"""The error tree of workflowapp.

Every failure the host reports is an :class:`AppError`. Each leaf carries a stable, lower-case
``code`` (written to ``APP_RESPONSE_STATUS`` when the error never reached upstream), the HTTP
``status`` the host answers with when the error is not ignored, and a user-facing message that
WorkflowGen shows to the administrator. Messages never contain secrets or stack traces.

::

    AppError
    ├── ContextError             invalid_context        400  the posted context cannot be read
    ├── RequestTooLarge          request_too_large      413  body over WorkflowAppMaxRequestBytes
    ├── AuthenticationRequired   authentication_required 401 missing or wrong HTTP Basic credentials
    ├── UnknownApplication       unknown_application    404  no application of that name
    ├── ParameterError           invalid_parameter      400  a parameter value is not acceptable
    │   ├── MissingParameter     missing_parameter      400  a required parameter is absent
    │   ├── MissingApiKey        missing_api_key        400  no API_KEY and no OpenAIApiKey setting
    │   ├── UrlNotAllowed        url_not_allowed        400  URL host not allowed (AllowedHosts)
    │   ├── FileNotFound         file_not_found         400  FILE path missing or unreadable
    │   ├── FileNotAllowed       file_not_allowed       400  FILE outside WorkflowAppAllowedFolders
    │   └── FileTooLarge         file_too_large         400  FILE over the upstream limit
    ├── ConfigurationError       missing_setting        500  the host lacks a setting it needs
    └── UpstreamError            <HTTP status>          502  upstream answered an error status
        ├── RateLimited          <429>                  502  rate limited (retries exhausted)
        ├── QuotaExhausted       <429>                  502  insufficient_quota: billing, not a rate
        ├── ContentFiltered      content_filter         502  the provider's content filter fired
        ├── DeploymentNotFound   deployment_not_found   502  Azure: no deployment of that name
        ├── UpstreamTimeout      timeout                504  no answer within the timeout
        ├── UpstreamConnectionError connection_error    502  cannot connect / connection dropped
        ├── WorkflowGenApiError  workflowgen_error      502  WorkflowGen's GraphQL API refused
        └── BadUpstreamAnswer    invalid_response       502  an answer we cannot use
            ├── SchemaMismatch   schema_mismatch        502  JSON answer does not match the schema
            ├── Refusal          refusal                502  the model refused (message.refusal)
            └── Truncated        length                 502  finish_reason "length" on a JSON answer
"""

from __future__ import annotations

#: What every secret is replaced with in logs, errors, bodies and reprs.
REDACTED = "[REDACTED]"


class AppError(Exception):
    """Base of every error the host reports; ``message`` is shown to the user."""

    code: str = "error"
    status: int = 500

    def __init__(self, message: str, *, parameter: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.parameter = parameter

    @property
    def response_status(self) -> str:
        """Value for ``APP_RESPONSE_STATUS``: the stable code (upstream errors: the HTTP status)."""
        return self.code

    @property
    def response_content(self) -> str:
        """Value for ``APP_RESPONSE_CONTENT``: the message (upstream errors: the body)."""
        return self.message

    def __str__(self) -> str:
        return self.message


class ContextError(AppError):
    """The posted context cannot be read (malformed, hostile, wrong shape)."""

    code = "invalid_context"
    status = 400


class RequestTooLarge(AppError):
    """The request body exceeds ``WorkflowAppMaxRequestBytes``."""

    code = "request_too_large"
    status = 413


class AuthenticationRequired(AppError):
    """HTTP Basic credentials are required and were missing or wrong."""

    code = "authentication_required"
    status = 401


class TooManyAttempts(AppError):
    """Too many failed Basic-auth attempts from one client address: wait ``retry_after`` s."""

    code = "too_many_attempts"
    status = 429

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class BodyTimeout(AppError):
    """The client took longer than WorkflowAppBodyTimeout to send its request body."""

    code = "body_timeout"
    status = 408


class UnknownApplication(AppError):
    """No application is registered under the requested name."""

    code = "unknown_application"
    status = 404


class ParameterError(AppError):
    """A parameter value is not acceptable; the message names the parameter."""

    code = "invalid_parameter"
    status = 400


class MissingParameter(ParameterError):
    """A required parameter is absent or empty."""

    code = "missing_parameter"


class MissingApiKey(ParameterError):
    """Neither the ``API_KEY`` parameter nor the ``OpenAIApiKey`` setting is filled."""

    code = "missing_api_key"


class UrlNotAllowed(ParameterError):
    """A ``URL`` points to a host outside ``WorkflowAppAllowedHosts``."""

    code = "url_not_allowed"


class FileNotFound(ParameterError):
    """A FILE parameter names a file that does not exist or cannot be read."""

    code = "file_not_found"


class FileNotAllowed(ParameterError):
    """A FILE parameter names a file outside ``WorkflowAppAllowedFolders``."""

    code = "file_not_allowed"


class FileTooLarge(ParameterError):
    """A FILE parameter names a file over the upstream size limit."""

    code = "file_too_large"


class ConfigurationError(AppError):
    """The host lacks a setting the call needs; the message names the setting."""

    code = "missing_setting"
    status = 500


class UpstreamError(AppError):
    """Upstream answered with an error status (after retries, where retrying made sense).

    ``http_status`` is the upstream status, ``body`` the upstream body as received (for
    ``APP_RESPONSE_CONTENT``), ``upstream_code`` the provider's error code if any;
    ``retries``, ``request_id`` and ``duration_ms`` are metrics of the failed call.
    """

    code = "upstream_error"
    status = 502

    def __init__(
        self,
        message: str,
        *,
        http_status: int | None = None,
        body: str | None = None,
        upstream_code: str | None = None,
        request_id: str | None = None,
        retries: int = 0,
        duration_ms: float | None = None,
    ) -> None:
        super().__init__(message)
        self.http_status = http_status
        self.body = body
        self.upstream_code = upstream_code
        self.request_id = request_id
        self.retries = retries
        self.duration_ms = duration_ms

    @property
    def response_status(self) -> str:
        # A 2xx answer we cannot use (refusal, schema mismatch...) reports its code, not "200".
        if self.http_status is not None and self.http_status >= 300:
            return str(self.http_status)
        return self.code

    @property
    def response_content(self) -> str:
        return self.body if self.body else self.message


class RateLimited(UpstreamError):
    """Upstream kept answering 429 (rate limit) until the retries ran out."""

    code = "rate_limited"


class QuotaExhausted(UpstreamError):
    """Upstream answered 429 ``insufficient_quota``: a billing problem, never retried."""

    code = "quota_exhausted"


class ContentFiltered(UpstreamError):
    """The provider's content filter rejected the prompt or the completion."""

    code = "content_filter"


class DeploymentNotFound(UpstreamError):
    """Azure answered 404 ``DeploymentNotFound``: the URL names no deployment of the resource."""

    code = "deployment_not_found"


class UpstreamTimeout(UpstreamError):
    """Upstream did not answer within the timeout."""

    code = "timeout"
    status = 504


class UpstreamConnectionError(UpstreamError):
    """The connection to upstream could not be made or was dropped."""

    code = "connection_error"


class WorkflowGenApiError(UpstreamError):
    """WorkflowGen's GraphQL API answered an HTTP error or a GraphQL ``errors`` array."""

    code = "workflowgen_error"


class BadUpstreamAnswer(UpstreamError):
    """Upstream answered 2xx with something the application cannot use."""

    code = "invalid_response"


class SchemaMismatch(BadUpstreamAnswer):
    """The JSON answer does not match the given schema; the message names the field."""

    code = "schema_mismatch"


class Refusal(BadUpstreamAnswer):
    """The model refused to answer (``message.refusal``)."""

    code = "refusal"


class Truncated(BadUpstreamAnswer):
    """The answer was cut by the token limit (``finish_reason: length``)."""

    code = "length"


#: Every error code a caller may see in ``APP_RESPONSE_STATUS`` (besides upstream HTTP statuses).
ERROR_CODES: tuple[type[AppError], ...] = (
    ContextError,
    RequestTooLarge,
    BodyTimeout,
    AuthenticationRequired,
    TooManyAttempts,
    UnknownApplication,
    ParameterError,
    MissingParameter,
    MissingApiKey,
    UrlNotAllowed,
    FileNotFound,
    FileNotAllowed,
    FileTooLarge,
    ConfigurationError,
    RateLimited,
    QuotaExhausted,
    ContentFiltered,
    DeploymentNotFound,
    UpstreamTimeout,
    UpstreamConnectionError,
    WorkflowGenApiError,
    BadUpstreamAnswer,
    SchemaMismatch,
    Refusal,
    Truncated,
)

"""Running one application on one context: validation, outputs, and the ignore-error rule.

:func:`execute` is the single place where ``APP_RESPONSE_IGNORE_ERROR`` is applied, for every
application: with ``Y`` any :class:`AppError` becomes a normal reply whose
``APP_RESPONSE_STATUS``/``APP_RESPONSE_CONTENT`` describe it; otherwise the caller gets the
error and answers a short text with its HTTP status. Applications only read validated inputs
from a :class:`Call` and write outputs to it.
"""

from __future__ import annotations

import json
import logging
import math
import time
import uuid
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from .. import jsontext
from ..attachments import conceal_file_texts
from ..context._xml import NOT_XML
from ..context.model import SECRET_NAME, Context, DataType, FileRef, Format, Value
from ..context.values import parse_numeric
from ..errors import (
    REDACTED,
    AppError,
    ConfigurationError,
    ContextError,
    MissingApiKey,
    MissingParameter,
    ParameterError,
    UpstreamError,
)
from ..events import CallEnded, CallStarted, Events
from ..logs import app_logger, call_secrets, clip, max_bytes
from ..settings import NO, YES, Settings
from ..upstream import (
    CallOptions,
    ChatResult,
    Client,
    Endpoint,
    Profiles,
    Provider,
    Response,
    detect_provider,
)
from ..upstream.providers import LABELS, OPENAI_ENDPOINTS, parse_provider
from ..upstream.providers.base import parsed_url
from .registry import App, Param

#: The setting holding each provider's API key (API_KEY wins over it).
KEY_SETTINGS = {
    Provider.OPENAI: "OpenAIApiKey",
    Provider.ANTHROPIC: "AnthropicApiKey",
    Provider.MISTRAL: "MistralApiKey",
    Provider.GEMINI: "GeminiApiKey",
    Provider.AZURE: "OpenAIApiKey",
    Provider.COMPATIBLE: "OpenAIApiKey",
}


@dataclass
class Services:
    """What every call may use: the process's settings, its one upstream client, and the
    events hub its observers (access log, metrics) listen to."""

    settings: Settings
    client: Client
    events: Events = field(default_factory=Events)
    profiles: Profiles = field(default_factory=Profiles)  # what each (host, model) refused


@dataclass
class Metrics:
    """Upstream figures of one call, written to RESULT_RETRIES/_DURATION_MS/_REQUEST_ID."""

    retries: int = 0
    duration_ms: float = 0.0
    request_id: str | None = None
    status: int | None = None
    content: str | None = None
    provider: str | None = None  # the provider called (for metrics and the access log)
    model: str | None = None
    tokens: dict[str, int] = field(default_factory=dict)  # prompt / completion / cached


class InternalError(AppError):
    """An unexpected failure inside the host; details go to the log, never to the reply."""

    code = "internal_error"
    status = 500


@dataclass
class Call:
    """One run of an application: validated inputs in, outputs out."""

    app: App
    context: Context
    services: Services
    log: logging.Logger
    inputs: dict[str, Value] = field(default_factory=dict)
    outputs: dict[str, Value] = field(default_factory=dict)
    metrics: Metrics = field(default_factory=Metrics)

    # --- inputs -------------------------------------------------------------------------

    def validate(self) -> None:
        """Check each declared IN/INOUT parameter that was received, has a default or is
        required, in declaration order (the first declared problem is the one reported, whatever
        order the action sent its parameters in); the others stay absent. Before that, any
        received value holding a lone surrogate is refused (:func:`_check_characters`)."""
        _check_characters(self.context)
        for param in self.app.inputs:
            received = self.received(param.name)
            if received is None and param.default is None and not param.required:
                continue
            value = coerce_input(param, received)
            if value is None and param.default is not None:
                value = coerce_input(param, param.default)
            if value is None and param.required:
                raise MissingParameter(
                    f"Parameter {param.name} is required: {param.description}",
                    parameter=param.name,
                )
            self.inputs[param.name] = value

    def received(self, name: str) -> Value:
        """The raw value of a received IN/INOUT parameter (None when absent or OUT)."""
        parameter = self.context.get(name)
        return parameter.value if parameter is not None and parameter.is_input else None

    def text(self, name: str) -> str | None:
        """A validated TEXT input (None when absent and without default)."""
        value = self.inputs.get(name) if name in self.inputs else self.received(name)
        return to_text(value) if value is not None else None

    def number(self, name: str) -> float | None:
        """A validated NUMERIC input."""
        value = self.inputs.get(name)
        return value if isinstance(value, float) else None

    def flag(self, name: str) -> bool:
        """A validated Y/N input as a bool."""
        return self.inputs.get(name) == "Y"

    def file(self, name: str) -> FileRef | None:
        """A validated FILE input."""
        value = self.inputs.get(name)
        return value if isinstance(value, FileRef) else None

    def json_input(self, name: str) -> Any:
        """A TEXT input holding JSON, parsed; invalid JSON is an error naming the parameter."""
        text = self.text(name)
        if text is None:
            return None
        try:
            return jsontext.loads(text)
        except ValueError as exc:
            raise ParameterError(
                f"Parameter {name} is not valid JSON ({exc}).", parameter=name
            ) from None

    # --- outputs ------------------------------------------------------------------------

    def wants(self, name: str) -> bool:
        """Whether the action declared ``name`` as OUT or INOUT (worth computing)."""
        parameter = self.context.get(name)
        return parameter is not None and parameter.is_output

    def output_names(self) -> list[str]:
        """Names of every OUT/INOUT parameter the action declared, in received order."""
        return [p.name for p in self.context if p.is_output]

    def set(self, name: str, value: Any) -> bool:
        """Write an output, converted to the declared data type; ignored if not declared."""
        parameter = self.context.get(name)
        if parameter is None or not parameter.is_output:
            return False
        converted = to_type(value, parameter.data_type, name)
        if isinstance(converted, str) and self.context.format is not Format.JSON:
            converted = self._xml_safe(name, converted)
        self.outputs[name] = converted
        return True

    def _xml_safe(self, name: str, text: str) -> str:
        """XML 1.0 cannot carry some control characters (a model may emit them): each becomes
        U+FFFD rather than failing the whole reply; JSON contexts keep them as they are."""
        if not _has_match(text):
            return text
        cleaned, count = NOT_XML.subn("\ufffd", text)
        if count:
            self.log.info("%s: %d character(s) XML cannot carry replaced by U+FFFD", name, count)
        return cleaned

    # --- upstream -----------------------------------------------------------------------

    def api_key(self, provider: Provider) -> str:
        """API_KEY, else the provider's key setting; neither is a clear error saying what to
        fill, except for a compatible server, which may need no key (Ollama, a local vLLM)."""
        setting = KEY_SETTINGS[provider]
        key = self.text("API_KEY") or self.services.settings.get(setting)
        if key:
            return key
        if provider is Provider.COMPATIBLE:
            return ""
        raise MissingApiKey(
            f"No API key for {LABELS[provider]}: fill the API_KEY parameter of the action, or "
            f"the {setting} setting (web.config appSettings, .env or environment).",
            parameter="API_KEY",
        )

    def endpoint(
        self,
        setting: str,
        default: str,
        *,
        provider_urls: dict[Provider, tuple[str, str]] | None = None,
    ) -> Endpoint:
        """Where this call goes, with which provider, key and options.

        The URL: ``URL``; else, with PROVIDER (or the OpenAIProvider setting) naming a provider
        of ``provider_urls``, that provider's URL setting or default; else the application's
        URL ``setting``, else ``default``. The provider: PROVIDER, else detected from the URL.
        Without ``provider_urls`` (moderation, transcription) only OpenAI's endpoints exist:
        another provider is a 400 saying so.
        """
        settings = self.services.settings
        given = self.text("PROVIDER")
        chosen = parse_provider(given) if given and given.strip() else None
        setting_provider = settings.get("OpenAIProvider")
        if chosen is None and setting_provider and setting_provider.strip():
            chosen = parse_provider(setting_provider)
            if provider_urls is None and chosen not in OPENAI_ENDPOINTS:
                chosen = None  # the chat default: moderation/transcription detect from the URL
        url = self.text("URL")
        if url is None and chosen is not None and chosen in (provider_urls or {}):
            url_setting, url_default = (provider_urls or {})[chosen]
            url = settings.get(url_setting) or url_default
        url = url or settings.get(setting) or default
        parsed_url(url)
        provider = chosen or detect_provider(url)
        if provider_urls is None and provider not in OPENAI_ENDPOINTS:
            if chosen is None:
                raise ParameterError(
                    f"URL {url} is a {LABELS[provider]} endpoint, but {self.app.name} speaks "
                    "OpenAI's endpoints only (openai, azure or compatible).", parameter="URL",
                )
            raise ParameterError(
                f"{self.app.name} speaks OpenAI's endpoints only: PROVIDER {provider.value} is "
                "not possible here; use openai, azure or compatible.", parameter="PROVIDER",
            )
        self.metrics.provider = provider.value  # known even when the call fails
        endpoint = Endpoint(provider, url, self.api_key(provider), self.options())
        if provider is not Provider.ANTHROPIC:
            return endpoint
        cache = (settings.get("AnthropicPromptCache") or "Y").strip().lower()
        if cache not in YES | NO:
            raise ConfigurationError(
                f"The setting AnthropicPromptCache must be Y or N, not {cache!r}."
            )
        return endpoint._replace(anthropic_version=settings.get("AnthropicApiVersion")
                                 or "2023-06-01", prompt_cache=cache in YES)

    def options(self) -> CallOptions:
        """Timeouts and retries from the settings, overridden by TIMEOUT and MAX_RETRIES.

        The deadline bounds the whole call, retries and backoff included (TIMEOUT, else
        WorkflowAppDeadline); no single read waits longer than WorkflowAppReadTimeout.
        """
        settings = self.services.settings
        deadline = self.number("TIMEOUT") or settings.get_float("WorkflowAppDeadline")
        read_timeout = min(settings.get_float("WorkflowAppReadTimeout"), deadline)
        retries = self.number("MAX_RETRIES")
        return CallOptions(
            connect_timeout=min(settings.get_float("WorkflowAppConnectTimeout"), deadline),
            read_timeout=read_timeout,
            deadline=deadline,
            max_retries=int(retries) if retries is not None else settings.get_int(
                "WorkflowAppMaxRetries"
            ),
            max_retry_after=settings.get_float("WorkflowAppMaxRetryAfter"),
            azure_api_version=settings.get("AzureOpenAIApiVersion")
            or CallOptions.azure_api_version,
        )

    def record(self, response: Response) -> None:
        """Keep the figures of a successful upstream answer."""
        self.metrics.retries += response.retries
        self.metrics.duration_ms += response.duration_ms
        self.metrics.request_id = response.request_id or self.metrics.request_id
        self.metrics.status = response.status
        self.metrics.content = response.text

    def record_chat(self, endpoint: Endpoint, model: str, result: ChatResult) -> None:
        """Keep the figures of a chat answer, with its provider, model and tokens."""
        self.metrics.retries += result.retries
        self.metrics.duration_ms += result.duration_ms
        self.metrics.request_id = result.request_id or self.metrics.request_id
        self.metrics.status = result.status
        self.metrics.content = result.text
        self.metrics.provider = endpoint.provider.value
        self.metrics.model = model
        self.metrics.tokens = result.usage.as_metrics()

    def record_error(self, error: UpstreamError) -> None:
        """Keep the figures of a failed upstream call."""
        self.metrics.retries += error.retries
        self.metrics.duration_ms += error.duration_ms or 0.0
        self.metrics.request_id = error.request_id or self.metrics.request_id
        self.metrics.status = error.http_status or self.metrics.status


_SLICE = 1 << 18  # characters scanned between two yields to the event loop (~5 ms)


def _has_match(text: str) -> bool:
    """Whether ``text`` holds a character XML cannot carry; a long text is scanned a slice at a
    time with a yield in between (``time.sleep(0)`` is gevent's under its workers), so that a
    30 MB value does not stop the worker's other connections for a tenth of a second each."""
    if len(text) <= _SLICE:
        return NOT_XML.search(text) is not None
    for start in range(0, len(text), _SLICE):
        if NOT_XML.search(text, start, start + _SLICE):
            return True
        time.sleep(0)
    return False


def coerce_input(param: Param, value: Any) -> Value:
    """A received value checked and converted to the declared type (None = no value)."""
    if value is None or value == "":
        return None
    name = param.name
    if param.type is DataType.NUMERIC:
        return _check_number(param, _to_number(value, name))
    if param.type is DataType.DATETIME:
        return _to_datetime(value, name)
    if param.type is DataType.FILE:
        if isinstance(value, str):
            value = FileRef(path=value)
        if not isinstance(value, FileRef):
            raise ParameterError(f"Parameter {name} must be a FILE.", parameter=name)
        if "\x00" in value.path:  # no file system accepts it (open() would raise ValueError)
            raise ParameterError(
                f"Parameter {name}: a file path cannot contain a NUL character.", parameter=name
            )
        return value
    text = to_text(value)
    if param.yes_no:
        return yes_no(text, name)
    if param.choices is not None:
        lowered = text.strip().lower()
        if lowered not in param.choices:
            allowed = ", ".join(param.choices)
            raise ParameterError(
                f"Parameter {name} must be one of {allowed}, not {text!r}.", parameter=name
            )
        return lowered
    return text


def yes_no(text: str, name: str) -> str:
    """``Y`` or ``N`` from Y/N, yes/no, true/false, 1/0 (any case); else an error naming it."""
    lowered = text.strip().lower()
    if lowered in YES:
        return "Y"
    if lowered in NO:
        return "N"
    raise ParameterError(f"Parameter {name} must be Y or N, not {text!r}.", parameter=name)


def _to_number(value: Any, name: str) -> float:
    if isinstance(value, bool):
        raise ParameterError(f"Parameter {name} must be a number.", parameter=name)
    if isinstance(value, int | float):
        try:
            number = float(value)
        except OverflowError:
            raise ParameterError(f"Parameter {name} is too large a number.", parameter=name) \
                from None
    elif isinstance(value, str):
        try:
            number = parse_numeric(value.strip())
        except ValueError:
            raise ParameterError(
                f"Parameter {name} must be a number, not {value!r}.", parameter=name
            ) from None
    else:
        raise ParameterError(f"Parameter {name} must be a number.", parameter=name)
    if not math.isfinite(number):
        raise ParameterError(f"Parameter {name} must be a finite number.", parameter=name)
    return number


def _check_number(param: Param, number: float) -> float:
    low, high = param.minimum, param.maximum
    if (low is not None and number < low) or (high is not None and number > high):
        bounds = f"between {_fmt(low)} and {_fmt(high)}" if low is not None and high is not None \
            else (f"at least {_fmt(low)}" if low is not None else f"at most {_fmt(high)}")
        raise ParameterError(
            f"Parameter {param.name} must be {bounds}, not {_fmt(number)}.", parameter=param.name
        )
    if param.integer and number != int(number):
        raise ParameterError(
            f"Parameter {param.name} must be a whole number, not {_fmt(number)}.",
            parameter=param.name,
        )
    return number


def _fmt(number: float | None) -> str:
    if number is None:
        return ""
    return str(int(number)) if number == int(number) else repr(number)


def _to_datetime(value: Any, name: str) -> datetime:
    if isinstance(value, datetime):
        return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.strip().replace("z", "Z"))
        except ValueError:
            raise ParameterError(
                f"Parameter {name} must be a date and time (ISO 8601), not {value!r}.",
                parameter=name,
            ) from None
        return parsed.astimezone(UTC) if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    raise ParameterError(f"Parameter {name} must be a date and time.", parameter=name)


def to_text(value: Any) -> str:
    """The TEXT form of a value: numbers without a needless ``.0``, JSON for structures."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)  # exact: float() would round integers beyond 2**53
    if isinstance(value, float):
        return _fmt(value) if math.isfinite(value) else str(value)
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    if isinstance(value, FileRef):
        return value.path
    return json.dumps(value, ensure_ascii=False)


def to_type(value: Any, data_type: DataType, name: str) -> Value:
    """Convert an output value to the declared data type, or an error naming the parameter."""
    if value is None:
        return None
    if data_type is DataType.TEXT:
        return to_text(value) or None
    if data_type is DataType.NUMERIC:
        try:
            return _to_number(value, name)
        except ParameterError:
            raise ParameterError(
                f"OUT parameter {name} is NUMERIC but the value {to_text(value)[:80]!r} is not "
                "a number it can hold.",
                parameter=name,
            ) from None
    if data_type is DataType.DATETIME:
        try:
            return _to_datetime(value, name)
        except ParameterError:
            raise ParameterError(
                f"OUT parameter {name} is DATETIME but the value {to_text(value)[:80]!r} is "
                "not a date and time.",
                parameter=name,
            ) from None
    if isinstance(value, FileRef):
        return value
    raise ParameterError(f"OUT parameter {name} is FILE; only a file can be written to it.")


@dataclass
class Outcome:
    """The result of :func:`execute`: a reply context, or an error to answer with."""

    context: Context
    error: AppError | None = None

    @property
    def status(self) -> int:
        return self.error.status if self.error is not None else 200


def execute(app: App, context: Context, services: Services, *,
            client: str | None = None) -> Outcome:
    """Run ``app`` on ``context`` and apply the ignore-error rule; never raises AppError.

    Emits ``CallStarted`` and ``CallEnded`` (``client``: the caller's address, for the access
    log) to the services' events hub."""
    log = app_logger(app.name)
    key = context.get("API_KEY")
    events = services.events
    with call_secrets(key.value if key is not None and isinstance(key.value, str) else None):
        for parameter in context.parameters.values():
            if isinstance(parameter.value, str) and "[file: " in parameter.value:
                conceal_file_texts(parameter.value)  # an earlier call's attachments
        if log.isEnabledFor(logging.DEBUG):
            log.debug("request context: %s", loggable(context, app.secrets))
        call = Call(app, context, services, log)
        if events.active:
            events.emit(CallStarted(app.name))
        started = time.perf_counter()
        error = _run(call)
        outcome = _finish(call, error)
        elapsed = time.perf_counter() - started
        upstream = "no upstream answer" if call.metrics.status is None \
            else f"upstream {call.metrics.status}"
        log.info(
            "%s %s in %.1f ms (%s, %d retries)",
            app.name, "failed: " + error.code if error else "succeeded",
            elapsed * 1000, upstream, call.metrics.retries,
        )
        if events.active:
            events.emit(_ended(call, error, outcome, elapsed, client))
        if log.isEnabledFor(logging.DEBUG) and outcome.error is None:
            log.debug("reply context: %s", loggable(outcome.context, app.secrets))
        return outcome


def loggable(context: Context, secrets: frozenset[str]) -> str:
    """The parsed context re-rendered for a debug log: secret parameters (``API_KEY``, the
    application's declared secrets, any name shaped like one) blanked and each text value cut
    to ``WorkflowAppLogMaxBytes``, and the parameters past that size left out, not rendered.
    Never the received bytes: a key spelled otherwise on the wire (entities, split CDATA, JSON
    escapes) would pass a literal redaction."""
    from ..context import write_context

    shown = Context({}, dict(context.session), context.format, context.with_schema)
    size, limit = 0, max_bytes()
    for name, parameter in context.parameters.items():
        if size > limit:  # the rest would be cut: not rendered at all (74,000 parameters...)
            break
        value = parameter.value
        if value is not None and (name in secrets or SECRET_NAME.search(name)):
            blank = REDACTED if parameter.data_type is DataType.TEXT else None
            parameter = replace(parameter, value=blank)
        elif isinstance(value, str):
            value = clip(value)
            parameter = replace(parameter, value=value)
            size += len(value)
        shown.parameters[name] = parameter
        size += len(name) + 60  # the parameter's markup, roughly
    left = len(context.parameters) - len(shown.parameters)
    try:
        text = clip(write_context(shown).decode("utf-8"))
    except ContextError as exc:
        return f"(not shown: {exc})"
    if left:  # said first: the record's own cut falls on the document's end
        text = f"[{left} of {len(context.parameters)} parameters not logged: " \
            f"WorkflowAppLogMaxBytes] {text}"
    return text


def _ended(call: Call, error: AppError | None, outcome: Outcome, elapsed: float,
           client: str | None) -> CallEnded:
    """The ``CallEnded`` event of a finished call, from its outcome and upstream figures."""
    metrics = call.metrics
    return CallEnded(
        app=call.app.name,
        outcome="ok" if error is None else ("error" if outcome.error else "ignored_error"),
        code="ok" if error is None else error.code,
        http_status=outcome.status,
        duration_s=elapsed,
        client=client,
        upstream_status=metrics.status,
        retries=metrics.retries,
        provider=metrics.provider,
        model=metrics.model,
        tokens=dict(metrics.tokens),
    )


def _check_characters(context: Context) -> None:
    """Refuse an input whose text holds half of a UTF-16 surrogate pair (a JSON context can
    carry one as a ``\\uD800`` escape): no upstream request, file path or log can encode it."""
    for parameter in context.parameters.values():
        value = parameter.value
        if not parameter.is_input or not isinstance(value, str | FileRef):
            continue
        texts = [value] if isinstance(value, str) else \
            [value.path, value.name, value.content_type, value.description, value.original_path]
        lone = jsontext.lone_surrogate([text for text in texts if text])
        if lone is not None:
            raise ParameterError(
                f"Parameter {parameter.name} holds \\u{ord(lone):04x}, half of a UTF-16 "
                "surrogate pair, which is not a character: correct the data the action sends.",
                parameter=parameter.name,
            )


def _run(call: Call) -> AppError | None:
    try:
        call.validate()
        call.app.run(call)
    except UpstreamError as exc:
        call.record_error(exc)
        call.log.error("%s: %s", call.app.name, exc.message)
        return exc
    except AppError as exc:
        call.log.error("%s: %s", call.app.name, exc.message)
        return exc
    except Exception:
        reference = uuid.uuid4().hex[:12]
        logging.getLogger("workflowapp.host").exception("%s failed [%s]", call.app.name, reference)
        call.log.exception("%s failed [%s]", call.app.name, reference)
        return InternalError(
            f"{call.app.name} failed because of an internal error; the host log has the "
            f"details under reference {reference}."
        )
    return None


def _ignore_errors(call: Call) -> bool:
    raw = call.received("APP_RESPONSE_IGNORE_ERROR")
    try:
        return raw is not None and yes_no(to_text(raw), "APP_RESPONSE_IGNORE_ERROR") == "Y"
    except ParameterError:
        return False


def _finish(call: Call, error: AppError | None) -> Outcome:
    if error is not None and not _ignore_errors(call):
        return Outcome(call.context, error)
    if error is not None:
        call.outputs.clear()  # no half-filled results: only the error description
        _set_quietly(call, "APP_RESPONSE_STATUS", error.response_status)
        _set_quietly(call, "APP_RESPONSE_CONTENT", error.response_content)
    else:
        status = call.metrics.status
        _set_quietly(call, "APP_RESPONSE_STATUS", status if status is not None else 200)
        if call.metrics.content is not None and "APP_RESPONSE_CONTENT" not in call.outputs:
            _set_quietly(call, "APP_RESPONSE_CONTENT", call.metrics.content)
    if call.app.calls_upstream:
        _set_quietly(call, "RESULT_RETRIES", call.metrics.retries)
        _set_quietly(call, "RESULT_DURATION_MS", round(call.metrics.duration_ms, 3))
        _set_quietly(call, "RESULT_REQUEST_ID", call.metrics.request_id)
    _apply(call)
    return Outcome(call.context)


def _known_secrets(call: Call) -> list[str]:
    """The settings' secrets (every provider key, the host password) and this call's own
    (API_KEY and the application's declared secret inputs)."""
    known = call.services.settings.secrets()
    for name in call.app.secrets:
        if isinstance(value := call.received(name), str):
            known.append(value)
    return known


def redact_secrets(text: str, secrets: list[str]) -> str:
    """``text`` with each secret replaced, as written plainly or JSON-escaped (``\\/``,
    ``\\uXXXX``); only the secrets themselves, so a model's answer is otherwise untouched."""
    for spelling in _spellings(secrets):
        if spelling in text:
            text = text.replace(spelling, REDACTED)
    if "\\u" in text and text.lstrip()[:1] in ("{", "["):
        text = _redact_json_escapes(text, secrets)
    return text


def _spellings(secrets: list[str]) -> list[str]:
    """Each secret of 4 characters or more, plain and JSON-escaped, longest first."""
    found: set[str] = set()
    for secret in secrets:
        if len(secret) >= 4:
            escaped = json.dumps(secret)[1:-1]
            found.update((secret, escaped, escaped.replace("/", "\\/")))
    return sorted(found, key=len, reverse=True)


def _redact_json_escapes(text: str, secrets: list[str]) -> str:
    """A JSON text whose decoded strings hold a secret the raw text hides behind ``\\u``
    escapes: the document re-written with the secret replaced."""
    try:
        decoded = json.dumps(json.loads(text), ensure_ascii=False)
    except (ValueError, RecursionError):
        return text
    if not any(secret in decoded for secret in secrets if len(secret) >= 4):
        return text
    return redact_secrets(decoded, secrets)


def _set_quietly(call: Call, name: str, value: Any) -> None:
    """Set a status output; a type the value cannot take (a code into NUMERIC) leaves it empty."""
    try:
        call.set(name, value)
    except ParameterError:
        call.log.info("%s left empty: %r does not fit its data type", name, value)


def _apply(call: Call) -> None:
    """Write outputs into the context, every secret the host knows redacted from them (an
    upstream may echo a key), and blank secret inputs (API_KEY in every application)."""
    secrets = _known_secrets(call)
    spellings = _spellings(secrets)
    for name, value in call.outputs.items():
        if isinstance(value, str) and (
            any(spelling in value for spelling in spellings) or "\\u" in value
        ):
            value = redact_secrets(value, secrets)
        call.context.parameters[name].value = value
    for name in call.app.secrets:
        if (secret := call.context.get(name)) is not None:
            secret.value = None

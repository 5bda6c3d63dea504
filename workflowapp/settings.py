"""Settings: WorkflowGen-style ``appSettings`` read once per process, keys case-insensitive.

Precedence (first wins): environment variables, a ``.env`` file (python-dotenv; path from
``WORKFLOWAPP_ENV_FILE``, default ``./.env``), the ``<appSettings>`` of a ``web.config`` file
(path from ``WORKFLOWAPP_WEB_CONFIG``, default ``./web.config``), then built-in defaults. An IN
parameter of the same meaning (``API_KEY``, ``URL``...) wins over all of these; applications
resolve that themselves. .NET's ``appSettings`` look-ups ignore case, so ``OpenAiApiKey`` and
``OpenAIApiKey`` are the same key here too.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path

from lxml import etree

from .errors import REDACTED, ConfigurationError
from .kinds import (
    Addresses,
    Bind,
    Choice,
    FileOr,
    Folder,
    HostList,
    Kind,
    Level,
    Number,
    PathMap,
    PathMapping,
    Url,
    WorkerClass,
    parse_path_map,
    split_url,
    without_password,
)

#: Yes and no, as Y/N switches (AnthropicPromptCache, Y/N parameters) take them.
YES = frozenset({"y", "yes", "true", "1"})
NO = frozenset({"n", "no", "false", "0"})
#: On and off, as on/off settings (WorkflowAppMetrics, WORKFLOWAPP_PRELOAD...) take them.
ON = YES | {"on"}
OFF = NO | {"off"}
#: What WorkflowAppAccessLog takes for stderr.
ACCESS_LOG_STDERR = ON | {"stderr", "-"}
#: The providers a PROVIDER parameter or the OpenAIProvider setting may name (the values of
#: ``upstream.providers.Provider``, which the gunicorn master must not import: it loads ssl).
PROVIDERS = ("openai", "anthropic", "mistral", "gemini", "azure", "compatible")

#: Where a value came from, as ``workflowapp config`` shows it (first wins); ``computed``: a
#: value in force when the setting is not set, computed from the machine or other settings.
ENVIRONMENT, ENV_FILE, WEB_CONFIG, DEFAULT, COMPUTED = (
    "environment", ".env", "web.config", "default", "computed")


@dataclass(frozen=True)
class Setting:
    """One setting the host reads: its name (any case), older spellings, what its value must
    be (``kind``, checked at start-up), and whether it is a secret (redacted everywhere,
    masked by ``workflowapp config``).

    The value in force when it is not set: ``default`` (what :meth:`Settings.get` returns),
    else ``fallback`` (a value the code uses while ``get`` returns None, so that it can tell:
    an unset URL setting admits no host of its own), else ``computed`` from the settings."""

    name: str
    default: str | None = None
    secret: bool = False
    aliases: tuple[str, ...] = ()
    url: bool = False  # an endpoint whose host is allowed upstream by default
    description: str = ""
    kind: Kind | None = None
    fallback: str | None = None
    computed: Callable[[Settings], str] | None = None

    def shown(self, value: str) -> str:
        """``value`` as it may be printed: never a secret, nor a password inside a URL."""
        if self.secret:
            return "******** (secret)"
        return without_password(value) if isinstance(self.kind, Url) else value


_SECONDS = Number(0, 86400, whole=False, above=True)
_BYTES = Number(1)
_URL = Url()
_LEVEL = Level()
_SWITCH = Choice(ON | OFF, "on or off")

#: Every setting the host reads from web.config, .env or the environment, declared once:
#: defaults, what each value must be, redaction, the allow-list's URL settings, the start-up
#: check and ``workflowapp config`` all come from here. The applications' own settings
#: (``<App>LogLevel``, ``<App>MaxRequestBytes``) follow :data:`APP_SETTINGS`.
SCHEMA: tuple[Setting, ...] = (
    Setting("WorkflowAppLogPath", "./logs", kind=Folder(),
            description="folder of the daily log files"),
    Setting("WorkflowAppLogLevel", "1", kind=_LEVEL, description="the host's own log level, 0-3"),
    Setting("WorkflowAppMaxRequestBytes", "30000000", kind=_BYTES,
            description="largest request body"),
    Setting("WorkflowAppConnectTimeout", "5", kind=_SECONDS,
            description="seconds to connect upstream"),
    Setting("WorkflowAppReadTimeout", "600", kind=_SECONDS,
            description="seconds one upstream read may take"),
    Setting("WorkflowAppDeadline", "900", kind=_SECONDS,
            description="seconds one call may take in all"),
    Setting("WorkflowAppMaxRetries", "2", kind=Number(0, 10),
            description="retries of a failed upstream request"),
    Setting("WorkflowAppMaxRetryAfter", "120", kind=Number(0, 86400, whole=False),
            description="longest Retry-After honoured"),
    # urllib3 fills each host's pool with this many slots when it first connects there.
    Setting("WorkflowAppPoolSize", "1000", kind=Number(1, 100000),
            description="kept-alive connections per host"),
    Setting("WorkflowAppMaxFileBytes", "26214400", kind=_BYTES,
            description="largest FILE read (transcription)"),
    Setting("WorkflowAppMaxAttachmentBytes", "20971520", kind=_BYTES,
            description="largest single OPENAICHAT attachment"),
    Setting("WorkflowAppUsername", description="HTTP Basic user required on posts"),
    Setting("WorkflowAppPassword", secret=True, description="HTTP Basic password"),
    Setting("WorkflowAppAuthFailureLimit", "20", kind=Number(0),
            description="failed Basic-auth attempts per client address per minute before 429"),
    Setting("WorkflowAppAllowedHosts", kind=HostList(),
            computed=lambda settings: ",".join(sorted(settings.allowed_hosts)),
            description="upstream hosts a URL may name"),
    Setting("WorkflowAppPathMap", kind=PathMap(),
            description="WorkflowGen path prefix = local path; ..."),
    Setting("WorkflowAppAllowedFolders", description="folders FILE parameters may be read from"),
    Setting("WorkflowAppMetrics", "on", kind=_SWITCH,
            description="GET /metrics (Prometheus): on or off"),
    Setting("WorkflowAppAccessLog", "on",
            kind=FileOr(ACCESS_LOG_STDERR | OFF, "on (stderr), off or a file path"),
            description="one line per call: on, off or a file"),
    Setting("WorkflowAppBodyTimeout", "30", kind=_SECONDS,
            description="seconds a client may take to send a body"),
    Setting("WorkflowAppLogMaxBytes", "65536", kind=_BYTES,
            description="largest logged context or body at level 3"),
    Setting("WorkflowGenGraphqlUrl", kind=Url(credentials=False),
            description="WorkflowGen's GraphQL API (OPENAIADDMESSAGE)"),
    Setting("WorkflowGenUsername", description="WorkflowGen GraphQL user"),
    Setting("WorkflowGenPassword", secret=True, description="WorkflowGen GraphQL password"),
    Setting("OpenAIApiKey", secret=True, description="OpenAI, Azure or compatible API key"),
    Setting("OpenAIProvider", kind=Choice(frozenset(PROVIDERS), ", ".join(PROVIDERS)),
            description="default PROVIDER when a call gives none"),
    Setting("OpenAIChatApiUrl", url=True, kind=_URL,
            fallback="https://api.openai.com/v1/chat/completions",
            description="OPENAICHAT endpoint"),
    Setting("OpenAITranscriptionApiUrl", url=True, kind=_URL,
            fallback="https://api.openai.com/v1/audio/transcriptions",
            description="OPENAITRANSCRIPTION endpoint"),
    Setting("OpenAIModerationApiUrl", url=True, kind=_URL,
            fallback="https://api.openai.com/v1/moderations",
            description="OPENAIMODERATION endpoint"),
    Setting("AzureOpenAIApiVersion", "2024-10-21", description="api-version of Azure classic URLs"),
    Setting("AnthropicApiKey", secret=True, description="Anthropic API key"),
    Setting("AnthropicChatApiUrl", url=True, aliases=("AnthropicApiUrl",), kind=_URL,
            fallback="https://api.anthropic.com/v1/messages",
            description="Anthropic Messages endpoint"),
    Setting("AnthropicApiVersion", "2023-06-01", description="anthropic-version header"),
    Setting("AnthropicPromptCache", "Y", kind=Choice(YES | NO, "Y or N"),
            description="mark long system prompts/tools for caching"),
    Setting("MistralApiKey", secret=True, description="Mistral API key"),
    Setting("MistralChatApiUrl", url=True, kind=_URL,
            fallback="https://api.mistral.ai/v1/chat/completions",
            description="Mistral chat endpoint"),
    Setting("GeminiApiKey", secret=True, description="Gemini API key"),
    Setting("GeminiChatApiUrl", url=True, kind=_URL,
            fallback="https://generativelanguage.googleapis.com/v1beta/openai/chat/completions",
            description="Gemini OpenAI-compatible chat endpoint"),
)

#: The settings every application has, ``<App>`` standing for its log setting's stem
#: (``OpenAIChatLogLevel``, ``OpenAIChatMaxRequestBytes``): see :func:`declaration`.
APP_SETTINGS: tuple[Setting, ...] = (
    Setting("<App>LogLevel", fallback="0", kind=_LEVEL, description="the application's log level"),
    Setting("<App>MaxRequestBytes", kind=_BYTES, description="a lower limit for one application"),
)

#: The files the settings come from: read from the process environment only.
FILES: tuple[Setting, ...] = (
    Setting("WORKFLOWAPP_WEB_CONFIG", fallback="web.config", description="the web.config read"),
    Setting("WORKFLOWAPP_ENV_FILE", fallback=".env", description="the .env file read"),
    Setting("WORKFLOWAPP_GUNICORN_CONF",
            description="a gunicorn configuration of your own (default: the packaged one)"),
)

#: The server's variables, read by the packaged gunicorn configuration
#: (``workflowapp/gunicorn_conf.py``, which documents each) like the settings: environment,
#: .env, web.config. The values in force when unset are that configuration's (waitress, on
#: Windows, has its own).
SERVER: tuple[Setting, ...] = (
    Setting("WORKFLOWAPP_BIND", fallback="0.0.0.0:8000", kind=Bind()),
    Setting("WORKFLOWAPP_WORKERS", kind=Number(1),
            computed=lambda settings: str(os.cpu_count() or 1)),
    Setting("WORKFLOWAPP_WORKER_CLASS", fallback="gevent", kind=WorkerClass(
        ("gevent", "gevent_pywsgi", "gevent_wsgi", "gthread", "sync"))),
    Setting("WORKFLOWAPP_WORKER_CONNECTIONS", fallback="1000", kind=Number(1)),
    Setting("WORKFLOWAPP_THREADS", fallback="1", kind=Number(1)),
    Setting("WORKFLOWAPP_TIMEOUT", fallback="960", kind=Number(0)),
    Setting("WORKFLOWAPP_GRACEFUL_TIMEOUT", fallback="120", kind=Number(0)),
    Setting("WORKFLOWAPP_KEEPALIVE", fallback="5", kind=Number(0)),
    Setting("WORKFLOWAPP_PRELOAD", fallback="0", kind=_SWITCH),
    Setting("WORKFLOWAPP_ACCESSLOG", kind=FileOr(frozenset({"-"}), "- (stdout) or a file path")),
    Setting("WORKFLOWAPP_FORWARDED_ALLOW_IPS", fallback="127.0.0.1,::1", kind=Addresses()),
    Setting("WORKFLOWAPP_GUNICORN_LOGLEVEL", fallback="info", kind=Choice(
        frozenset({"debug", "info", "warning", "error", "critical"}),
        "debug, info, warning, error or critical")),
)

#: The upper-case variables (files and server): known to the start-up check, which suggests
#: the closest on a typo.
VARIABLES: tuple[Setting, ...] = (*FILES, *SERVER)

_BY_NAME: dict[str, Setting] = {
    spelling.lower(): setting
    for setting in (*SCHEMA, *VARIABLES)
    for spelling in (setting.name, *setting.aliases)
}

#: Built-in defaults (application settings default in their declarations).
DEFAULTS: dict[str, str] = {s.name: s.default for s in SCHEMA if s.default is not None}

#: URL settings whose hosts are allowed upstream by default.
URL_SETTINGS = tuple(s.name for s in SCHEMA if s.url)

#: Settings whose values are secrets: redacted from every log line and error.
SECRET_SETTINGS = tuple(s.name for s in SCHEMA if s.secret)


#: The default WorkflowAppAllowedHosts: the providers' official hosts (https only).
PROVIDER_HOSTS = ("api.openai.com", "api.anthropic.com", "api.mistral.ai",
                  "generativelanguage.googleapis.com")


def declared(name: str) -> Setting | None:
    """The declaration of a setting or variable by any of its spellings (any case), else
    None."""
    return _BY_NAME.get(name.lower())


def declaration(name: str) -> Setting | None:
    """:func:`declared`, else for a ``<App>LogLevel`` or ``<App>MaxRequestBytes`` name (of
    any application: the gunicorn master cannot list them without importing them all) that
    template under this name."""
    found = declared(name)
    if found is not None or "_" in name:
        return found
    for template in APP_SETTINGS:
        suffix = template.name.removeprefix("<App>").lower()
        if name.lower().endswith(suffix) and len(name) > len(suffix):
            return replace(template, name=name)
    return None


def fallback(name: str) -> str:
    """The value a setting falls back to when unset (the URL settings' default endpoints)."""
    setting = declared(name)
    if setting is None or setting.fallback is None:
        raise KeyError(f"{name} declares no fallback")
    return setting.fallback


def known_names(log_settings: tuple[str, ...] = ()) -> frozenset[str]:
    """Every spelling the host reads, lower-cased: the schema, the upper-case variables, the
    applications' log-level settings (``log_settings``) and each application's
    ``<App>MaxRequestBytes`` limit."""
    names = set(_BY_NAME)
    for log_setting in log_settings:
        names.add(log_setting.lower())
        names.add(log_setting.lower().removesuffix("loglevel") + "maxrequestbytes")
    return frozenset(names)


def refused(name: str, value: str, expected: str, origin: str | None = None) -> str:
    """The message for a value its setting does not take: the setting, where it was set, the
    value (never a secret's, nor a URL's password) and what is expected."""
    setting = declaration(name)
    where = f" (in {origin})" if origin else ""
    if setting is not None and setting.secret:
        return f"{name}{where}: {expected} (the value is a secret: not shown)."
    shown = setting.shown(value) if setting is not None else value
    return f"{name} = {shown!r}{where}: {expected}."


class Settings:
    """An immutable, case-insensitive view of the merged settings."""

    def __init__(
        self,
        values: Mapping[str, str] | None = None,
        sources: Mapping[str, tuple[str, str]] | None = None,
    ) -> None:
        merged = {key.lower(): value for key, value in DEFAULTS.items()}
        self._spellings = {key.lower(): key for key in DEFAULTS}
        for key, value in (values or {}).items():
            merged[key.lower()] = value
            self._spellings[key.lower()] = key
        for setting in SCHEMA:  # an older spelling counts when the name itself is not set
            for alias in setting.aliases:
                if merged.get(alias.lower()) and not merged.get(setting.name.lower()):
                    merged[setting.name.lower()] = merged[alias.lower()]
        self._values = merged
        #: lower-cased name -> (the name as spelled where it was found, that source)
        self.sources: dict[str, tuple[str, str]] = dict(sources or {})
        self._numbers: dict[str, float] = {}  # get_float's parses: settings never change

    @classmethod
    def load(
        cls,
        environ: Mapping[str, str] | None = None,
        *,
        env_file: str | os.PathLike[str] | None = None,
        web_config: str | os.PathLike[str] | None = None,
    ) -> Settings:
        """Read web.config, then .env, then the environment (later sources win), remembering
        where each value came from (:attr:`sources`)."""
        environ = os.environ if environ is None else environ
        env_path = Path(env_file or _file_variable(environ, "WORKFLOWAPP_ENV_FILE"))
        config_path = Path(web_config or _file_variable(environ, "WORKFLOWAPP_WEB_CONFIG"))
        values: dict[str, str] = {}
        sources: dict[str, tuple[str, str]] = {}
        for origin, pairs in ((WEB_CONFIG, read_web_config(config_path)),
                              (ENV_FILE, read_env_file(env_path)), (ENVIRONMENT, environ)):
            for key, value in pairs.items():
                values[key.lower()] = value
                sources[key.lower()] = (key, origin)
        return cls(values, sources)

    def source(self, key: str) -> str:
        """Where the value of ``key`` came from: environment, .env, web.config or default
        (an older spelling's source when the value came through an alias)."""
        found = self.sources.get(key.lower())
        if found is not None:
            return found[1]
        setting = declared(key)
        for alias in setting.aliases if setting else ():
            if alias.lower() in self.sources:
                return self.sources[alias.lower()][1]
        return DEFAULT

    def names(self) -> list[str]:
        """Every name that has a value (defaults included), spelled as where it was set."""
        return [self.sources.get(key, (self._spellings.get(key, key), ""))[0]
                for key in self._values]

    def get(self, key: str, default: str | None = None) -> str | None:
        """The value of ``key`` (any case); empty or blank values count as absent."""
        value = self._values.get(key.lower())
        return value if value is not None and value.strip() else default

    def in_force(self, key: str) -> tuple[str | None, str]:
        """The value the host uses for ``key`` and where it came from: its value and source
        when set, else its declaration's default (``default``) or computed value
        (``computed``); None when it has neither."""
        value = self.get(key)
        if value is not None:
            return value, self.source(key)
        setting = declaration(key)
        if setting is None:
            return None, DEFAULT
        if setting.computed is not None:
            return setting.computed(self), COMPUTED
        return setting.default or setting.fallback, DEFAULT

    def get_float(self, key: str) -> float:
        """A numeric setting, parsed as its declaration says (:class:`~.kinds.Number`: the
        start-up check parses it the same way); its default when unset or empty; a value it
        refuses is a :class:`ConfigurationError` naming the setting and what is expected."""
        number = self._numbers.get(key)
        if number is None:
            number = self._numbers[key] = self._number(key)
        return number

    def get_int(self, key: str) -> int:
        """A whole-number setting (see :meth:`get_float`)."""
        if not _number_kind(key).whole:
            raise TypeError(f"{key} is declared as a number, not as a whole number")
        return int(self.get_float(key))

    def _number(self, key: str) -> float:
        kind = _number_kind(key)
        raw, _ = self.in_force(key)
        if raw is None:
            raise ConfigurationError(f"Setting {key} is not set.")
        try:
            return kind.parse(raw)
        except ValueError as exc:
            raise ConfigurationError(refused(key, raw, str(exc))) from None

    def get_list(self, key: str, separator: str) -> list[str]:
        """A separated list setting, items stripped, empty items dropped."""
        raw = self.get(key) or ""
        return [item.strip() for item in raw.split(separator) if item.strip()]

    @property
    def max_request_bytes(self) -> int:
        """Largest accepted request body (``WorkflowAppMaxRequestBytes``)."""
        return self.get_int("WorkflowAppMaxRequestBytes")

    @functools.cached_property  # read on every request; settings never change
    def credentials(self) -> tuple[str, str] | None:
        """HTTP Basic credentials required on posts, or None when not configured."""
        user = self.get("WorkflowAppUsername")
        password = self.get("WorkflowAppPassword")
        if user is None and password is None:
            return None
        return user or "", password or ""

    @property
    def allowed_hosts(self) -> frozenset[str]:
        """Where a URL may point: ``WorkflowAppAllowedHosts`` (default: the official https
        hosts of OpenAI, Anthropic, Mistral and Gemini) plus the scheme, host and port of every
        configured URL setting."""
        entries = set(self.get_list("WorkflowAppAllowedHosts", ",") or PROVIDER_HOSTS)
        for key in URL_SETTINGS:
            url = self.get(key)
            parts = split_url(url) if url else None  # a bad URL: refused by the start-up check
            if parts is not None and parts.hostname:
                port = f":{parts.port}" if parts.port else ""
                entries.add(f"{parts.scheme.lower()}://{parts.hostname.lower()}{port}")
        return frozenset(entry.lower() for entry in entries)

    @functools.cached_property  # read for every FILE parameter; a bad entry raises each time
    def path_map(self) -> tuple[PathMapping, ...]:
        """``WorkflowAppPathMap`` entries (``from=to;from=to``), longest prefix first."""
        raw = self.get("WorkflowAppPathMap") or ""
        try:
            return parse_path_map(raw)
        except ValueError as exc:
            raise ConfigurationError(refused("WorkflowAppPathMap", raw, str(exc))) from None

    @property
    def allowed_folders(self) -> list[str]:
        """``WorkflowAppAllowedFolders``: local folders FILE parameters may be read from."""
        return self.get_list("WorkflowAppAllowedFolders", ";")

    def secrets(self) -> list[str]:
        """The secret values among the settings, for redaction."""
        return [value for key in SECRET_SETTINGS if (value := self.get(key))]

    def __repr__(self) -> str:
        secret_keys = {key.lower() for key in SECRET_SETTINGS}
        shown = {
            key: (REDACTED if key in secret_keys or "key" in key else value)
            for key, value in self._values.items()
        }
        return f"Settings({shown!r})"


def _number_kind(key: str) -> Number:
    """How a numeric setting is parsed; a TypeError for a name not declared as a number."""
    setting = declaration(key)
    if setting is None or not isinstance(setting.kind, Number):
        raise TypeError(f"{key} is not declared as a numeric setting")
    return setting.kind


def _file_variable(environ: Mapping[str, str], name: str) -> str:
    """Where a settings file is: its variable in the process environment, else its default."""
    setting = declared(name)
    return environ.get(name) or (setting.fallback if setting and setting.fallback else "")


def read_env_file(path: Path) -> dict[str, str]:
    """The key/value pairs of a .env file (none when it does not exist)."""
    if not path.is_file():
        return {}
    from dotenv import dotenv_values  # only when there is a file: ~5 ms of every cold start

    return {key: value for key, value in dotenv_values(path).items() if value is not None}


_SAFE_PARSER = etree.XMLParser(
    resolve_entities=False, no_network=True, load_dtd=False, remove_comments=True
)


def read_web_config(path: Path) -> dict[str, str]:
    """The ``<appSettings><add key value/>`` pairs of an IIS web.config (none when absent)."""
    if not path.is_file():
        return {}
    try:
        root = etree.parse(str(path), _SAFE_PARSER).getroot()
    except (etree.XMLSyntaxError, OSError) as exc:
        raise ConfigurationError(f"Cannot read {path}: {exc}") from None
    if root is None:
        return {}
    pairs: dict[str, str] = {}
    for add in root.iterfind(".//appSettings/add"):
        key = add.get("key")
        if key:
            pairs[key] = add.get("value") or ""
    return pairs


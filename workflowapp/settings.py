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
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import SplitResult, urlsplit

from lxml import etree

from .errors import REDACTED, ConfigurationError


@dataclass(frozen=True)
class Setting:
    """One setting the host reads: its name (any case), older spellings, default, and whether
    its value is a secret (redacted everywhere, masked by ``workflowapp config``)."""

    name: str
    default: str | None = None
    secret: bool = False
    aliases: tuple[str, ...] = ()
    url: bool = False  # an endpoint whose host is allowed upstream by default
    description: str = ""


#: Every setting the host knows, declared once: defaults, redaction, the allow-list's URL
#: settings, the start-up check of unknown names and ``workflowapp config`` all come from here.
#: The application log levels come from the applications' declarations
#: (``App.log_setting``) and are added by :func:`known_names`.
SCHEMA: tuple[Setting, ...] = (
    Setting("WorkflowAppLogPath", "./logs", description="folder of the daily log files"),
    Setting("WorkflowAppLogLevel", "1", description="the host's own log level, 0-3"),
    Setting("WorkflowAppMaxRequestBytes", "30000000", description="largest request body"),
    Setting("WorkflowAppConnectTimeout", "5", description="seconds to connect upstream"),
    Setting("WorkflowAppReadTimeout", "600", description="seconds one upstream read may take"),
    Setting("WorkflowAppDeadline", "900", description="seconds one call may take in all"),
    Setting("WorkflowAppMaxRetries", "2", description="retries of a failed upstream request"),
    Setting("WorkflowAppMaxRetryAfter", "120", description="longest Retry-After honoured"),
    Setting("WorkflowAppPoolSize", "1000", description="kept-alive connections per host"),
    Setting("WorkflowAppMaxFileBytes", "26214400", description="largest FILE read (transcription)"),
    Setting("WorkflowAppMaxAttachmentBytes", "20971520",
            description="largest single OPENAICHAT attachment"),
    Setting("WorkflowAppUsername", description="HTTP Basic user required on posts"),
    Setting("WorkflowAppPassword", secret=True, description="HTTP Basic password"),
    Setting("WorkflowAppAuthFailureLimit", "20",
            description="failed Basic-auth attempts per client address per minute before 429"),
    Setting("WorkflowAppAllowedHosts", description="upstream hosts a URL may name"),
    Setting("WorkflowAppPathMap", description="WorkflowGen path prefix = local path; ..."),
    Setting("WorkflowAppAllowedFolders", description="folders FILE parameters may be read from"),
    Setting("WorkflowAppMetrics", "on", description="GET /metrics (Prometheus): on or off"),
    Setting("WorkflowAppAccessLog", "on", description="one line per call: on, off or a file"),
    Setting("WorkflowAppBodyTimeout", "30", description="seconds a client may take to send a body"),
    Setting("WorkflowAppLogMaxBytes", "65536",
            description="largest logged context or body at level 3"),
    Setting("WorkflowGenGraphqlUrl", description="WorkflowGen's GraphQL API (OPENAIADDMESSAGE)"),
    Setting("WorkflowGenUsername", description="WorkflowGen GraphQL user"),
    Setting("WorkflowGenPassword", secret=True, description="WorkflowGen GraphQL password"),
    Setting("OpenAIApiKey", secret=True, description="OpenAI, Azure or compatible API key"),
    Setting("OpenAIProvider", description="default PROVIDER when a call gives none"),
    Setting("OpenAIChatApiUrl", url=True, description="OPENAICHAT endpoint"),
    Setting("OpenAITranscriptionApiUrl", url=True, description="OPENAITRANSCRIPTION endpoint"),
    Setting("OpenAIModerationApiUrl", url=True, description="OPENAIMODERATION endpoint"),
    Setting("AzureOpenAIApiVersion", "2024-10-21", description="api-version of Azure classic URLs"),
    Setting("AnthropicApiKey", secret=True, description="Anthropic API key"),
    Setting("AnthropicChatApiUrl", url=True, aliases=("AnthropicApiUrl",),
            description="Anthropic Messages endpoint"),
    Setting("AnthropicApiVersion", "2023-06-01", description="anthropic-version header"),
    Setting("AnthropicPromptCache", "Y", description="mark long system prompts/tools for caching"),
    Setting("MistralApiKey", secret=True, description="Mistral API key"),
    Setting("MistralChatApiUrl", url=True, description="Mistral chat endpoint"),
    Setting("GeminiApiKey", secret=True, description="Gemini API key"),
    Setting("GeminiChatApiUrl", url=True, description="Gemini OpenAI-compatible chat endpoint"),
)

_BY_NAME: dict[str, Setting] = {
    spelling.lower(): setting
    for setting in SCHEMA
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
    """The declaration of a setting by any of its spellings (any case), else None."""
    return _BY_NAME.get(name.lower())


def known_names(log_settings: tuple[str, ...] = ()) -> frozenset[str]:
    """Every spelling the host reads, lower-cased: the schema, the applications' log-level
    settings (``log_settings``) and each application's ``<App>MaxRequestBytes`` limit."""
    names = set(_BY_NAME)
    for log_setting in log_settings:
        names.add(log_setting.lower())
        names.add(log_setting.lower().removesuffix("loglevel") + "maxrequestbytes")
    return frozenset(names)


@dataclass(frozen=True)
class PathMapping:
    """One ``WorkflowAppPathMap`` entry: WorkflowGen's path prefix -> this host's path."""

    source: str
    target: str


class Settings:
    """An immutable, case-insensitive view of the merged settings."""

    def __init__(self, values: Mapping[str, str] | None = None) -> None:
        merged = {key.lower(): value for key, value in DEFAULTS.items()}
        for key, value in (values or {}).items():
            merged[key.lower()] = value
        for setting in SCHEMA:  # an older spelling counts when the name itself is not set
            for alias in setting.aliases:
                if merged.get(alias.lower()) and not merged.get(setting.name.lower()):
                    merged[setting.name.lower()] = merged[alias.lower()]
        self._values = merged
        self._numbers: dict[str, float] = {}  # get_float's parses: settings never change

    @classmethod
    def load(
        cls,
        environ: Mapping[str, str] | None = None,
        *,
        env_file: str | os.PathLike[str] | None = None,
        web_config: str | os.PathLike[str] | None = None,
    ) -> Settings:
        """Read web.config, then .env, then the environment (later sources win)."""
        environ = os.environ if environ is None else environ
        env_path = Path(env_file or environ.get("WORKFLOWAPP_ENV_FILE") or ".env")
        config_path = Path(web_config or environ.get("WORKFLOWAPP_WEB_CONFIG") or "web.config")
        values: dict[str, str] = {}
        for source in (read_web_config(config_path), read_env_file(env_path), environ):
            values.update({key.lower(): value for key, value in source.items()})
        return cls(values)

    def get(self, key: str, default: str | None = None) -> str | None:
        """The value of ``key`` (any case); empty values count as absent."""
        value = self._values.get(key.lower())
        return value if value not in (None, "") else default

    def get_float(self, key: str) -> float:
        """A numeric setting; a non-numeric value is a clear configuration error."""
        number = self._numbers.get(key)
        if number is not None:
            return number
        raw = self.get(key)
        try:
            number = float(raw) if raw is not None else float("nan")
        except ValueError:
            raise ConfigurationError(f"Setting {key} must be a number, not {raw!r}.") from None
        self._numbers[key] = number
        return number

    def get_int(self, key: str) -> int:
        """An integer setting; a non-integer value is a clear configuration error."""
        value = self.get_float(key)
        if value != value or value != int(value):
            raise ConfigurationError(f"Setting {key} must be a whole number.")
        return int(value)

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
            parts = urlsplit(url) if url else None
            if parts is not None and parts.hostname:
                port = f":{parts.port}" if _port(parts) else ""
                entries.add(f"{parts.scheme.lower()}://{parts.hostname.lower()}{port}")
        return frozenset(entry.lower() for entry in entries)

    @functools.cached_property  # read for every FILE parameter; a bad entry raises each time
    def path_map(self) -> tuple[PathMapping, ...]:
        """``WorkflowAppPathMap`` entries (``from=to;from=to``), longest prefix first."""
        entries = []
        for item in self.get_list("WorkflowAppPathMap", ";"):
            source, sep, target = item.partition("=")
            if not sep or not source.strip() or not target.strip():
                raise ConfigurationError(
                    f"WorkflowAppPathMap entry {item!r} must look like 'from=to'."
                )
            entries.append(PathMapping(source.strip(), target.strip()))
        return tuple(sorted(entries, key=lambda entry: len(entry.source), reverse=True))

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


def _port(parts: SplitResult) -> int | None:
    """The explicit port of a URL, None when absent or malformed (the URL fails later, clearly)."""
    try:
        return parts.port
    except ValueError:
        return None


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


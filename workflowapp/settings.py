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

#: Built-in defaults of the host settings (application settings default in their declarations).
DEFAULTS: dict[str, str] = {
    "WorkflowAppLogPath": "./logs",
    "WorkflowAppMaxRequestBytes": "30000000",
    "WorkflowAppLogLevel": "1",
    "WorkflowAppConnectTimeout": "5",
    "WorkflowAppReadTimeout": "600",
    "WorkflowAppDeadline": "900",
    "WorkflowAppMaxRetries": "2",
    "WorkflowAppMaxRetryAfter": "120",
    "WorkflowAppPoolSize": "1000",
    "WorkflowAppMaxFileBytes": "26214400",
    "AzureOpenAIApiVersion": "2024-10-21",
}

#: URL settings whose hosts are allowed upstream by default (with ``api.openai.com``).
URL_SETTINGS = (
    "OpenAIChatApiUrl",
    "OpenAITranscriptionApiUrl",
    "OpenAIModerationApiUrl",
)

#: Settings whose values are secrets: redacted from every log line and error.
SECRET_SETTINGS = ("OpenAIApiKey", "WorkflowAppPassword", "WorkflowGenPassword")


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
        """Where a URL may point: ``WorkflowAppAllowedHosts`` (default ``api.openai.com``) plus
        the scheme, host and port of every configured URL setting."""
        entries = set(self.get_list("WorkflowAppAllowedHosts", ",") or ["api.openai.com"])
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


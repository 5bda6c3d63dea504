"""The start-up check of the configuration: typos warned about; a half-set credential pair and
any value the host could not use refused.

A setting whose name looks like one of ours (prefixes ``WorkflowApp``, ``WorkflowGen``,
``OpenAI``, ``Anthropic``, ``Mistral``, ``Gemini``, or ending in ``LogLevel``) but is not a
name the host reads is most likely a typo that silently leaves the default in force: the check
names the closest known spelling (difflib). The SDKs' own variables (``OPENAI_API_KEY``...) are
not read by the host either, which surprises everyone once. ``WorkflowAppUsername`` without
``WorkflowAppPassword`` (or the reverse) would refuse every post: the host refuses to start.
So it does when a value is not what its setting's declared kind expects (a number out of range,
an access-log file in a missing folder, a bad bind address...: :mod:`workflowapp.kinds`), which
would otherwise end in a traceback in gunicorn or in every worker, restarted in a loop. A log
level other than 0-3 is only warned about: the applications have always read it leniently.
Used by ``create_app`` (each worker logs the warnings), by gunicorn's master (the refusal, as its
configuration loads, and the exposure warning) and by ``workflowapp config``.
"""

from __future__ import annotations

import difflib
import ipaddress

from .kinds import Level
from .settings import (
    DEFAULT,
    ENVIRONMENT,
    FILES,
    SCHEMA,
    VARIABLES,
    Setting,
    Settings,
    declaration,
    declared,
    refused,
)

PREFIXES = ("workflowapp", "workflowgen", "openai", "anthropic", "mistral", "gemini")

#: The providers' SDK variables, which the host does not read, and the setting to use instead.
SDK_VARIABLES = {
    "openai_api_key": "OpenAIApiKey",
    "anthropic_api_key": "AnthropicApiKey",
    "mistral_api_key": "MistralApiKey",
    "gemini_api_key": "GeminiApiKey",
}


def spellings(log_settings: tuple[str, ...] = ()) -> dict[str, str]:
    """Every name the host reads, lower-cased -> its documented spelling."""
    names = [spelling for s in SCHEMA for spelling in (s.name, *s.aliases)]
    for log_setting in log_settings:
        names += [log_setting, log_setting.removesuffix("LogLevel") + "MaxRequestBytes"]
    return {name.lower(): name for name in names}


def looks_like_ours(name: str) -> bool:
    """Whether a name is probably meant for this host (see the module docstring)."""
    lowered = name.lower()
    if "_" in lowered:  # environment-style names: only the host's own family
        return lowered.startswith("workflowapp_")
    return lowered.startswith(PREFIXES) or lowered.endswith("loglevel")


def unknown_settings(settings: Settings, log_settings: tuple[str, ...] = ()) -> list[str]:
    """One warning per unknown name that looks like ours, and per SDK variable that is set."""
    known = spellings(log_settings)
    environment_only = {setting.name.lower(): setting.name for setting in VARIABLES}
    warnings = []
    for lowered, (name, origin) in sorted(settings.sources.items()):
        if lowered in SDK_VARIABLES:
            warnings.append(
                f"{name} (in {origin}) is the provider SDK's variable; the host does not read "
                f"it: set {SDK_VARIABLES[lowered]} instead."
            )
            continue
        if lowered in known or lowered in environment_only or not looks_like_ours(name):
            continue
        candidates = environment_only if "_" in lowered else known
        close = difflib.get_close_matches(lowered, list(candidates), n=1, cutoff=0.6)
        hint = f"did you mean {candidates[close[0]]}?" if close else "the host does not read it."
        warnings.append(f"{name}: unknown setting; {hint} (in {origin})")
    return warnings


def warnings(settings: Settings, log_settings: tuple[str, ...] = ()) -> list[str]:
    """Every warning of the start-up check: unknown names, file variables set where they are
    not read, then log levels other than 0-3."""
    found = unknown_settings(settings, log_settings)
    for setting in FILES:
        origin = settings.source(setting.name)
        if origin not in (ENVIRONMENT, DEFAULT):
            found.append(f"{setting.name} (in {origin}) is read from the process environment "
                         "only: this value is ignored.")
    levels = [setting.name for setting in SCHEMA if isinstance(setting.kind, Level)]
    for name in (*levels, *log_settings):
        value = settings.get(name)
        if value is not None and (expected := Level().problem(value)):
            found.append(refused(name, value, expected, _origin(settings, name)))
    return found


def refusals(settings: Settings) -> list[str]:
    """Why the host must not start, one reason each (none: it may): a half-set Basic-auth
    pair, then every value its setting's kind refuses."""
    pair = _half_pair(settings)
    return ([pair] if pair else []) + value_problems(settings)


def value_problems(settings: Settings) -> list[str]:
    """One message per set value that its declaration refuses (log levels excepted: they
    are only warned about), naming the setting, where it was set, the value and what is
    expected. ``<App>MaxRequestBytes`` is checked for any application name."""
    found = []
    for setting in _checked(settings):
        value = settings.get(setting.name)
        if value is None or setting.kind is None or isinstance(setting.kind, Level):
            continue
        expected = setting.kind.problem(value)
        if expected is not None:
            found.append(refused(setting.name, value, expected, _origin(settings, setting.name)))
    return found


def _checked(settings: Settings) -> list[Setting]:
    """The declared settings and variables, and the application limits that are set."""
    limits = [setting for name in sorted(settings.names()) if declared(name) is None
              and (setting := declaration(name)) is not None]
    return [*SCHEMA, *VARIABLES, *limits]


def _origin(settings: Settings, name: str) -> str | None:
    """Where a set value came from, None for values given in code (tests, ``create_app``)."""
    origin = settings.source(name)
    return None if origin == DEFAULT else origin


def _half_pair(settings: Settings) -> str | None:
    """The refusal of a half-set Basic-auth pair, or None."""
    user = settings.get("WorkflowAppUsername")
    password = settings.get("WorkflowAppPassword")
    if (user is None) == (password is None):
        return None
    present, absent = (("WorkflowAppUsername", "WorkflowAppPassword") if password is None
                       else ("WorkflowAppPassword", "WorkflowAppUsername"))
    return (f"{present} is set but {absent} is not: set both (WorkflowGen then sends them as "
            "HTTP Basic credentials) or neither. The host refuses to start rather than refuse "
            "every call.")


def exposed(bind: str) -> bool:
    """Whether a gunicorn/waitress bind address listens beyond the loopback."""
    if bind.startswith(("unix:", "fd://")):
        return False
    host = bind.rpartition(":")[0] if ":" in bind else bind
    host = host.strip("[]")
    if host == "localhost":
        return False
    try:
        return not ipaddress.ip_address(host).is_loopback
    except ValueError:
        return True  # 0.0.0.0 parses; a host name may resolve to anything


def exposure_warning(binds: list[str], settings: Settings) -> str | None:
    """The start-up warning for a host reachable from the network without credentials."""
    if settings.credentials is not None:
        return None
    reachable = [bind for bind in binds if exposed(bind)]
    if not reachable:
        return None
    return (f"listening on {', '.join(reachable)} without WorkflowAppUsername/"
            "WorkflowAppPassword: anyone who can reach this port can run the applications and "
            "spend the API key. Set both (and the same in WorkflowGen), or listen on 127.0.0.1 "
            "behind a proxy that authenticates.")

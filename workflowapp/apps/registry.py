"""The application registry: each application is declared once, here or in its own module.

A declaration (:class:`App`) names the application, its parameters (:class:`Param`), the
setting that holds its log level, and its ``run(call)`` function. The same declaration drives
input validation and defaults (:mod:`workflowapp.apps.call`), the ``GET /apps`` manifest, the
README tables and the error messages, so the WorkflowGen contract is written in one place.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NamedTuple

from ..context.model import DataType, Direction
from ..errors import UnknownApplication

if TYPE_CHECKING:
    from .call import Call

TEXT, NUMERIC, DATETIME, FILE = DataType.TEXT, DataType.NUMERIC, DataType.DATETIME, DataType.FILE
IN, OUT, INOUT = Direction.IN, Direction.OUT, Direction.INOUT


class Param(NamedTuple):
    """One declared parameter of an application.

    ``yes_no`` marks TEXT ``Y``/``N`` switches; ``minimum``/``maximum``/``integer`` bound a
    NUMERIC; ``choices`` lists the accepted TEXT values (compared case-insensitively);
    ``secret`` keeps the value out of replies and logs; ``pattern`` marks a documented family
    of names (``MESSAGE_ROLE<x>``) rather than one name; ``ext`` marks this project's additions.
    """

    name: str
    type: DataType
    direction: Direction
    description: str
    required: bool = False
    default: str | float | None = None
    yes_no: bool = False
    minimum: float | None = None
    maximum: float | None = None
    integer: bool = False
    choices: tuple[str, ...] | None = None
    secret: bool = False
    pattern: bool = False
    ext: bool = False

    def manifest(self) -> dict[str, Any]:
        """This parameter as one row of the ``GET /apps`` manifest."""
        return {
            "name": self.name,
            "type": self.type.value,
            "direction": self.direction.value,
            "required": self.required,
            "default": self.default,
            "description": self.description,
        }


@dataclass(frozen=True)
class App:
    """A workflow application: its contract and the function that runs it."""

    name: str
    description: str
    params: tuple[Param, ...]
    log_setting: str
    run: Callable[[Call], None]
    calls_upstream: bool = True
    _by_name: dict[str, Param] = field(init=False, repr=False, compare=False)
    #: The IN and INOUT parameters with one name (patterns excluded), in declaration order.
    inputs: tuple[Param, ...] = field(init=False, repr=False, compare=False)
    #: Parameters blanked in every reply: API_KEY and those declared secret.
    secrets: frozenset[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        by_name: dict[str, Param] = {}
        for param in self.params:
            if param.name in by_name:
                raise ValueError(f"{self.name}: parameter {param.name} declared twice")
            by_name[param.name] = param
        object.__setattr__(self, "_by_name", by_name)
        inputs = tuple(p for p in self.params if not p.pattern and p.direction is not OUT)
        object.__setattr__(self, "inputs", inputs)
        secrets = {"API_KEY"} | {p.name for p in self.params if p.secret}
        object.__setattr__(self, "secrets", frozenset(secrets))

    def param(self, name: str) -> Param | None:
        """The declared parameter of that exact name (patterns excluded), or None."""
        param = self._by_name.get(name)
        return None if param is None or param.pattern else param

    def manifest(self) -> dict[str, Any]:
        """The ``GET /apps/<APP>`` document of this application."""
        return {
            "name": self.name,
            "description": self.description,
            "logLevelSetting": self.log_setting,
            "parameters": [param.manifest() for param in self.params],
        }


_REGISTRY: dict[str, App] = {}


def register(app: App) -> App:
    """Add an application under its (upper-case) name; refuse silent overwrites."""
    key = app.name.upper()
    if key in _REGISTRY:
        raise KeyError(f"Application {app.name!r} is already registered.")
    _REGISTRY[key] = app
    return app


def get(name: str) -> App:
    """The application of that name (case-insensitive) or :class:`UnknownApplication`."""
    _load_builtins()
    try:
        return _REGISTRY[name.upper()]
    except KeyError:
        known = ", ".join(sorted(_REGISTRY))
        raise UnknownApplication(
            f"No application named {name!r}; this host serves: {known}."
        ) from None


def all_apps() -> list[App]:
    """Every registered application, sorted by name."""
    _load_builtins()
    return [_REGISTRY[key] for key in sorted(_REGISTRY)]


def _load_builtins() -> None:
    """Import the built-in application modules once; each registers itself."""
    from . import builtins  # noqa: F401


# Parameters shared by the applications: declared once, reused by each declaration.

IGNORE_ERROR = Param(
    "APP_RESPONSE_IGNORE_ERROR", TEXT, IN,
    "Y: on any error the action succeeds and APP_RESPONSE_STATUS/APP_RESPONSE_CONTENT "
    "describe the error; N: the action fails with a short message.",
    default="N", yes_no=True,
)
RESPONSE_STATUS = Param(
    "APP_RESPONSE_STATUS", TEXT, OUT,
    "HTTP status of the upstream call (also on success), or a stable error code for errors "
    "that never reached upstream.",
)
RESPONSE_CONTENT = Param(
    "APP_RESPONSE_CONTENT", TEXT, OUT,
    "The upstream response payload, or the error message.",
)
API_KEY = Param(
    "API_KEY", TEXT, IN, "API key; default: setting OpenAIApiKey. Never written back.",
    secret=True,
)
PROVIDER = Param(
    "PROVIDER", TEXT, IN,
    "openai, azure or compatible (OpenAI's endpoints only); default: the setting "
    "OpenAIProvider, else detected from the URL.",
    choices=("openai", "anthropic", "mistral", "gemini", "azure", "compatible"), ext=True,
)
#: OPENAICHAT's PROVIDER: every provider of the Providers section.
CHAT_PROVIDER = Param(
    "PROVIDER", TEXT, IN,
    "openai, anthropic, mistral, gemini, azure or compatible; default: the setting "
    "OpenAIProvider, else detected from the URL (see Providers).",
    choices=("openai", "anthropic", "mistral", "gemini", "azure", "compatible"), ext=True,
)
TIMEOUT = Param(
    "TIMEOUT", NUMERIC, IN,
    "Seconds the whole upstream call may take, retries included; default: setting "
    "WorkflowAppDeadline (900).",
    minimum=1, maximum=86400, ext=True,
)
MAX_RETRIES = Param(
    "MAX_RETRIES", NUMERIC, IN,
    "Retries of a failed upstream call (429, 5xx, timeouts); default: setting "
    "WorkflowAppMaxRetries (2).",
    minimum=0, maximum=10, integer=True, ext=True,
)
RESULT_RETRIES = Param(
    "RESULT_RETRIES", NUMERIC, OUT, "Number of upstream retries this call needed.", ext=True,
)
RESULT_DURATION_MS = Param(
    "RESULT_DURATION_MS", NUMERIC, OUT,
    "Time spent calling upstream, retries included, in milliseconds.", ext=True,
)
RESULT_REQUEST_ID = Param(
    "RESULT_REQUEST_ID", TEXT, OUT,
    "Upstream request id, for support requests: the x-request-id or request-id header, else "
    "the answer's id.", ext=True,
)

#: Every application declares these.
COMMON = (IGNORE_ERROR, RESPONSE_STATUS, RESPONSE_CONTENT)
#: Applications that call upstream also declare these.
UPSTREAM_COMMON = (TIMEOUT, MAX_RETRIES, RESULT_RETRIES, RESULT_DURATION_MS, RESULT_REQUEST_ID)

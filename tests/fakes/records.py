"""What the fake remembers about each request it received."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["AUTH_HEADERS", "FileInfo", "RecordedRequest"]

AUTH_HEADERS = ("authorization", "api-key", "x-api-key")


@dataclass(frozen=True)
class FileInfo:
    """One uploaded multipart file (``name`` is the form field name)."""

    name: str
    filename: str
    content_type: str
    size: int
    data: bytes = field(repr=False)


@dataclass
class RecordedRequest:
    """A request as received: raw parts, parsed body and what the fake made of it.

    ``headers`` has lower-case names. ``json`` is the parsed JSON body (``None`` when absent or
    unparsable); ``form`` holds multipart fields converted as validated (``file`` = file name,
    ``x[]`` = list under ``x``, numbers/booleans typed); ``files`` the uploads by field name.
    """

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes = field(repr=False)
    request_id: str
    endpoint: str | None = None
    """``chat``, ``moderations``, ``transcriptions``, ``models``, ``messages`` (Anthropic) or
    ``None`` (unknown path)."""
    flavor: str = "openai"
    """``openai``, ``azure`` (deployment URL), ``azure_v1``, ``mistral``, ``gemini`` or
    ``anthropic``."""
    deployment: str | None = None
    json: Any = None
    form: dict[str, Any] = field(default_factory=dict)
    form_items: list[tuple[str, str]] = field(default_factory=list)
    files: dict[str, FileInfo] = field(default_factory=dict)
    api_key: str | None = None
    auth: str | None = None
    """``bearer``, ``api-key`` or ``x-api-key``: where the key came from."""
    status: int | None = None
    invalid: str | None = None

    @property
    def api_version(self) -> str | None:
        """The ``api-version`` query parameter (Azure)."""
        return self.query.get("api-version")

    @property
    def file(self) -> FileInfo | None:
        """The upload of the ``file`` field, if any."""
        return self.files.get("file")

    @property
    def model(self) -> str | None:
        """The requested model: body ``model`` or form ``model``, else the deployment."""
        source = self.json if isinstance(self.json, dict) else self.form
        value = source.get("model")
        return value if isinstance(value, str) else self.deployment

    def secret_locations(self, secret: str) -> list[str]:
        """Where ``secret`` occurs outside its legitimate place (``Bearer <secret>``,
        ``api-key: <secret>`` or ``x-api-key: <secret>``): path, query, other headers, body,
        file names or contents."""
        found: list[str] = []
        if secret in self.path:
            found.append("path")
        if any(secret in key or secret in value for key, value in self.query.items()):
            found.append("query")
        for name, value in self.headers.items():
            legitimate = (name == "authorization" and value == f"Bearer {secret}") or (
                name in ("api-key", "x-api-key") and value == secret)
            if (secret in value and not legitimate) or secret in name:
                found.append(f"header {name}")
        if secret.encode() in self.body:
            found.append("body")
        for info in self.files.values():
            if secret in info.filename or secret.encode() in info.data:
                found.append(f"file {info.name}")
        return found

"""Imports the built-in application modules; each registers itself on import."""

from __future__ import annotations

from . import (
    addmessage,  # noqa: F401
    agenttool,  # noqa: F401
    chat,  # noqa: F401
    echo,  # noqa: F401
    moderation,  # noqa: F401
    transcription,  # noqa: F401
)

"""Imports the built-in application modules; each registers itself on import."""

from __future__ import annotations

from . import (
    chat,  # noqa: F401
    echo,  # noqa: F401
)

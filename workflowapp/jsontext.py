"""JSON text from callers (and from upstream answers), parsed with a nesting limit.

``json.loads`` itself raises RecursionError on a few thousand nested brackets, and what walks a
parsed value later (``json.dumps``, jsonschema) does so much sooner: a value nested deeper than
:data:`MAX_DEPTH` is refused here as a :class:`ValueError`, like any invalid JSON, so every
``except ValueError`` that names a parameter answers it with a 400. So is a ``\\uD800``-style
escape that decodes to half a surrogate pair: UTF-8 (an upstream request, a log) cannot carry it.
"""

from __future__ import annotations

import json
import re
from typing import Any

#: Deepest nesting accepted: real messages, tools and schemas stay far below it.
MAX_DEPTH = 64
_SURROGATE = re.compile("[\ud800-\udfff]")
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


def loads(text: str) -> Any:
    """``json.loads``; nesting deeper than :data:`MAX_DEPTH` is a :class:`ValueError`."""
    try:
        value = json.loads(text)
    except RecursionError:
        raise ValueError(f"nested deeper than {MAX_DEPTH} levels") from None
    if nested_deeper(value, MAX_DEPTH):
        raise ValueError(f"nested deeper than {MAX_DEPTH} levels")
    if _SURROGATE_ESCAPE.search(text):
        lone = lone_surrogate(value)
        if lone is not None:
            raise ValueError(f"\\u{ord(lone):04x} is half of a UTF-16 surrogate pair, not a "
                             "character")
    return value


def lone_surrogate(value: Any) -> str | None:
    """The first lone surrogate in a string, key or nested value of ``value``, else None (a
    pair of ``\\u`` escapes decodes to one character: what is left is half of one)."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            match = None if item.isascii() else _SURROGATE.search(item)
            if match:
                return match.group()
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return None


def nested_deeper(value: Any, limit: int) -> bool:
    """Whether ``value`` nests lists/objects more than ``limit`` levels (walked iteratively)."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        children = item.values() if isinstance(item, dict) else item if isinstance(
            item, list) else ()
        for child in children:
            if isinstance(child, dict | list):
                if depth >= limit:
                    return True
                stack.append((child, depth + 1))
    return False

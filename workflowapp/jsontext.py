"""JSON text from callers (and from upstream answers), parsed with a nesting limit.

``json.loads`` itself raises RecursionError on a few thousand nested brackets, and what walks a
parsed value later (``json.dumps``, jsonschema) does so much sooner: a value nested deeper than
:data:`MAX_DEPTH` is refused here as a :class:`ValueError`, like any invalid JSON, so every
``except ValueError`` that names a parameter answers it with a 400.
"""

from __future__ import annotations

import json
from typing import Any

#: Deepest nesting accepted: real messages, tools and schemas stay far below it.
MAX_DEPTH = 64


def loads(text: str) -> Any:
    """``json.loads``; nesting deeper than :data:`MAX_DEPTH` is a :class:`ValueError`."""
    try:
        value = json.loads(text)
    except RecursionError:
        raise ValueError(f"nested deeper than {MAX_DEPTH} levels") from None
    if nested_deeper(value, MAX_DEPTH):
        raise ValueError(f"nested deeper than {MAX_DEPTH} levels")
    return value


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

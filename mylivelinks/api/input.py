"""What input the API accepts before any schema sees it: JSON it can parse, text it can store.

PostgreSQL stores neither a NUL character nor half of a UTF-16 surrogate pair (JSON's
`"\\ud800"` decodes to one), and Python's JSON parser gives up on very deep nesting
(RecursionError) and on integer literals past 4,300 digits (ValueError). Both kinds of
input are refused here, where requests are parsed, instead of failing where the database
or the parser is reached.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

# Deeper than any body the API accepts; far below the interpreter's recursion limit.
MAX_JSON_DEPTH = 64
UNSTORABLE_TEXT = re.compile("[\x00\ud800-\udfff]")
UNSTORABLE_TEXT_MESSAGE = "Must not contain NUL characters or unpaired surrogates."


class MalformedJson(ValueError):
    """A body that is not JSON the API can read; `reason` says why."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def parse_json_body(raw: bytes | str) -> Any:
    """The JSON value of a request body; MalformedJson when it is not one we accept."""
    try:
        text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
        value = json.loads(text)
    except UnicodeDecodeError:
        raise MalformedJson("The body is not UTF-8.") from None
    except json.JSONDecodeError as exc:
        raise MalformedJson(f"Invalid JSON body: {exc.msg} at character {exc.pos}.") from None
    except RecursionError:
        raise MalformedJson(f"JSON nested deeper than {MAX_JSON_DEPTH} levels.") from None
    except ValueError:  # an integer literal longer than the interpreter converts
        raise MalformedJson("A JSON number is too long.") from None
    if _depth(value) > MAX_JSON_DEPTH:
        raise MalformedJson(f"JSON nested deeper than {MAX_JSON_DEPTH} levels.")
    return value


def _depth(value: Any) -> int:
    deepest, pending = 0, [(value, 1)]
    while pending:
        item, level = pending.pop()
        if isinstance(item, dict | list):
            deepest = max(deepest, level)
            children = item.values() if isinstance(item, dict) else item
            pending.extend((child, level + 1) for child in children)
    return deepest


def is_storable_text(text: str) -> bool:
    """Whether PostgreSQL can store `text` (no NUL, no unpaired surrogate)."""
    return UNSTORABLE_TEXT.search(text) is None


def unstorable_fields(value: Any, path: str = "") -> Iterator[str]:
    """The dotted paths (list items by index) of the strings in `value` that cannot be stored."""
    pending: list[tuple[Any, str]] = [(value, path)]
    while pending:
        item, where = pending.pop()
        if isinstance(item, str):
            if not is_storable_text(item):
                yield where or "_schema"
        elif isinstance(item, dict):
            for key, child in item.items():
                name = str(key) if is_storable_text(str(key)) else repr(key)
                pending.append((child, f"{where}.{name}" if where else name))
        elif isinstance(item, list | tuple):
            pending.extend(
                (child, f"{where}.{i}" if where else str(i)) for i, child in enumerate(item)
            )

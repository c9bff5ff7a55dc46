"""Path parameters: a value that cannot name anything matches no route, so it is 404.

Usernames and room slugs are 3-30 of a-z, 0-9 and _ (compared case-insensitively); other
text parameters may hold anything but NUL and `/`; integers fit PostgreSQL's INTEGER.
Each converter documents the same bounds in the OpenAPI document.
"""

from __future__ import annotations

from typing import Any

from flask import Flask
from werkzeug.routing import BaseConverter, IntegerConverter

from mylivelinks.api.errors import Api

INT32_MAX = 2**31 - 1
NAME_PATTERN = "[A-Za-z0-9_]{3,30}"


class TextConverter(BaseConverter):
    """`<string:...>`: one path segment without NUL (which no stored name contains)."""

    regex = "[^/\x00]+"


class NameConverter(BaseConverter):
    """`<name:...>`: a username or room slug, in any case."""

    regex = NAME_PATTERN


class Int32Converter(IntegerConverter):
    """`<int:...>`: a non-negative integer a PostgreSQL INTEGER column can hold."""

    def __init__(self, map: Any, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("max", INT32_MAX)
        super().__init__(map, *args, **kwargs)


def init_converters(app: Flask) -> None:
    """Use these converters for the app's routes (before any blueprint is registered)."""
    app.url_map.converters["string"] = TextConverter
    app.url_map.converters["default"] = TextConverter
    app.url_map.converters["name"] = NameConverter
    app.url_map.converters["int"] = Int32Converter


def document_converters(api: Api) -> None:
    """Describe each converter's values in the OpenAPI document."""
    api.register_converter(TextConverter, lambda converter: {"type": "string", "minLength": 1})
    api.register_converter(
        NameConverter, lambda converter: {"type": "string", "pattern": f"^{NAME_PATTERN}$"}
    )
    api.register_converter(
        Int32Converter,
        lambda converter: {"type": "integer", "minimum": 0, "maximum": converter.max},
    )

"""Path parameters: a value that cannot name anything matches no route, so it is 404.

Usernames are 3-30 of a-z, 0-9 and _, room slugs 1-64 of those and `-` (both compared
case-insensitively); other text parameters may hold anything but NUL and `/`; integers fit
PostgreSQL's INTEGER.
Each converter documents the same bounds in the OpenAPI document.
"""

from __future__ import annotations

from typing import Any

from flask import Flask
from werkzeug.routing import BaseConverter, IntegerConverter

from mylivelinks.api.errors import Api

INT32_MAX = 2**31 - 1
USERNAME_PATTERN = "[A-Za-z0-9_]{3,30}"
SLUG_PATTERN = "[A-Za-z0-9_-]{1,64}"


class TextConverter(BaseConverter):
    """`<string:...>`: one path segment without NUL (which no stored name contains)."""

    regex = "[^/\x00]+"


class UsernameConverter(BaseConverter):
    """`<username:...>`: a username, in any case."""

    regex = USERNAME_PATTERN


class SlugConverter(BaseConverter):
    """`<slug:...>`: a room's slug, in any case."""

    regex = SLUG_PATTERN


class Int32Converter(IntegerConverter):
    """`<int:...>`: a non-negative integer a PostgreSQL INTEGER column can hold."""

    def __init__(self, map: Any, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("max", INT32_MAX)
        super().__init__(map, *args, **kwargs)


def init_converters(app: Flask) -> None:
    """Use these converters for the app's routes (before any blueprint is registered)."""
    app.url_map.converters["string"] = TextConverter
    app.url_map.converters["default"] = TextConverter
    app.url_map.converters["username"] = UsernameConverter
    app.url_map.converters["slug"] = SlugConverter
    app.url_map.converters["int"] = Int32Converter


def document_converters(api: Api) -> None:
    """Describe each converter's values in the OpenAPI document."""
    api.register_converter(TextConverter, lambda converter: {"type": "string", "minLength": 1})
    for converter_class, pattern in (
        (UsernameConverter, USERNAME_PATTERN),
        (SlugConverter, SLUG_PATTERN),
    ):
        api.register_converter(
            converter_class,
            lambda converter, pattern=pattern: {"type": "string", "pattern": f"^{pattern}$"},
        )
    api.register_converter(
        Int32Converter,
        lambda converter: {"type": "integer", "minimum": 0, "maximum": converter.max},
    )

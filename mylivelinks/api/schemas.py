"""Schemas shared across resources: pagination and common field types."""

from __future__ import annotations

from functools import cache
from zoneinfo import available_timezones

import marshmallow as ma
from marshmallow import validate

from mylivelinks.services.accounts.usernames import normalize_username, username_problem

WEB_URL = validate.URL(
    schemes={"http", "https"}, require_tld=False, error="Must be an http or https URL."
)


INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1


class Int32(ma.fields.Integer):
    """An integer for an INTEGER column: strict, and never past the column's bounds."""

    def __init__(self, **kwargs) -> None:
        kwargs.setdefault("strict", True)
        validators = kwargs.pop("validate", None) or []
        if callable(validators):
            validators = [validators]
        column = validate.Range(min=INT32_MIN, max=INT32_MAX)
        super().__init__(validate=[column, *validators], **kwargs)


class Username(ma.fields.String):
    """A new username: 3-30 of [A-Za-z0-9_], not reserved; loaded lower-case."""

    def _deserialize(self, value, attr, data, **kwargs):
        username = normalize_username(super()._deserialize(value, attr, data, **kwargs))
        problem = username_problem(username)
        if problem:
            raise ma.ValidationError(problem)
        return username


@cache
def _time_zones() -> frozenset[str]:
    return frozenset(available_timezones())


def validate_time_zone(name: str) -> None:
    """Raise unless `name` is an IANA time zone such as Europe/Paris."""
    if name not in _time_zones():
        raise ma.ValidationError("Must be an IANA time zone such as Europe/Paris.")


CURSOR_PATTERN = r"^[A-Za-z0-9_-]{0,1024}$"


class PageArgsSchema(ma.Schema):
    """`?limit=&cursor=` of every list."""

    limit = ma.fields.Integer(
        load_default=20, validate=validate.Range(min=1, max=100), metadata={"description": "1-100"}
    )
    cursor = ma.fields.String(
        load_default=None,
        validate=validate.Regexp(CURSOR_PATTERN, error="Not a cursor of this list."),
        metadata={"description": "`next_cursor` of the previous page (opaque, base64url)"},
    )


def page_schema(item_schema: type[ma.Schema], name: str) -> type[ma.Schema]:
    """A `{items, next_cursor}` schema listing `item_schema`."""
    return ma.Schema.from_dict(
        {
            "items": ma.fields.List(ma.fields.Nested(item_schema), required=True),
            "next_cursor": ma.fields.String(
                required=True,
                allow_none=True,
                metadata={"description": "null on the last page", "pattern": CURSOR_PATTERN},
            ),
        },
        name=name,
    )

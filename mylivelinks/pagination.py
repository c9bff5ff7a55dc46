"""Keyset (cursor) pagination shared by every list: `?limit=&cursor=` -> `{items, next_cursor}`."""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, tuple_

from mylivelinks.extensions import db
from mylivelinks.services.errors import InvalidInput


@dataclass(frozen=True)
class Page:
    """One page of results and the cursor of the next (None at the end)."""

    items: list[Any]
    next_cursor: str | None


def encode_cursor(values: Sequence[Any]) -> str:
    """The opaque cursor of a sort key (datetimes, ids, numbers)."""
    plain = [v.isoformat() if isinstance(v, datetime) else str(v) for v in values]
    return base64.urlsafe_b64encode(json.dumps(plain).encode()).decode().rstrip("=")


def decode_cursor(cursor: str, kinds: Sequence[type]) -> list[Any]:
    """The sort key of a cursor, typed by `kinds`; InvalidInput when it is not one of ours."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        plain = json.loads(base64.urlsafe_b64decode(padded.encode()))
        if not isinstance(plain, list) or len(plain) != len(kinds):
            raise ValueError
        return [
            datetime.fromisoformat(v) if kind is datetime else kind(v)
            for v, kind in zip(plain, kinds, strict=True)
        ]
    except (ValueError, TypeError):
        raise InvalidInput("The cursor is not valid.", field="cursor") from None


def keyset_page(
    stmt: Select,
    sort_columns: Sequence[Any],
    *,
    limit: int,
    cursor: str | None,
    cursor_of: Callable[[Any], Sequence[Any]],
    kinds: Sequence[type] = (datetime, uuid.UUID),
    ascending: bool = False,
) -> Page:
    """Run `stmt` newest-first (or `ascending`) on `sort_columns`, resuming after `cursor`."""
    if cursor:
        key, after = tuple_(*sort_columns), tuple_(*decode_cursor(cursor, kinds))
        stmt = stmt.where(key > after if ascending else key < after)
    order = [column.asc() if ascending else column.desc() for column in sort_columns]
    stmt = stmt.order_by(*order).limit(limit + 1)
    rows = list(db.session.execute(stmt).all())
    has_more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = encode_cursor(cursor_of(rows[-1])) if has_more and rows else None
    return Page(items=rows, next_cursor=next_cursor)

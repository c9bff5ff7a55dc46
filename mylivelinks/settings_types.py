"""Typed environment settings: the `Setting` record and the parsers settings share."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


def parse_text(raw: str) -> str:
    return raw.strip()


def parse_bool(raw: str) -> bool:
    """true/false, yes/no, on/off or 1/0, in any case."""
    value = raw.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise ValueError("must be true or false")


def parse_positive_int(raw: str) -> int:
    try:
        value = int(raw)
    except ValueError:
        raise ValueError("must be a whole number") from None
    if value <= 0:
        raise ValueError("must be greater than zero")
    return value


def parse_non_negative_int(raw: str) -> int:
    try:
        value = int(raw)
    except ValueError:
        raise ValueError("must be a whole number") from None
    if value < 0:
        raise ValueError("must not be negative")
    return value


def parse_positive_number(raw: str) -> float:
    """A number above zero (fractions allowed)."""
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"expected a number, got {raw!r}") from None
    if not value > 0:
        raise ValueError(f"must be above zero, got {raw!r}")
    return value


def parse_percent(raw: str) -> int:
    value = parse_non_negative_int(raw)
    if value > 100:
        raise ValueError("must be a whole percentage (0-100)")
    return value


def parse_port(raw: str) -> int:
    value = parse_positive_int(raw)
    if value > 65535:
        raise ValueError("must be a TCP port (1-65535)")
    return value


def parse_csv(raw: str) -> list[str]:
    return [item.strip() for item in raw.split(",") if item.strip()]


def parse_seconds_list(raw: str) -> list[int]:
    try:
        values = [int(item) for item in parse_csv(raw)]
    except ValueError:
        raise ValueError("must be comma-separated whole seconds") from None
    if not values or any(value < 0 for value in values):
        raise ValueError("must be one or more non-negative whole seconds")
    return values


def parse_choice(*choices: str) -> Callable[[str], str]:
    def parse(raw: str) -> str:
        value = raw.strip()
        if value not in choices:
            raise ValueError(f"must be one of {', '.join(choices)}")
        return value

    return parse


def parse_database_url(raw: str) -> str:
    value = raw.strip()
    # Heroku-style URLs name the dialect "postgres"; SQLAlchemy wants "postgresql".
    value = re.sub(r"^postgres(ql)?://", "postgresql+psycopg://", value)
    if not value.startswith("postgresql"):
        raise ValueError("must be a PostgreSQL URL (postgresql://...)")
    return value


def parse_redis_url(raw: str) -> str:
    value = raw.strip()
    if not value.startswith(("redis://", "rediss://", "unix://")):
        raise ValueError("must be a redis://, rediss:// or unix:// URL")
    return value


def parse_http_url(raw: str) -> str:
    value = raw.strip()
    if not value.startswith(("http://", "https://")):
        raise ValueError("must be an http(s) URL")
    return value


def parse_media_url(raw: str) -> str:
    value = raw.strip()
    if not value.startswith(("ws://", "wss://", "http://", "https://")):
        raise ValueError("must be a ws(s):// or http(s):// URL")
    return value


@dataclass(frozen=True)
class Setting:
    """One environment variable: its parser, default and meaning."""

    name: str
    parse: Callable[[str], Any]
    default: Any
    help: str


def parse_timezone(raw: str) -> str:
    """An IANA time zone name (`UTC`, `Europe/Berlin`, ...)."""
    name = raw.strip()
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"{raw!r} is not a known time zone") from None
    return name


def parse_rate_limit(raw: str) -> str:
    from limits import parse_many

    value = raw.strip()
    try:
        parse_many(value)
    except ValueError:
        raise ValueError("must be a rate such as `20 per 30 seconds`") from None
    return value

"""Coin packs: configuration, with the defaults of SPEC §5."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import marshmallow as ma
from marshmallow import validate

PLATFORMS = ("web", "ios", "android")
WEB_DOLLARS = (5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 25000)
MOBILE_DOLLARS = (1, 5, 10, 25, 50, 100, 250, 500, 1000)
WEB_COINS_PER_DOLLAR = 70
MOBILE_COINS_PER_DOLLAR = 50


@dataclass(frozen=True)
class CoinPack:
    """A purchasable amount of coins at a price on one platform."""

    id: str
    platform: str
    coins: int
    price_cents: int
    currency: str = "usd"

    @property
    def label(self) -> str:
        """Human name, e.g. "1,750 coins"."""
        return f"{self.coins:,} coins"


def default_packs() -> tuple[CoinPack, ...]:
    """Web: $5 to $25,000 at 70 coins/$; iOS and Android: $1 to $1,000 at 50 coins/$."""
    packs = [CoinPack(f"web_{d}", "web", d * WEB_COINS_PER_DOLLAR, d * 100) for d in WEB_DOLLARS]
    for platform in ("ios", "android"):
        packs += [
            CoinPack(f"{platform}_{d}", platform, d * MOBILE_COINS_PER_DOLLAR, d * 100)
            for d in MOBILE_DOLLARS
        ]
    return tuple(packs)


class _PackSchema(ma.Schema):
    id = ma.fields.String(required=True, validate=validate.Regexp(r"^[a-z0-9_]{1,64}$"))
    platform = ma.fields.String(required=True, validate=validate.OneOf(PLATFORMS))
    coins = ma.fields.Integer(required=True, strict=True, validate=validate.Range(min=1))
    price_cents = ma.fields.Integer(required=True, strict=True, validate=validate.Range(min=1))
    currency = ma.fields.String(load_default="usd", validate=validate.Regexp(r"^[a-z]{3}$"))


def load_packs(path: str | None) -> tuple[CoinPack, ...]:
    """The packs of the JSON file at `path` (a list of packs), or the defaults."""
    if not path:
        return default_packs()
    try:
        raw = json.loads(Path(path).read_text())
        packs = [CoinPack(**item) for item in _PackSchema(many=True).load(raw)]
    except (OSError, ValueError, ma.ValidationError) as exc:
        raise ValueError(f"cannot load coin packs from {path}: {exc}") from None
    if len({pack.id for pack in packs}) != len(packs):
        raise ValueError(f"cannot load coin packs from {path}: pack ids must be unique")
    return tuple(packs)

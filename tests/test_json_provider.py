"""orjson encodes responses and stored events to the same JSON values as the standard library."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal

from flask.json.provider import DefaultJSONProvider

from mylivelinks.events.streams import encode_data
from mylivelinks.json_provider import OrjsonProvider


@dataclass
class Coins:
    amount: int


SAMPLE = {
    "id": uuid.UUID("12345678-1234-5678-1234-567812345678"),
    "at": datetime(2026, 11, 22, 6, 30, 5, 123456, tzinfo=UTC),
    "day": date(2026, 11, 22),
    "price": Decimal("1.50"),
    "coins": Coins(7),
    "gift": "🌹 Rose, ünïcode",
    "nested": [{"a": 1, "b": None, "c": True}, 2.5],
}


def test_responses_read_as_with_flasks_own_encoder(app):
    ours, flasks = OrjsonProvider(app), DefaultJSONProvider(app)

    assert json.loads(ours.dumps(SAMPLE)) == json.loads(flasks.dumps(SAMPLE))
    assert json.loads(ours.dumps(SAMPLE, indent=2)) == json.loads(flasks.dumps(SAMPLE))


def test_keys_are_sorted_when_the_provider_says_so(app):
    provider = OrjsonProvider(app)
    provider.sort_keys = True
    assert provider.dumps({"b": 1, "a": {"d": 2, "c": 3}}) == '{"a":{"c":3,"d":2},"b":1}'
    provider.sort_keys = False
    assert provider.dumps({"b": 1, "a": 2}) == '{"b":1,"a":2}'


def test_what_orjson_refuses_is_encoded_by_the_standard_library(app):
    huge = {"balance": 2**70}

    assert json.loads(OrjsonProvider(app).dumps(huge)) == huge


def test_stored_events_read_as_before():
    before = json.dumps(SAMPLE, separators=(",", ":"), default=str)

    assert json.loads(encode_data(SAMPLE)) == json.loads(before)
    assert json.loads(encode_data({"balance": 2**70})) == {"balance": 2**70}

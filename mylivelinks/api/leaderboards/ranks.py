"""A profile's current leaderboard ranks, as profile pages show them."""

from __future__ import annotations

import marshmallow as ma


class PeriodRanksSchema(ma.Schema):
    """The rank on one board for each period; null where the profile is not ranked."""

    day = ma.fields.Integer(dump_only=True, allow_none=True)
    week = ma.fields.Integer(dump_only=True, allow_none=True)
    month = ma.fields.Integer(dump_only=True, allow_none=True)
    all_time = ma.fields.Integer(dump_only=True, allow_none=True)


class LeaderboardRanksSchema(ma.Schema):
    """Ranks among top streamers (coins received) and top gifters (coins spent)."""

    streamers = ma.fields.Nested(PeriodRanksSchema, dump_only=True)
    gifters = ma.fields.Nested(PeriodRanksSchema, dump_only=True)

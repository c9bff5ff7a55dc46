"""Leaderboard schemas."""

from __future__ import annotations

import marshmallow as ma
from marshmallow import validate

from mylivelinks.api.profiles.schemas import ProfileSummarySchema
from mylivelinks.models.leaderboards import BOARDS, PERIODS
from mylivelinks.services.leaderboards.boards import MAX_LIMIT


class LeaderboardArgsSchema(ma.Schema):
    """`?period=&limit=` of a leaderboard."""

    period = ma.fields.String(
        load_default="day",
        validate=validate.OneOf(PERIODS),
        metadata={"description": "day (the default), week (from Monday), month or all_time"},
    )
    limit = ma.fields.Integer(
        load_default=MAX_LIMIT,
        validate=validate.Range(min=1, max=MAX_LIMIT),
        metadata={"description": f"1-{MAX_LIMIT}, default {MAX_LIMIT}"},
    )


class LeaderboardItemSchema(ma.Schema):
    """One ranked profile."""

    rank = ma.fields.Integer(dump_only=True)
    score = ma.fields.Integer(dump_only=True, metadata={"description": "coins in the period"})
    profile = ma.fields.Nested(ProfileSummarySchema, dump_only=True)


class LeaderboardSchema(ma.Schema):
    """A board for one period as last rebuilt; null bounds and `computed_at` before the first
    rebuild."""

    board = ma.fields.String(dump_only=True, metadata={"enum": list(BOARDS)})
    period = ma.fields.String(dump_only=True, metadata={"enum": list(PERIODS)})
    period_start = ma.fields.DateTime(
        dump_only=True, allow_none=True, metadata={"description": "inclusive; null for all_time"}
    )
    period_end = ma.fields.DateTime(
        dump_only=True, allow_none=True, metadata={"description": "exclusive; null for all_time"}
    )
    computed_at = ma.fields.DateTime(dump_only=True, allow_none=True)
    items = ma.fields.List(ma.fields.Nested(LeaderboardItemSchema), dump_only=True)

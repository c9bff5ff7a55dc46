"""Stream schemas: summaries, stats, search arguments, leaderboards."""

from __future__ import annotations

import marshmallow as ma
from marshmallow import validate

from mylivelinks.api.profiles.schemas import ProfileSummarySchema
from mylivelinks.api.schemas import PageArgsSchema, page_schema
from mylivelinks.models.streams import StreamStatus

SEARCHABLE_STATUSES = tuple(
    status.value for status in (StreamStatus.LIVE, StreamStatus.SCHEDULED, StreamStatus.ENDED)
)


class StreamStatsSchema(ma.Schema):
    """What happened in a stream: computed while live, saved when it ends."""

    duration_seconds = ma.fields.Integer(
        dump_only=True, metadata={"description": "seconds live-available (so far)"}
    )
    current_viewers = ma.fields.Integer(dump_only=True, metadata={"description": "0 once ended"})
    peak_viewers = ma.fields.Integer(dump_only=True)
    total_views = ma.fields.Integer(
        dump_only=True, metadata={"description": "viewer sessions (a box opened)"}
    )
    unique_viewers = ma.fields.Integer(dump_only=True)
    average_watch_seconds = ma.fields.Integer(dump_only=True)
    chat_messages = ma.fields.Integer(
        dump_only=True,
        metadata={
            "description": "messages in the room from the streamer while live and from its "
            "viewers while watching"
        },
    )
    gifts_received = ma.fields.Integer(dump_only=True)
    gift_coins_received = ma.fields.Integer(dump_only=True)
    seconds_published = ma.fields.Integer(
        dump_only=True,
        metadata={"description": "seconds actually published (somebody watching)"},
    )


class StreamItemSchema(ma.Schema):
    """A stream in a list."""

    id = ma.fields.UUID(
        dump_only=True, allow_none=True, metadata={"description": "null while scheduled"}
    )
    status = ma.fields.String(dump_only=True)
    title = ma.fields.String(dump_only=True, allow_none=True)
    streamer = ma.fields.Nested(ProfileSummarySchema, dump_only=True)
    scheduled_for = ma.fields.DateTime(
        dump_only=True, allow_none=True, metadata={"description": "a scheduled occurrence's start"}
    )
    schedule_id = ma.fields.UUID(dump_only=True, allow_none=True)
    room = ma.fields.String(dump_only=True, allow_none=True)
    position = ma.fields.Integer(dump_only=True, allow_none=True)
    started_at = ma.fields.DateTime(dump_only=True, allow_none=True)
    ended_at = ma.fields.DateTime(dump_only=True, allow_none=True)
    ended_reason = ma.fields.String(dump_only=True, allow_none=True)
    distance_km = ma.fields.Float(
        dump_only=True, allow_none=True, metadata={"description": "only in a location search"}
    )


class StreamDetailSchema(StreamItemSchema):
    """A stream with its stats."""

    stats = ma.fields.Nested(StreamStatsSchema, dump_only=True)


StreamPageSchema = page_schema(StreamItemSchema, "StreamPage")


class StreamSearchArgsSchema(PageArgsSchema):
    """`?status=&q=&lat=&lng=&radius_km=` of the stream search."""

    status = ma.fields.String(
        load_default=StreamStatus.LIVE.value, validate=validate.OneOf(SEARCHABLE_STATUSES)
    )
    q = ma.fields.String(
        load_default=None,
        validate=validate.Length(min=1, max=50),
        metadata={"description": "username prefix or a word of the title"},
    )
    lat = ma.fields.Float(load_default=None, validate=validate.Range(min=-90, max=90))
    lng = ma.fields.Float(load_default=None, validate=validate.Range(min=-180, max=180))
    radius_km = ma.fields.Float(
        load_default=None, validate=validate.Range(min=0, max=20_100, min_inclusive=False)
    )

    @ma.validates_schema
    def _all_or_no_location(self, data, **kwargs):
        given = [data.get(key) is not None for key in ("lat", "lng", "radius_km")]
        if any(given) and not all(given):
            raise ma.ValidationError("Send lat, lng and radius_km together.", "radius_km")


class GifterSchema(ma.Schema):
    """One gifter's place."""

    rank = ma.fields.Integer(dump_only=True)
    coins = ma.fields.Integer(dump_only=True)
    profile = ma.fields.Nested(ProfileSummarySchema, dump_only=True)


StreamLeaderboardSchema = page_schema(GifterSchema, "StreamLeaderboard")

"""Public profile, link and follow-list schemas."""

from __future__ import annotations

import marshmallow as ma
from marshmallow import validate

from mylivelinks.api.leaderboards.ranks import LeaderboardRanksSchema
from mylivelinks.api.schemas import WEB_URL, page_schema


class LinkSchema(ma.Schema):
    """One external link (LinkTree style)."""

    title = ma.fields.String(required=True, validate=validate.Length(min=1, max=100))
    url = ma.fields.String(required=True, validate=[validate.Length(max=2048), WEB_URL])


class ProfileSummarySchema(ma.Schema):
    """Who someone is, in a list."""

    id = ma.fields.UUID(dump_only=True)
    username = ma.fields.String(dump_only=True)
    display_name = ma.fields.String(dump_only=True, allow_none=True)
    avatar_url = ma.fields.String(dump_only=True, allow_none=True)


class PublicProfileSchema(ProfileSummarySchema):
    """A profile as anyone sees it at /profiles/{username}."""

    bio = ma.fields.String(dump_only=True, allow_none=True)
    follower_count = ma.fields.Integer(dump_only=True)
    following_count = ma.fields.Integer(dump_only=True)
    gifts_received_coins = ma.fields.Integer(
        dump_only=True, metadata={"description": "lifetime coins of gifts received"}
    )
    gifts_sent_coins = ma.fields.Integer(
        dump_only=True, metadata={"description": "lifetime coins of gifts sent"}
    )
    links = ma.fields.List(ma.fields.Nested(LinkSchema), dump_only=True)
    created_at = ma.fields.DateTime(dump_only=True)


class LiveNowSchema(ma.Schema):
    """Where a profile is live right now."""

    stream_id = ma.fields.UUID(dump_only=True)
    room = ma.fields.String(dump_only=True, metadata={"description": "the room's slug"})
    position = ma.fields.Integer(dump_only=True, metadata={"description": "the box it occupies"})
    title = ma.fields.String(dump_only=True, allow_none=True)
    started_at = ma.fields.DateTime(dump_only=True)


class ProfilePageSchema(PublicProfileSchema):
    """A public profile with its live status and leaderboard ranks (GET /profiles/{username})."""

    is_live = ma.fields.Boolean(dump_only=True, metadata={"description": "live in a box now"})
    live = ma.fields.Nested(
        LiveNowSchema,
        dump_only=True,
        allow_none=True,
        metadata={"description": "the live stream, its room and box; null when not live"},
    )

    leaderboard_ranks = ma.fields.Nested(
        LeaderboardRanksSchema,
        dump_only=True,
        metadata={"description": "current leaderboard ranks, as of the last rebuild"},
    )


class FollowEntrySchema(ma.Schema):
    """A profile in a follower/following list and when the follow began."""

    profile = ma.fields.Nested(ProfileSummarySchema, dump_only=True)
    followed_at = ma.fields.DateTime(dump_only=True)


FollowPageSchema = page_schema(FollowEntrySchema, "FollowPage")


class FollowStateSchema(ma.Schema):
    """Whether the caller follows the profile (now, or after following or unfollowing)."""

    following = ma.fields.Boolean(dump_only=True)
    follower_count = ma.fields.Integer(
        dump_only=True, metadata={"description": "the followed profile's follower count"}
    )

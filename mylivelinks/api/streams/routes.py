"""Streams: the top gifters of a stream."""

from __future__ import annotations

import marshmallow as ma
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import validate

from mylivelinks.api.errors import ErrorSchema
from mylivelinks.api.profiles.schemas import ProfileSummarySchema
from mylivelinks.services.gifts import stream_leaderboard

blp = Blueprint("streams", __name__, url_prefix="/streams", description="Streams")


class LeaderboardArgsSchema(ma.Schema):
    """`?limit=` of a stream leaderboard."""

    limit = ma.fields.Integer(load_default=10, validate=validate.Range(min=1, max=100))


class GifterSchema(ma.Schema):
    """One gifter's place."""

    rank = ma.fields.Integer(dump_only=True)
    coins = ma.fields.Integer(dump_only=True)
    profile = ma.fields.Nested(ProfileSummarySchema, dump_only=True)


class StreamLeaderboardSchema(ma.Schema):
    """Top gifters of a stream, most coins first (ties: who gave first)."""

    items = ma.fields.List(ma.fields.Nested(GifterSchema), dump_only=True)


@blp.route("/<uuid:stream_id>/leaderboard")
class StreamLeaderboard(MethodView):
    @blp.arguments(LeaderboardArgsSchema, location="query")
    @blp.response(200, StreamLeaderboardSchema)
    @blp.alt_response(404, schema=ErrorSchema, description="No such stream")
    def get(self, args, stream_id):
        """The top gifters of a stream"""
        rows = stream_leaderboard(stream_id, limit=args["limit"])
        return {
            "items": [
                {"rank": rank, "coins": coins, "profile": profile}
                for rank, (profile, coins, _) in enumerate(rows, start=1)
            ]
        }

"""Leaderboards: top streamers and top gifters per period, read from the last rebuild."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import jsonify
from flask.views import MethodView

from mylivelinks.api.blueprint import Blueprint
from mylivelinks.api.errors import ErrorSchema
from mylivelinks.api.leaderboards.schemas import LeaderboardArgsSchema, LeaderboardSchema
from mylivelinks.services.leaderboards import boards

blp = Blueprint("leaderboards", __name__, url_prefix="/leaderboards", description="Leaderboards")

_schema = LeaderboardSchema()
# Per process: (board, period) -> the computed_at and the dumped top 100 of that rebuild.
# A board changes only when it is rebuilt, so a read serves this copy while its rebuild is
# the one published after the last commit (one Redis lookup), and reads the database (one
# statement, so one rebuild's board, whole) only after a rebuild or when none is known.
# Profile summaries are as they were at the first read after the rebuild.
_dumped: dict[tuple[str, str], tuple[datetime, dict[str, Any]]] = {}


def _top(board: str, period: str) -> dict[str, Any]:
    cached = _dumped.get((board, period))
    if cached is not None and boards.is_current(cached[0]):
        return cached[1]
    data = boards.read_board(board, period, boards.MAX_LIMIT)
    dumped = _schema.dump(data)
    if data["computed_at"] is not None:
        _dumped[(board, period)] = (data["computed_at"], dumped)
    return dumped


@blp.route("/<string:board>")
class Board(MethodView):
    @blp.arguments(LeaderboardArgsSchema(), location="query")
    @blp.response(200, LeaderboardSchema)
    @blp.alt_response(404, schema=ErrorSchema, description="No such board")
    def get(self, args, board):
        """Top streamers (coins received) or gifters (coins spent) for a period

        `board` is `streamers` or `gifters`. Periods are the current day (the default), week
        (from Monday) and month in LEADERBOARD_TIMEZONE, and all time. Read from the last
        rebuild (about every minute): before the first one, no items and null `computed_at`.
        """
        top = _top(board, args["period"])
        # Already dumped: returned as a response, flask-smorest does not dump it again.
        return jsonify({**top, "items": top["items"][: args["limit"]]})

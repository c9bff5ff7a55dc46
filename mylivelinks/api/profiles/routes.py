"""Public profiles, follows and follow lists."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask.views import MethodView

from mylivelinks.api.blueprint import Blueprint
from mylivelinks.api.errors import ErrorSchema
from mylivelinks.api.profiles.schemas import (
    FollowPageSchema,
    FollowStateSchema,
    ProfilePageSchema,
)
from mylivelinks.api.schemas import PageArgsSchema
from mylivelinks.api.security import auth_required, current_user
from mylivelinks.models import Profile
from mylivelinks.services.accounts import follows
from mylivelinks.services.accounts.users import get_by_username
from mylivelinks.services.leaderboards import boards
from mylivelinks.services.rooms.state import live_status

blp = Blueprint(
    "profiles", __name__, url_prefix="/profiles", description="Public profiles and follows"
)

NOT_FOUND = {"schema": ErrorSchema, "description": "No such profile"}


@dataclass(frozen=True)
class ProfilePage:
    """A profile with what only its page shows (ProfilePageSchema reads both)."""

    profile: Profile
    leaderboard_ranks: dict[str, dict[str, int | None]]
    live: dict[str, Any] | None

    @property
    def is_live(self) -> bool:
        """Whether the profile is live in a box now."""
        return self.live is not None

    def __getattr__(self, name: str) -> Any:
        return getattr(self.profile, name)


@blp.route("/<username:username>")
class PublicProfile(MethodView):
    @blp.response(200, ProfilePageSchema)
    @blp.alt_response(404, **NOT_FOUND)
    def get(self, username):
        """A public profile (username compared case-insensitively), live status and ranks"""
        profile = get_by_username(username)
        return ProfilePage(profile, boards.profile_ranks(profile.id), _live_now(profile))


def _live_now(profile: Profile) -> dict[str, Any] | None:
    status = live_status(profile.id)
    if status is None:
        return None
    return {
        "stream_id": status.stream.id,
        "room": status.room_slug,
        "position": status.position,
        "title": status.stream.title,
        "started_at": status.stream.started_at,
    }


@blp.route("/<username:username>/follow")
class FollowProfile(MethodView):
    @auth_required(blp)
    @blp.response(200, FollowStateSchema)
    @blp.alt_response(404, **NOT_FOUND)
    def get(self, username):
        """Whether the caller follows a profile, and its follower count (for a follow button)"""
        followee = get_by_username(username)
        following = follows.is_following(current_user(), followee)
        return {"following": following, "follower_count": followee.follower_count}

    @auth_required(blp)
    @blp.response(200, FollowStateSchema)
    @blp.alt_response(404, **NOT_FOUND)
    @blp.alt_response(422, schema=ErrorSchema, description="Following yourself")
    def post(self, username):
        """Follow a profile (following twice is still one follow)"""
        followee = get_by_username(username)
        follows.follow(current_user(), followee)
        return {"following": True, "follower_count": followee.follower_count}

    @auth_required(blp)
    @blp.response(200, FollowStateSchema)
    @blp.alt_response(404, **NOT_FOUND)
    def delete(self, username):
        """Unfollow a profile (unfollowing twice is fine)"""
        followee = get_by_username(username)
        follows.unfollow(current_user(), followee)
        return {"following": False, "follower_count": followee.follower_count}


def _entries(page):
    return {
        "items": [{"profile": row.Profile, "followed_at": row.followed_at} for row in page.items],
        "next_cursor": page.next_cursor,
    }


@blp.route("/<username:username>/followers")
class Followers(MethodView):
    @blp.arguments(PageArgsSchema(), location="query")
    @blp.response(200, FollowPageSchema)
    @blp.alt_response(404, **NOT_FOUND)
    def get(self, args, username):
        """Who follows this profile, most recent first"""
        page = follows.followers(get_by_username(username), **args)
        return _entries(page)


@blp.route("/<username:username>/following")
class Following(MethodView):
    @blp.arguments(PageArgsSchema(), location="query")
    @blp.response(200, FollowPageSchema)
    @blp.alt_response(404, **NOT_FOUND)
    def get(self, args, username):
        """Whom this profile follows, most recent first"""
        page = follows.following(get_by_username(username), **args)
        return _entries(page)

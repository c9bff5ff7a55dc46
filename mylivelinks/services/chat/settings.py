"""A room's settings that moderators change: slow mode, blocked terms, anonymous viewing."""

from __future__ import annotations

from typing import Any

from mylivelinks.extensions import db
from mylivelinks.models import Profile, Room
from mylivelinks.services.moderation.actions import record_action

DEFAULTS: dict[str, Any] = {"slow_mode_seconds": 0, "blocked_terms": [], "anonymous_viewing": False}


def settings_of(room: Room) -> dict[str, Any]:
    """The room's settings as one document."""
    return {
        "slow_mode_seconds": room.slow_mode_seconds,
        "blocked_terms": list(room.blocked_terms),
        "anonymous_viewing": room.anonymous_viewing,
    }


def update_settings(room: Room, moderator: Profile, changes: dict[str, Any]) -> Room:
    """Apply the given settings and leave the others alone; blocked terms are stored
    lower-case, without duplicates. The room must be locked by the caller."""
    unknown = set(changes) - set(DEFAULTS)
    if unknown:
        raise ValueError(f"not room settings: {sorted(unknown)}")
    if "slow_mode_seconds" in changes:
        room.slow_mode_seconds = changes["slow_mode_seconds"]
    if "blocked_terms" in changes:
        terms = {term.strip().lower() for term in changes["blocked_terms"]}
        room.blocked_terms = sorted(term for term in terms if term)
    if "anonymous_viewing" in changes:
        room.anonymous_viewing = changes["anonymous_viewing"]
    audited: dict[str, Any] = {
        name: len(room.blocked_terms) if name == "blocked_terms" else value
        for name, value in settings_of(room).items()
        if name in changes
    }
    record_action(moderator, "room_settings", room=room, changed=sorted(changes), values=audited)
    db.session.flush()
    return room


def replace_settings(room: Room, moderator: Profile, document: dict[str, Any]) -> Room:
    """Replace the whole settings document: what it omits goes back to its default."""
    return update_settings(room, moderator, {**DEFAULTS, **document})

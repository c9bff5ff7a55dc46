"""Editing one's own profile and links."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, select

from mylivelinks.extensions import db
from mylivelinks.models import Profile, ProfileLink

EDITABLE_FIELDS = ("display_name", "bio", "avatar_url", "latitude", "longitude", "timezone")
MAX_LINKS = 20


def update_profile(profile: Profile, changes: dict[str, Any]) -> Profile:
    """Apply the given editable fields to `profile`."""
    for field, value in changes.items():
        if field not in EDITABLE_FIELDS:
            raise ValueError(f"{field} is not editable")
        setattr(profile, field, value)
    db.session.flush()
    return profile


def replace_links(profile: Profile, links: list[dict[str, str]]) -> list[ProfileLink]:
    """Replace the whole ordered list of `profile`'s links."""
    if len(links) > MAX_LINKS:
        raise ValueError(f"at most {MAX_LINKS} links")
    # Two concurrent replacements would both delete, then collide on (profile_id, position).
    db.session.execute(
        select(Profile.id).where(Profile.id == profile.id).with_for_update(key_share=True)
    )
    db.session.execute(delete(ProfileLink).where(ProfileLink.profile_id == profile.id))
    db.session.expire(profile, ["links"])
    for position, link in enumerate(links, start=1):
        db.session.add(
            ProfileLink(
                profile_id=profile.id, position=position, title=link["title"], url=link["url"]
            )
        )
    db.session.flush()
    return profile.links

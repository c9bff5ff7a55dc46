"""Following profiles, with follower/following counts kept exact under concurrency."""

from __future__ import annotations

from sqlalchemy import delete, select, update
from sqlalchemy.dialects.postgresql import insert

from mylivelinks.extensions import db
from mylivelinks.models import Follow, Profile
from mylivelinks.pagination import Page, keyset_page
from mylivelinks.services.errors import InvalidInput


def _bump_counts(follower: Profile, followee: Profile, delta: int) -> None:
    # Atomic increments, so concurrent follows of one profile never lose one; rows are
    # touched in id order so that A following B while B follows A cannot deadlock.
    changes = {
        followee.id: {"follower_count": Profile.follower_count + delta},
        follower.id: {"following_count": Profile.following_count + delta},
    }
    for profile_id in sorted(changes):
        db.session.execute(
            update(Profile).where(Profile.id == profile_id).values(changes[profile_id])
        )
    db.session.expire(followee, ["follower_count"])
    db.session.expire(follower, ["following_count"])


def follow(follower: Profile, followee: Profile) -> bool:
    """Make `follower` follow `followee`; True if this created the follow, False if it existed."""
    if follower.id == followee.id:
        raise InvalidInput("You cannot follow yourself.", field="username")
    created = db.session.execute(
        insert(Follow)
        .values(follower_id=follower.id, followee_id=followee.id)
        .on_conflict_do_nothing()
        .returning(Follow.follower_id)
    ).scalar()
    if created is not None:
        _bump_counts(follower, followee, +1)
    return created is not None


def unfollow(follower: Profile, followee: Profile) -> bool:
    """Stop following; True if a follow was removed, False if there was none."""
    removed = db.session.execute(
        delete(Follow)
        .where(Follow.follower_id == follower.id, Follow.followee_id == followee.id)
        .returning(Follow.follower_id)
    ).scalar()
    if removed is not None:
        _bump_counts(follower, followee, -1)
    return removed is not None


def is_following(follower: Profile, followee: Profile) -> bool:
    """Whether `follower` follows `followee`."""
    row = db.session.execute(
        select(Follow.follower_id).where(
            Follow.follower_id == follower.id, Follow.followee_id == followee.id
        )
    ).first()
    return row is not None


def _list(join_on, filter_column, profile: Profile, limit: int, cursor: str | None) -> Page:
    stmt = (
        select(Profile, Follow.created_at.label("followed_at"))
        .join(Follow, join_on == Profile.id)
        .where(filter_column == profile.id)
    )
    return keyset_page(
        stmt,
        [Follow.created_at, join_on],
        limit=limit,
        cursor=cursor,
        cursor_of=lambda row: (row.followed_at, row.Profile.id),
    )


def followers(profile: Profile, *, limit: int, cursor: str | None) -> Page:
    """Profiles following `profile`, most recent first; rows of (Profile, followed_at)."""
    return _list(Follow.follower_id, Follow.followee_id, profile, limit, cursor)


def following(profile: Profile, *, limit: int, cursor: str | None) -> Page:
    """Profiles `profile` follows, most recent first; rows of (Profile, followed_at)."""
    return _list(Follow.followee_id, Follow.follower_id, profile, limit, cursor)

"""Room chat: posting (bans, timeouts, blocked terms, slow mode), history, deletion.

Posting and deleting tell the room once committed.
"""

from __future__ import annotations

import re
import uuid
from datetime import datetime

from sqlalchemy import select

from mylivelinks.events import chat as chat_events
from mylivelinks.extensions import db, get_redis
from mylivelinks.models import ChatMessage, Profile, Room
from mylivelinks.models.chat import MessageKind
from mylivelinks.pagination import Page, keyset_page
from mylivelinks.services.errors import Forbidden, InvalidInput, NotFound, RateLimited
from mylivelinks.services.moderation.actions import STAFF, record_action
from mylivelinks.services.moderation.bans import active_restriction
from mylivelinks.transaction import after_commit


def contains_blocked_term(body: str, terms: list[str]) -> bool:
    """Whether `body` contains any of `terms` as a whole word, in any case."""
    if not terms:
        return False
    alternatives = "|".join(re.escape(term) for term in terms)
    return re.search(rf"(?<!\w)(?:{alternatives})(?!\w)", body, re.IGNORECASE) is not None


def _refuse_if_restricted(room: Room, author: Profile, now: datetime) -> None:
    restriction = active_restriction(room.id, author.id, now)
    if restriction is None:
        return
    if restriction.is_ban:
        raise Forbidden(f"You are banned from {room.slug}.")
    raise Forbidden(
        f"You are timed out in {room.slug} until {restriction.expires_at:%H:%M:%S} UTC."
    )


def _hold_slow_mode(room: Room, author: Profile) -> None:
    # One token per user and room, taken atomically: concurrent posts cannot both pass.
    if not room.slow_mode_seconds or author.role in STAFF:
        return
    key = f"chat-slow:{room.id}:{author.id}"
    redis = get_redis()
    if not redis.set(key, 1, nx=True, ex=room.slow_mode_seconds):
        wait = max(redis.ttl(key), 1)
        raise RateLimited(f"Slow mode: wait {wait} s between messages.", retry_after=wait)


def post_message(room: Room, author: Profile, body: str, now: datetime) -> ChatMessage:
    """Post a user's message (trimmed), told to the room once committed; Forbidden when
    banned or timed out."""
    text = body.strip()
    if not text:
        raise InvalidInput("A message cannot be empty.", field="body")
    _refuse_if_restricted(room, author, now)
    if contains_blocked_term(text, room.blocked_terms):
        raise InvalidInput("The message contains a term that is not allowed here.", field="body")
    _hold_slow_mode(room, author)
    message = ChatMessage(room_id=room.id, author_id=author.id, kind=MessageKind.USER, body=text)
    db.session.add(message)
    db.session.flush()
    payload, slug = chat_events.payload_of(message, author), room.slug
    after_commit(lambda: chat_events.message_posted(slug, payload))
    return message


def history(room: Room, *, limit: int, cursor: str | None) -> Page:
    """The room's messages, newest first, deleted ones hidden; rows of (message, author)."""
    stmt = (
        select(ChatMessage, Profile)
        .outerjoin(Profile, Profile.id == ChatMessage.author_id)
        .where(ChatMessage.room_id == room.id, ChatMessage.deleted_at.is_(None))
    )
    return keyset_page(
        stmt,
        [ChatMessage.created_at, ChatMessage.id],
        limit=limit,
        cursor=cursor,
        cursor_of=lambda row: (row.ChatMessage.created_at, row.ChatMessage.id),
    )


def delete_message(room: Room, message_id: uuid.UUID, actor: Profile, now: datetime) -> None:
    """Hide a message (its author or a moderator may); the room is told once committed."""
    message = db.session.get(ChatMessage, message_id, with_for_update=True)
    if message is None or message.room_id != room.id or message.deleted_at is not None:
        raise NotFound("No such message.")
    own = message.author_id == actor.id
    if not own and actor.role not in STAFF:
        raise Forbidden("Only its author or a moderator can delete a message.")
    message.deleted_at, message.deleted_by = now, actor.id
    if not own:
        author = db.session.get(Profile, message.author_id) if message.author_id else None
        record_action(actor, "delete_message", room=room, target=author, message_id=str(message.id))
    db.session.flush()
    slug, deleted_id = room.slug, str(message.id)
    after_commit(lambda: chat_events.message_deleted(slug, deleted_id))

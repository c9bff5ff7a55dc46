"""Idempotency-Key for money-moving POSTs: a retried request replays the first response.

The stored response is written in the same database transaction as the change it
describes, so it exists exactly when the change was committed. A transaction-scoped
PostgreSQL advisory lock on the key, taken in that transaction, turns a concurrent
duplicate into 409 instead of a second execution; it ends with the transaction, so a
request killed before committing (its connection closed) frees the key at once and the
retry runs. (A view that ends its read-only transaction before a vendor call, as checkout
does, is covered up to that call; after it, the unique record refuses the second one.)
"""

from __future__ import annotations

import functools
import hashlib
import json
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from flask import Response, g, make_response, request
from flask_smorest import abort
from sqlalchemy import CursorResult, delete, func, select
from sqlalchemy.exc import IntegrityError

from mylivelinks.api.blueprint import Blueprint
from mylivelinks.api.errors import ErrorSchema
from mylivelinks.api.input import (
    UNSTORABLE_TEXT_MESSAGE,
    MalformedJson,
    is_storable_text,
    parse_json_body,
)
from mylivelinks.extensions import db
from mylivelinks.models.payments import IdempotencyRecord

HEADER = "Idempotency-Key"
WINDOW = timedelta(hours=24)
HEADER_DOC = {
    "in": "header",
    "name": HEADER,
    "required": False,
    "schema": {"type": "string", "minLength": 1, "maxLength": 255},
    "description": "Retrying with the same key and body replays the first response "
    "(kept 24 h); the same key with another body, or while the first is running, is 409.",
}


def key_given() -> bool:
    """Whether the request carries an Idempotency-Key (its response commits with its change)."""
    return HEADER in request.headers


def key_problem(key: str) -> str | None:
    """Why `key` cannot be an Idempotency-Key, or None when it can."""
    if not 1 <= len(key) <= 255:
        return "Must be 1 to 255 characters."
    if not is_storable_text(key):
        return UNSTORABLE_TEXT_MESSAGE
    return None


def _fingerprint() -> str:
    raw = request.get_data()
    try:
        body = json.dumps(parse_json_body(raw or b"null"), sort_keys=True, separators=(",", ":"))
    except MalformedJson:  # the view's parser refuses it; the fingerprint needs no JSON
        body = raw.decode("utf-8", "replace")
    target = request.full_path.rstrip("?")
    return hashlib.sha256(f"{request.method} {target}\n{body}".encode()).hexdigest()


def _stored(profile_id, key: str) -> IdempotencyRecord | None:
    return db.session.scalar(
        select(IdempotencyRecord).where(
            IdempotencyRecord.profile_id == profile_id,
            IdempotencyRecord.key == key,
            IdempotencyRecord.created_at > datetime.now(UTC) - WINDOW,
        )
    )


def _replay(record: IdempotencyRecord, fingerprint: str) -> Response:
    if record.fingerprint != fingerprint:
        abort(409, message=f"This {HEADER} was already used with a different request.")
    response = make_response(json.dumps(record.body), record.status_code)
    response.headers["Content-Type"] = "application/json"
    response.headers["Idempotent-Replayed"] = "true"
    return response


def _claim(profile_id, key: str) -> bool:
    """Take the key for this request's transaction; False while another transaction has it.

    The lock is PostgreSQL's: it ends with the transaction, however that ends (commit,
    rollback, or the connection closed by a killed process).
    """
    return bool(
        db.session.scalar(
            select(func.pg_try_advisory_xact_lock(func.hashtextextended(f"{profile_id}:{key}", 0)))
        )
    )


def idempotent(blp: Blueprint):
    """Honour an Idempotency-Key header on the view (place it under `auth_required`)."""

    def decorator(view):
        @functools.wraps(view)
        def wrapper(*args, **kwargs):
            key = request.headers.get(HEADER)
            if key is None:
                return view(*args, **kwargs)
            if problem := key_problem(key):
                # Grouped by location like the parser's errors, so the envelope names the header.
                abort(422, errors={"headers": {HEADER: [problem]}})
            profile_id = g.current_user_id
            fingerprint = _fingerprint()
            if record := _stored(profile_id, key):
                return _replay(record, fingerprint)
            if not _claim(profile_id, key):
                abort(409, message=f"A request with this {HEADER} is still in progress.")
            if record := _stored(profile_id, key):  # committed while we took the lock
                return _replay(record, fingerprint)
            response = make_response(view(*args, **kwargs))
            if response.status_code >= 400:
                return response  # nothing was written: a retry may run again
            _remember(profile_id, key, fingerprint, response)
            return response

        documented = blp.alt_response(
            409, schema=ErrorSchema, description="Idempotency-Key misuse"
        )(wrapper)
        return blp.doc(parameters=[HEADER_DOC])(documented)

    return decorator


def _remember(profile_id, key: str, fingerprint: str, response: Response) -> None:
    db.session.execute(
        delete(IdempotencyRecord).where(
            IdempotencyRecord.profile_id == profile_id,
            IdempotencyRecord.key == key,
            IdempotencyRecord.created_at <= datetime.now(UTC) - WINDOW,
        )
    )
    try:
        with db.session.begin_nested():
            db.session.add(
                IdempotencyRecord(
                    profile_id=profile_id,
                    key=key,
                    fingerprint=fingerprint,
                    status_code=response.status_code,
                    body=response.get_json(),
                )
            )
    except IntegrityError:
        # Another execution with this key committed first: this one must not count.
        abort(409, message=f"This {HEADER} was already used; retry to get its response.")


def purge_expired_records() -> int:
    """Delete stored responses older than the 24-hour window; returns how many."""
    result = db.session.execute(
        delete(IdempotencyRecord).where(IdempotencyRecord.created_at < datetime.now(UTC) - WINDOW)
    )
    return cast(CursorResult[Any], result).rowcount

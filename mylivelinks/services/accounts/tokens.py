"""Access tokens (short-lived JWTs) and refresh tokens (opaque, hashed, rotated)."""

from __future__ import annotations

import functools
import hashlib
import secrets
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from types import MappingProxyType
from typing import Any, cast

import jwt
from flask import current_app
from sqlalchemy import CursorResult, delete, or_, select, update

from mylivelinks.extensions import db
from mylivelinks.models import Profile, RefreshToken
from mylivelinks.services.errors import Unauthorized

ACCESS_ALGORITHM = "HS256"


@dataclass(frozen=True)
class TokenPair:
    """What login, registration and refresh hand back."""

    access_token: str
    refresh_token: str
    expires_at: datetime
    token_type: str = "Bearer"


class RefreshTokenReused(Unauthorized):
    """A spent refresh token came back: its whole family has been revoked."""

    keeps_changes = True


def _now() -> datetime:
    return datetime.now(UTC)


def _hash(raw_token: str) -> str:
    return hashlib.sha256(raw_token.encode()).hexdigest()


def mint_access_token(profile: Profile) -> tuple[str, datetime]:
    """A signed access JWT for `profile` and its expiry."""
    config = current_app.config
    issued = _now()
    expires = issued + timedelta(seconds=config["ACCESS_TOKEN_TTL_SECONDS"])
    claims = {
        "iss": config["JWT_ISSUER"],
        "sub": str(profile.id),
        "role": profile.role,
        "typ": "access",
        "iat": issued,
        "exp": expires,
        "jti": uuid.uuid4().hex,
    }
    return jwt.encode(claims, config["SECRET_KEY"], algorithm=ACCESS_ALGORITHM), expires


def decode_access_token(token: str) -> dict:
    """Claims of one of our access tokens; Unauthorized if forged, expired or malformed."""
    config = current_app.config
    claims = _verified_claims(token, config["SECRET_KEY"], config["JWT_ISSUER"])
    if claims["exp"] <= _now().timestamp():
        raise Unauthorized("The access token has expired.")
    return dict(claims)


# Checking a token's signature and form costs about 0.1 ms of CPU (mostly PyJWT checking
# each base64 character), on every authenticated request. A token that passed is
# remembered by its exact text with its claims (a forged or malformed one never is);
# expiry is checked at every use, above.
@functools.lru_cache(maxsize=4096)
def _verified_claims(token: str, secret: str, issuer: str) -> Mapping[str, Any]:
    try:
        claims = jwt.decode(
            token,
            secret,
            algorithms=[ACCESS_ALGORITHM],
            issuer=issuer,
            options={"require": ["exp", "iat", "sub", "iss"], "verify_exp": False},
        )
    except jwt.InvalidTokenError:
        raise Unauthorized("The access token is invalid.") from None
    if claims.get("typ") != "access":
        raise Unauthorized("The token is not an access token.")
    if not isinstance(claims["exp"], int | float):
        raise Unauthorized("The access token is invalid.")
    return MappingProxyType(claims)


def _new_refresh_token(profile_id: uuid.UUID, family_id: uuid.UUID) -> str:
    raw = secrets.token_urlsafe(48)
    ttl = timedelta(seconds=current_app.config["REFRESH_TOKEN_TTL_SECONDS"])
    db.session.add(
        RefreshToken(
            profile_id=profile_id,
            family_id=family_id,
            token_hash=_hash(raw),
            expires_at=_now() + ttl,
        )
    )
    db.session.flush()
    return raw


def issue_token_pair(profile: Profile) -> TokenPair:
    """Start a new session for `profile`: an access token and a fresh refresh-token family."""
    access, expires = mint_access_token(profile)
    refresh = _new_refresh_token(profile.id, family_id=uuid.uuid4())
    return TokenPair(access_token=access, refresh_token=refresh, expires_at=expires)


def rotate_refresh_token(raw_token: str) -> tuple[Profile, TokenPair]:
    """Spend a refresh token (once) and return a new pair in the same family."""
    # One conditional UPDATE: of two concurrent refreshes with one token only one wins.
    spent = db.session.execute(
        update(RefreshToken)
        .where(
            RefreshToken.token_hash == _hash(raw_token),
            RefreshToken.revoked_at.is_(None),
            RefreshToken.expires_at > _now(),
        )
        .values(revoked_at=_now())
        .returning(RefreshToken.profile_id, RefreshToken.family_id)
    ).one_or_none()
    if spent is None:
        _revoke_family_if_reused(raw_token)
        raise Unauthorized("The refresh token is invalid or expired.")
    profile = db.session.get(Profile, spent.profile_id)
    if profile is None:  # deleted since (its tokens go with it, but not within this read)
        raise Unauthorized("The refresh token is invalid or expired.")
    access, expires = mint_access_token(profile)
    refresh = _new_refresh_token(profile.id, family_id=spent.family_id)
    return profile, TokenPair(access_token=access, refresh_token=refresh, expires_at=expires)


def _revoke_family_if_reused(raw_token: str) -> None:
    # A spent token presented again means two parties hold the chain (RFC 9700 §4.14):
    # revoke every live token of the family, the thief's and the owner's alike.
    family_id = db.session.scalar(
        select(RefreshToken.family_id).where(
            RefreshToken.token_hash == _hash(raw_token), RefreshToken.revoked_at.is_not(None)
        )
    )
    if family_id is None:
        return
    db.session.execute(
        update(RefreshToken)
        .where(RefreshToken.family_id == family_id, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=_now())
    )
    raise RefreshTokenReused("The refresh token was already used; the session has been ended.")


def revoke_refresh_token(raw_token: str) -> None:
    """Revoke a refresh token; revoking it again is a no-op, an unknown token is Unauthorized."""
    token = db.session.scalar(
        select(RefreshToken).where(RefreshToken.token_hash == _hash(raw_token))
    )
    if token is None:
        raise Unauthorized("The refresh token is invalid.")
    db.session.execute(
        update(RefreshToken)
        .where(RefreshToken.id == token.id, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=_now())
    )


def purge_dead_refresh_tokens(older_than: timedelta) -> int:
    """Delete refresh tokens expired or revoked more than `older_than` ago; returns the count."""
    cutoff = _now() - older_than
    result = db.session.execute(
        delete(RefreshToken).where(
            or_(RefreshToken.expires_at < cutoff, RefreshToken.revoked_at < cutoff)
        )
    )
    return cast(CursorResult[Any], result).rowcount

"""Bearer authentication for views: who is calling, and may they."""

from __future__ import annotations

import functools
import uuid

import jwt
from flask import current_app, g, request
from flask_smorest import abort

from mylivelinks.api.blueprint import Blueprint
from mylivelinks.api.errors import ErrorSchema
from mylivelinks.extensions import db
from mylivelinks.models import Profile
from mylivelinks.models.profiles import Role
from mylivelinks.services.accounts.external_identity import (
    external_verifier,
    profile_for_external_claims,
)
from mylivelinks.services.accounts.tokens import decode_access_token
from mylivelinks.services.errors import Unauthorized

BEARER: list[dict[str, list[str]]] = [{"bearerAuth": []}]
CHALLENGE = {"WWW-Authenticate": 'Bearer realm="mylivelinks"'}


def _bearer_token() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return None


def _is_ours(token: str) -> bool:
    try:
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.InvalidTokenError:
        return True  # let our own verification produce the error
    return claims.get("iss") == current_app.config["JWT_ISSUER"]


def profile_from_token(token: str) -> Profile:
    """The profile a bearer token (ours or the external provider's) stands for."""
    verifier = external_verifier()
    if verifier is not None and not _is_ours(token):
        return profile_for_external_claims(verifier.verify(token))
    claims = decode_access_token(token)
    profile = db.session.get(Profile, _uuid_or_401(claims["sub"]))
    if profile is None:
        raise Unauthorized("The account no longer exists.")
    return profile


def _uuid_or_401(value: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError:
        raise Unauthorized("The access token is invalid.") from None


def caller_from_token(token: str) -> tuple[uuid.UUID, str]:
    """(profile id, role) a bearer token stands for, without reading our own tokens' profile."""
    verifier = external_verifier()
    if verifier is not None and not _is_ours(token):
        profile = profile_from_token(token)  # may create the profile on first sight
        return profile.id, profile.role
    claims = decode_access_token(token)
    return _uuid_or_401(claims["sub"]), claims.get("role", Role.USER)


def current_user() -> Profile:
    """The authenticated caller of this request (set by `auth_required`)."""
    return g.current_user


def current_user_id() -> uuid.UUID:
    """The authenticated caller's id (set by `auth_required`, with or without the profile)."""
    return g.current_user_id


def auth_required(
    blp: Blueprint, *roles: str, load_profile: bool = True, allow_guests: bool = False
):
    """Require a valid bearer token (and one of `roles`, when given); documents 401/403.

    `load_profile=False` trusts a valid token of ours without reading the profile, for the
    hottest requests; only `current_user_id()` is available then. Guests (`POST
    /auth/guest`) get 403 unless `allow_guests`: they may only watch.
    """
    if roles and not load_profile:
        raise ValueError("Checking roles needs the profile.")

    def decorator(view):
        @functools.wraps(view)
        def wrapper(*args, **kwargs):
            try:
                token = _bearer_token()
                if token is None:
                    raise Unauthorized("A bearer access token is required.")
                if load_profile:
                    g.current_user = profile_from_token(token)
                    g.current_user_id, role = g.current_user.id, g.current_user.role
                else:
                    g.current_user_id, role = caller_from_token(token)
            except Unauthorized as exc:
                abort(401, message=exc.message, headers=CHALLENGE)
            if role == Role.GUEST and not allow_guests:
                abort(403, message="Guests can only watch: create an account to do this.")
            if roles and g.current_user.role not in roles:
                abort(403, message="You are not allowed to do this.")
            return view(*args, **kwargs)

        documented = blp.alt_response(401, schema=ErrorSchema, description="Not authenticated")(
            wrapper
        )
        if roles or not allow_guests:
            refused = "Not allowed" if roles else "A guest token (guests may only watch)"
            documented = blp.alt_response(403, schema=ErrorSchema, description=refused)(documented)
        return blp.doc(security=BEARER)(documented)

    return decorator

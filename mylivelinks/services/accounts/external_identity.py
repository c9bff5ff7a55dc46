"""Bearer tokens from an external identity provider (Supabase Auth style: `sub` is the user id)."""

from __future__ import annotations

import uuid

import jwt
from flask import Flask, current_app
from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert

from mylivelinks.extensions import db
from mylivelinks.models import Profile
from mylivelinks.services.accounts.usernames import username_candidate
from mylivelinks.services.errors import Unauthorized

ASYMMETRIC_ALGORITHMS = ["RS256", "RS384", "RS512", "ES256", "ES384", "PS256"]


class ExternalTokenVerifier:
    """Verifies external JWTs with a shared HS256 secret and/or keys from a JWKS URL."""

    def __init__(
        self, *, secret: str | None, jwks_url: str | None, issuer: str | None, audience: str | None
    ):
        self.secret = secret
        self.jwks = jwt.PyJWKClient(jwks_url, cache_keys=True, lifespan=300) if jwks_url else None
        self.issuer = issuer
        self.audience = audience

    def verify(self, token: str) -> dict:
        """The verified claims of `token`; Unauthorized when it is not valid."""
        try:
            algorithm = jwt.get_unverified_header(token).get("alg")
            if algorithm == "HS256" and self.secret:
                key = self.secret
            elif algorithm in ASYMMETRIC_ALGORITHMS and self.jwks:
                signing_key = self.jwks.get_signing_key_from_jwt(token)
                # The key decides the algorithm, never the token's header alone.
                if signing_key.algorithm_name != algorithm:
                    raise Unauthorized("The token's algorithm does not match its key.")
                key = signing_key.key
            else:
                raise Unauthorized("The token's algorithm is not accepted.")
            return jwt.decode(
                token,
                key,
                algorithms=[algorithm],
                issuer=self.issuer,
                audience=self.audience,
                options={
                    "require": ["exp", "sub", "iss"],
                    "verify_aud": self.audience is not None,
                },
            )
        except jwt.ExpiredSignatureError:
            raise Unauthorized("The access token has expired.") from None
        except (jwt.PyJWTError, TypeError, ValueError):
            raise Unauthorized("The access token is invalid.") from None


def init_external_identity(app: Flask) -> None:
    """Attach an ExternalTokenVerifier when an external provider is configured."""
    secret = app.config.get("AUTH_EXTERNAL_JWT_SECRET")
    jwks_url = app.config.get("AUTH_EXTERNAL_JWKS_URL")
    verifier = None
    if secret or jwks_url:
        verifier = ExternalTokenVerifier(
            secret=secret,
            jwks_url=jwks_url,
            issuer=app.config.get("AUTH_EXTERNAL_ISSUER"),
            audience=app.config.get("AUTH_EXTERNAL_AUDIENCE"),
        )
    app.extensions["external_identity"] = verifier


def external_verifier() -> ExternalTokenVerifier | None:
    """The configured verifier of the current app, if any."""
    return current_app.extensions.get("external_identity")


def _text_claim(claims: dict, name: str) -> str | None:
    value = claims.get(name)
    return value if isinstance(value, str) and value.strip() else None


def profile_for_external_claims(claims: dict) -> Profile:
    """The profile of this external identity (`sub` is its id), created on first sight."""
    try:
        profile_id = uuid.UUID(str(claims["sub"]))
    except ValueError:
        raise Unauthorized("The token's subject is not a user id.") from None
    issuer = claims["iss"]
    profile = db.session.get(Profile, profile_id)
    if profile is not None:
        # Never let an external token speak for a password account or another issuer's user.
        if profile.external_issuer != issuer:
            raise Unauthorized("This identity is not known from this issuer.")
        return profile
    email = _text_claim(claims, "email")
    if email and db.session.scalar(
        select(Profile.id).where(func.lower(Profile.email) == email.lower())
    ):
        email = None  # already used by another account; do not claim it
    hint = _text_claim(claims, "preferred_username") or _text_claim(claims, "user_name") or email
    for _ in range(5):
        # ON CONFLICT DO NOTHING: concurrent first requests with one token create one profile,
        # and a random suffix collision simply tries another name.
        inserted = db.session.execute(
            insert(Profile)
            .values(
                id=profile_id,
                username=username_candidate(hint),
                email=email.lower() if email else None,
                display_name=(_text_claim(claims, "name") or "")[:50] or None,
                external_issuer=issuer,
            )
            .on_conflict_do_nothing()
            .returning(Profile.id)
        ).scalar()
        profile = db.session.get(Profile, profile_id)
        if profile is None:
            continue  # the username was taken: try another
        if inserted is None:
            return profile_for_external_claims(claims)  # created concurrently: same checks
        return profile
    raise Unauthorized("Could not create a profile for this identity.")

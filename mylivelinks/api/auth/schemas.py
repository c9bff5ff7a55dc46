"""Registration, login and token schemas."""

from __future__ import annotations

import marshmallow as ma
from marshmallow import validate

from mylivelinks.api.me.schemas import OwnProfileSchema
from mylivelinks.api.schemas import Username
from mylivelinks.services.accounts.usernames import USERNAME_INPUT_PATTERN

PASSWORD = validate.Length(min=8, max=256, error="Passwords are 8 to 256 characters.")


class RegisterSchema(ma.Schema):
    """A new password account."""

    username = Username(
        required=True,
        metadata={
            "description": "3-30 of a-z, 0-9 and _, in any case: stored lower-case (the "
            "display name keeps the case given) and unique case-insensitively",
            "pattern": USERNAME_INPUT_PATTERN,
        },
    )
    email = ma.fields.Email(required=True, validate=validate.Length(max=254))
    password = ma.fields.String(required=True, load_only=True, validate=PASSWORD)

    @ma.post_load(pass_original=True)
    def display_name_keeps_the_case(self, data, original, **kwargs):
        """The display name is the username as given, case and all."""
        return {**data, "display_name": original["username"].strip()}


class LoginSchema(ma.Schema):
    """Username or e-mail, and password."""

    login = ma.fields.String(required=True, validate=validate.Length(min=1, max=254))
    password = ma.fields.String(required=True, load_only=True, validate=validate.Length(max=256))


class RefreshTokenSchema(ma.Schema):
    """A refresh token to spend (refresh) or revoke (logout)."""

    refresh_token = ma.fields.String(required=True, validate=validate.Length(min=1, max=512))


class TokenPairSchema(ma.Schema):
    """Tokens of a session, and whose session it is."""

    user = ma.fields.Nested(OwnProfileSchema, dump_only=True)
    access_token = ma.fields.String(dump_only=True)
    refresh_token = ma.fields.String(dump_only=True)
    token_type = ma.fields.String(dump_only=True, metadata={"description": "always Bearer"})
    expires_at = ma.fields.DateTime(dump_only=True, metadata={"description": "access token expiry"})


class GuestSessionSchema(ma.Schema):
    """A guest's access token: watching where rooms allow it, nothing else; no refresh."""

    user = ma.fields.Nested(OwnProfileSchema, dump_only=True)
    access_token = ma.fields.String(dump_only=True)
    token_type = ma.fields.String(dump_only=True, metadata={"description": "always Bearer"})
    expires_at = ma.fields.DateTime(
        dump_only=True, metadata={"description": "ask for a new guest token after it"}
    )

"""Register, log in, refresh and log out."""

from __future__ import annotations

from flask.views import MethodView

from mylivelinks.api.auth.schemas import (
    GuestSessionSchema,
    LoginSchema,
    RefreshTokenSchema,
    RegisterSchema,
    TokenPairSchema,
)
from mylivelinks.api.blueprint import Blueprint
from mylivelinks.api.errors import ErrorSchema
from mylivelinks.rate_limits import login_limit, rate_limited, register_limit
from mylivelinks.services.accounts import tokens, users

blp = Blueprint("auth", __name__, url_prefix="/auth", description="Accounts and sessions")


def _session_payload(profile, pair: tokens.TokenPair) -> dict:
    return {
        "user": profile,
        "access_token": pair.access_token,
        "refresh_token": pair.refresh_token,
        "token_type": pair.token_type,
        "expires_at": pair.expires_at,
    }


@blp.route("/register")
class Register(MethodView):
    @blp.arguments(RegisterSchema())
    @blp.response(201, TokenPairSchema)
    @blp.alt_response(409, schema=ErrorSchema, description="Username or e-mail taken")
    @blp.alt_response(429, schema=ErrorSchema, description="Too many requests (Retry-After)")
    @rate_limited(register_limit)
    def post(self, data):
        """Create an account and start a session"""
        profile = users.register(
            data["username"], data["email"], data["password"], display_name=data["display_name"]
        )
        return _session_payload(profile, tokens.issue_token_pair(profile))


@blp.route("/guest")
class Guest(MethodView):
    @blp.response(201, GuestSessionSchema)
    @blp.alt_response(429, schema=ErrorSchema, description="Too many requests (Retry-After)")
    @rate_limited(login_limit)
    def post(self):
        """Watch without an account: a guest token, for rooms that allow anonymous viewing"""
        profile = users.create_guest()
        access_token, expires_at = tokens.mint_access_token(profile)
        return {
            "user": profile,
            "access_token": access_token,
            "token_type": "Bearer",
            "expires_at": expires_at,
        }


@blp.route("/login")
class Login(MethodView):
    @blp.arguments(LoginSchema())
    @blp.response(200, TokenPairSchema)
    @blp.alt_response(401, schema=ErrorSchema, description="Wrong login or password")
    @blp.alt_response(429, schema=ErrorSchema, description="Too many attempts (Retry-After)")
    @rate_limited(login_limit)
    def post(self, data):
        """Log in with username or e-mail and password"""
        profile = users.authenticate(data["login"], data["password"])
        return _session_payload(profile, tokens.issue_token_pair(profile))


@blp.route("/refresh")
class Refresh(MethodView):
    @blp.arguments(RefreshTokenSchema())
    @blp.response(200, TokenPairSchema)
    @blp.alt_response(401, schema=ErrorSchema, description="Refresh token invalid, expired or used")
    def post(self, data):
        """Swap a refresh token for a new pair; the old refresh token stops working"""
        profile, pair = tokens.rotate_refresh_token(data["refresh_token"])
        return _session_payload(profile, pair)


@blp.route("/logout")
class Logout(MethodView):
    @blp.arguments(RefreshTokenSchema())
    @blp.response(204)
    @blp.alt_response(401, schema=ErrorSchema, description="Unknown refresh token")
    def post(self, data):
        """Revoke a refresh token (revoking it twice is fine)"""
        tokens.revoke_refresh_token(data["refresh_token"])

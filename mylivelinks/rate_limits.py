"""Rate limits (flask-limiter, counted in Redis with a moving window), set by configuration.

One Limiter serves every app of a process (its decorators are bound at import), so its
counters live in the Redis of the app initialised last: production runs one app per
process; tests that build an app on another Redis initialise the main app again after.
Limits are read from the config at each request, so they can differ per deployment.
"""

from __future__ import annotations

from flask import Flask, current_app, g
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address

from mylivelinks.services.moderation import STAFF

limiter = Limiter(key_func=get_remote_address, headers_enabled=True, strategy="moving-window")


def limits_storage_uri(redis_url: str) -> str:
    """The `limits` storage URI of a redis-py URL (`unix://` becomes `redis+unix://`)."""
    if redis_url.startswith("unix://"):
        return "redis+unix://" + redis_url[len("unix://") :]
    return redis_url


def init_rate_limits(app: Flask) -> None:
    """Count the app's rate limits in its Redis."""
    app.config["RATELIMIT_STORAGE_URI"] = limits_storage_uri(app.config["REDIS_URL"])
    app.config.setdefault("RATELIMIT_ENABLED", True)
    limiter.init_app(app)


def caller_key() -> str:
    """Limits per authenticated user (use under `auth_required`)."""
    return f"user:{g.current_user_id}"


def caller_is_staff() -> bool:
    """Moderators and admins are exempt from chat limits."""
    user = g.get("current_user")
    return user is not None and user.role in STAFF


def chat_limit() -> str:
    """Messages a user may post per window (CHAT_RATE_LIMIT)."""
    return current_app.config["CHAT_RATE_LIMIT"]


def gift_limit() -> str:
    """Gifts a user may send per window (GIFT_RATE_LIMIT)."""
    return current_app.config["GIFT_RATE_LIMIT"]


def login_limit() -> str:
    """Login attempts per client address per window (LOGIN_RATE_LIMIT)."""
    return current_app.config["LOGIN_RATE_LIMIT"]

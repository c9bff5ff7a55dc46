"""Rate limits counted in Redis with a moving window (the `limits` library), set by configuration.

`@rate_limited(limit, key=...)` wraps a view: each call is one hit, one Redis round trip.
Past the limit the view does not run and the caller gets 429 with `Retry-After`. Limits
are read from the config at each request, so they can differ per deployment; each app
counts in its own Redis.
"""

from __future__ import annotations

import functools
import math
import time
from collections.abc import Callable
from typing import Any

from flask import Flask, current_app, g, request
from limits import RateLimitItem, parse_many
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter

from mylivelinks.services.errors import RateLimited
from mylivelinks.services.moderation.actions import STAFF


def limits_storage_uri(redis_url: str) -> str:
    """The `limits` storage URI of a redis-py URL (`unix://` becomes `redis+unix://`)."""
    if redis_url.startswith("unix://"):
        return "redis+unix://" + redis_url[len("unix://") :]
    return redis_url


def init_rate_limits(app: Flask) -> None:
    """Count the app's rate limits in its Redis."""
    storage = storage_from_string(limits_storage_uri(app.config["REDIS_URL"]))
    app.extensions["rate_limits"] = MovingWindowRateLimiter(storage)


def client_address() -> str:
    """Limits per client address (login, guest tokens)."""
    return f"address:{request.remote_addr}"


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


def register_limit() -> str:
    """Registrations per client address per window (REGISTER_RATE_LIMIT)."""
    return current_app.config["REGISTER_RATE_LIMIT"]


def rate_limited(
    limit: Callable[[], str],
    *,
    key: Callable[[], str] = client_address,
    exempt_when: Callable[[], bool] | None = None,
) -> Callable:
    """Count each call of the view against `limit()` per `key()`; RateLimited (429) past it."""

    def decorate(view: Callable) -> Callable:
        scope = f"{view.__module__}.{view.__qualname__}"  # each limited view counts apart

        @functools.wraps(view)
        def limited_view(*args: Any, **kwargs: Any) -> Any:
            if exempt_when is None or not exempt_when():
                hit(scope, key(), limit())
            return view(*args, **kwargs)

        return limited_view

    return decorate


def hit(scope: str, key: str, limit: str) -> None:
    """Count one request of `key` in `scope`; RateLimited when any of `limit`'s rates is spent."""
    limiter: MovingWindowRateLimiter = current_app.extensions["rate_limits"]
    for item in _rates(limit):
        if not limiter.hit(item, scope, key):
            reset_at = limiter.get_window_stats(item, scope, key).reset_time
            wait = max(1, math.ceil(reset_at - time.time()))
            raise RateLimited(f"Too many requests ({item}); retry in {wait} s.", retry_after=wait)


@functools.lru_cache(maxsize=64)
def _rates(limit: str) -> tuple[RateLimitItem, ...]:
    return tuple(parse_many(limit))

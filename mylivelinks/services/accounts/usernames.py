"""Username rules: 3-30 of [a-z0-9_], case-insensitive, reserved words refused."""

from __future__ import annotations

import re
import secrets

USERNAME_PATTERN = re.compile(r"^[a-z0-9_]{3,30}$")

# Names that would shadow a site route (`/username` pages) or impersonate the platform.
RESERVED_USERNAMES = frozenset(
    {
        "about",
        "account",
        "accounts",
        "admin",
        "administrator",
        "api",
        "app",
        "auth",
        "billing",
        "checkout",
        "coins",
        "dashboard",
        "docs",
        "explore",
        "gifts",
        "healthz",
        "help",
        "home",
        "leaderboard",
        "leaderboards",
        "live",
        "login",
        "logout",
        "me",
        "metrics",
        "moderator",
        "mylivelinks",
        "notifications",
        "null",
        "openapi",
        "privacy",
        "profile",
        "profiles",
        "readyz",
        "register",
        "root",
        "rooms",
        "search",
        "settings",
        "signup",
        "static",
        "staff",
        "streams",
        "support",
        "system",
        "terms",
        "undefined",
        "wallet",
        "webhooks",
        "www",
    }
)


def normalize_username(raw: str) -> str:
    """The canonical (lower-case, trimmed) form of a username."""
    return raw.strip().lower()


def username_problem(username: str) -> str | None:
    """Why `username` (already normalised) is not allowed, or None when it is."""
    if not USERNAME_PATTERN.match(username):
        return "Usernames are 3 to 30 characters of lower-case a-z, 0-9 and _."
    if username in RESERVED_USERNAMES:
        return "This username is reserved."
    return None


def username_candidate(hint: str | None) -> str:
    """A valid username derived from `hint` (an external name or e-mail), random when empty."""
    base = re.sub(r"[^a-z0-9_]+", "_", (hint or "").split("@")[0].lower()).strip("_")[:22]
    if len(base) < 3 or base in RESERVED_USERNAMES:
        base = "user"
    return f"{base}_{secrets.token_hex(3)}"

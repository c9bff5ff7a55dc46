"""Username rules: 3-30 of [a-z0-9_], case-insensitive, reserved words refused.

A username is given in any case and stored lower-case; the display name keeps the case.
"""

from __future__ import annotations

import re
import secrets

USERNAME_PATTERN = re.compile(r"^[a-z0-9_]{3,30}$")
# What a client may type: any case, stored lower-case.
USERNAME_INPUT_PATTERN = r"^[A-Za-z0-9_]{3,30}$"

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
        "main",
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


# Prefixes of names the platform gives itself (guests are guest_<12 hex>).
RESERVED_PREFIXES = ("guest_", "system_", "mylivelinks_")


def normalize_username(raw: str) -> str:
    """The canonical (lower-case, trimmed) form of a username."""
    return raw.strip().lower()


def is_reserved(username: str) -> bool:
    """Whether `username` (normalised) is a reserved word, a room's slug or a system prefix."""
    return username in RESERVED_USERNAMES or username.startswith(RESERVED_PREFIXES)


def username_problem(username: str) -> str | None:
    """Why `username` (already normalised) is not allowed, or None when it is."""
    if not USERNAME_PATTERN.match(username):
        return "Usernames are 3 to 30 characters of a-z, 0-9 and _ (any case)."
    if is_reserved(username):
        return "This username is reserved."
    return None


def username_candidate(hint: str | None) -> str:
    """A valid username derived from `hint` (an external name or e-mail), random when empty."""
    base = re.sub(r"[^a-z0-9_]+", "_", (hint or "").split("@")[0].lower()).strip("_")[:22]
    if len(base) < 3 or is_reserved(base):
        base = "user"
    return f"{base}_{secrets.token_hex(3)}"

"""Slow salted password hashing (Argon2id), at the cost PASSWORD_HASH_PROFILE names."""

from __future__ import annotations

from enum import StrEnum
from functools import cache

from argon2 import PasswordHasher, profiles
from argon2.exceptions import InvalidHashError, VerificationError
from flask import current_app, has_app_context


class HashProfile(StrEnum):
    """argon2-cffi's parameter profiles (`argon2.profiles`) a deployment may hash with."""

    RFC_9106_LOW_MEMORY = "RFC_9106_LOW_MEMORY"  # argon2-cffi's default: 64 MiB, 3 passes
    RFC_9106_HIGH_MEMORY = "RFC_9106_HIGH_MEMORY"  # 2 GiB, 1 pass
    CHEAPEST = "CHEAPEST"  # every parameter at its minimum: test suites only


DEFAULT_PROFILE = HashProfile.RFC_9106_LOW_MEMORY


@cache
def _hasher(profile: HashProfile) -> PasswordHasher:
    return PasswordHasher.from_parameters(getattr(profiles, profile.value))


@cache
def _dummy_hash(profile: HashProfile) -> str:
    # Verifying against this keeps unknown-user logins as slow as wrong-password ones.
    return _hasher(profile).hash("timing-equaliser-not-a-password")


def _profile() -> HashProfile:
    if not has_app_context():
        return DEFAULT_PROFILE
    return HashProfile(current_app.config.get("PASSWORD_HASH_PROFILE", DEFAULT_PROFILE))


def hash_password(password: str) -> str:
    """Hash a password with Argon2id and a random salt."""
    return _hasher(_profile()).hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """Whether `password` matches `password_hash`; False for accounts without a password."""
    profile = _profile()
    try:
        # The hash carries its own parameters: one made under another profile verifies too.
        verified = _hasher(profile).verify(password_hash or _dummy_hash(profile), password)
        return verified and bool(password_hash)
    except (VerificationError, InvalidHashError):
        return False

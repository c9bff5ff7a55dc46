"""Registering, authenticating and promoting accounts."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, func, or_, select
from sqlalchemy.exc import IntegrityError

from mylivelinks.extensions import db
from mylivelinks.models import ROLES, Profile
from mylivelinks.models.profiles import Role
from mylivelinks.services.accounts.passwords import hash_password, verify_password
from mylivelinks.services.accounts.usernames import normalize_username, username_problem
from mylivelinks.services.errors import Conflict, InvalidInput, NotFound, Unauthorized

_UNIQUE_FIELDS: dict[str | None, tuple[str | None, str]] = {
    "uq_profiles_username_lower": ("username", "This username is taken."),
    "uq_profiles_email_lower": ("email", "This e-mail address is already registered."),
}


def find_by_username(username: str) -> Profile | None:
    """The profile with this username, compared case-insensitively."""
    return db.session.scalar(
        select(Profile).where(func.lower(Profile.username) == normalize_username(username))
    )


def get_by_username(username: str) -> Profile:
    """The profile with this username, or NotFound."""
    profile = find_by_username(username)
    if profile is None:
        raise NotFound(f"No profile is called {username!r}.")
    return profile


def flush_new_profile(profile: Profile) -> Profile:
    """Insert `profile`, turning a lost uniqueness race into Conflict on the right field."""
    db.session.add(profile)
    try:
        with db.session.begin_nested():
            db.session.flush()
    except IntegrityError as exc:
        constraint = getattr(getattr(exc.orig, "diag", None), "constraint_name", None)
        field, message = _UNIQUE_FIELDS.get(constraint, (None, "This account already exists."))
        raise Conflict(message, field=field) from None
    return profile


def register(
    username: str,
    email: str,
    password: str,
    role: str = Role.USER,
    *,
    display_name: str | None = None,
) -> Profile:
    """Create a password account (username in any case, stored lower-case; the display name
    defaults to the username as given); Conflict when the username or e-mail is taken."""
    display_name = display_name or username
    username = normalize_username(username)
    problem = username_problem(username)
    if problem:
        raise InvalidInput(problem, field="username")
    if role not in ROLES:
        raise InvalidInput(f"Role must be one of {', '.join(ROLES)}.", field="role")
    email = email.strip().lower()
    taken = db.session.execute(
        select(Profile.username, Profile.email).where(
            or_(func.lower(Profile.username) == username, func.lower(Profile.email) == email)
        )
    ).first()
    if taken is not None:
        if taken.username.lower() == username:
            raise Conflict("This username is taken.", field="username")
        raise Conflict("This e-mail address is already registered.", field="email")
    profile = Profile(
        username=username,
        email=email,
        password_hash=hash_password(password),
        role=role,
        display_name=display_name,
    )
    return flush_new_profile(profile)


def create_guest() -> Profile:
    """A guest: no credentials, watches boxes where the room allows anonymous viewing."""
    return flush_new_profile(
        Profile(username=f"guest_{secrets.token_hex(6)}", role=Role.GUEST, display_name="Guest")
    )


def purge_guests(older_than: timedelta) -> int:
    """Delete guests created longer ago than `older_than`; returns how many."""
    cutoff = datetime.now(UTC) - older_than
    return len(
        db.session.execute(
            delete(Profile)
            .where(Profile.role == Role.GUEST, Profile.created_at < cutoff)
            .returning(Profile.id)
        ).all()
    )


def authenticate(login: str, password: str) -> Profile:
    """The profile whose username or e-mail is `login` and whose password matches."""
    login = login.strip().lower()
    column = func.lower(Profile.email) if "@" in login else func.lower(Profile.username)
    profile = db.session.scalar(select(Profile).where(column == login))
    # Verified even without a profile, so an unknown login takes as long as a wrong password.
    if not verify_password(profile.password_hash if profile else None, password) or not profile:
        raise Unauthorized("Wrong login or password.")
    return profile


def set_role(username: str, role: str) -> Profile:
    """Give the named profile a role (user, moderator or admin)."""
    if role not in ROLES:
        raise InvalidInput(f"Role must be one of {', '.join(ROLES)}.", field="role")
    profile = get_by_username(username)
    profile.role = Role(role)
    db.session.flush()
    return profile

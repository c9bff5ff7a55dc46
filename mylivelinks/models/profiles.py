"""Profiles (the user table) and their ordered external links."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from mylivelinks.models.base import Base, StrEnumText, created_at_column, uuid_pk


class Role(StrEnum):
    """What a profile may do."""

    USER = "user"
    MODERATOR = "moderator"
    ADMIN = "admin"
    # A guest watches (rooms that allow anonymous viewing) and does nothing else; never assigned.
    GUEST = "guest"


# The roles an admin may assign.
ROLES = (Role.USER, Role.MODERATOR, Role.ADMIN)


class Profile(Base):
    """A user: credentials, public profile and cached counters."""

    __tablename__ = "profiles"
    __table_args__ = (
        CheckConstraint("role IN ('user', 'moderator', 'admin', 'guest')", name="role"),
        CheckConstraint("username ~ '^[a-z0-9_]{3,30}$'", name="username_format"),
        CheckConstraint("follower_count >= 0", name="follower_count_nonnegative"),
        CheckConstraint("following_count >= 0", name="following_count_nonnegative"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    username: Mapped[str] = mapped_column(String(30))
    email: Mapped[str | None] = mapped_column(String(254))
    password_hash: Mapped[str | None] = mapped_column(String(255))
    # Issuer of the external identity this profile was created for; NULL for password accounts.
    external_issuer: Mapped[str | None] = mapped_column(String(255))
    role: Mapped[Role] = mapped_column(
        StrEnumText(Role, 16), default=Role.USER, server_default=Role.USER
    )
    display_name: Mapped[str | None] = mapped_column(String(50))
    avatar_url: Mapped[str | None] = mapped_column(Text)
    bio: Mapped[str | None] = mapped_column(String(500))
    latitude: Mapped[float | None] = mapped_column(Float)
    longitude: Mapped[float | None] = mapped_column(Float)
    timezone: Mapped[str] = mapped_column(String(64), default="UTC", server_default="UTC")
    follower_count: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    following_count: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    gifts_received_coins: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    gifts_sent_coins: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    created_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )

    links: Mapped[list[ProfileLink]] = relationship(
        back_populates="profile",
        order_by="ProfileLink.position",
        cascade="all, delete-orphan",
    )


# Case-insensitive uniqueness of usernames and e-mail addresses.
Index("uq_profiles_username_lower", func.lower(Profile.username), unique=True)
Index("uq_profiles_email_lower", func.lower(Profile.email), unique=True)


class ProfileLink(Base):
    """One LinkTree-style link on a profile, kept in the owner's order."""

    __tablename__ = "profile_links"
    __table_args__ = (UniqueConstraint("profile_id", "position"),)

    id: Mapped[uuid.UUID] = uuid_pk()
    profile_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("profiles.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(100))
    url: Mapped[str] = mapped_column(Text)

    profile: Mapped[Profile] = relationship(back_populates="links")

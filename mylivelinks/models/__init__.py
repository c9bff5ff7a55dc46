"""SQLAlchemy models, one module per aggregate; importing this registers them all."""

from mylivelinks.models.auth import RefreshToken
from mylivelinks.models.base import Base
from mylivelinks.models.follows import Follow
from mylivelinks.models.profiles import ROLES, Profile, ProfileLink

__all__ = ["ROLES", "Base", "Follow", "Profile", "ProfileLink", "RefreshToken"]

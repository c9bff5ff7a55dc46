"""The MediaProvider interface: the one way business code talks to a video vendor.

Adapters (local, and the vendor ones) implement it; callers never branch on the vendor.
Every method may raise a MediaProviderError subclass, never a vendor's own exception.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Any, ClassVar, Literal, Self

from werkzeug.datastructures import Headers

from mylivelinks.models.media import MediaEventKind

if TYPE_CHECKING:
    from flask import Flask

Role = Literal["publisher", "subscriber"]


class PublishChange(StrEnum):
    """What `set_publishing` achieved at the vendor."""

    APPLIED = "applied"  # the vendor has it (or nothing at the vendor is needed)
    # The participant is not connected, so the vendor holds nothing to change yet: the
    # change must be made again once they are (a LiveKit permission).
    PENDING = "pending"


# A webhook's request headers: a plain mapping, or the framework's case-insensitive one.
WebhookHeaders = Mapping[str, str] | Headers


class MediaProviderError(Exception):
    """Base of every error an adapter raises."""


class ProviderUnavailable(MediaProviderError):
    """The vendor could not be reached or failed (network, 5xx): retrying may succeed."""


class ProviderRejected(MediaProviderError):
    """The vendor refused the call (bad credentials, unknown room, 4xx): retrying will not help."""


class WebhookVerificationFailed(MediaProviderError):
    """A webhook's signature, token or freshness did not verify."""


class WebhookNotConfigured(MediaProviderError):
    """The webhook cannot be verified: the vendor's signing secret is not configured."""


class NotSupported(MediaProviderError):
    """The vendor offers no way to do this; see the adapter's Capabilities."""


@dataclass(frozen=True)
class Capabilities:
    """What an adapter can enforce, so callers can plan without naming the vendor."""

    # The vendor itself stops a revoked participant's media (no client cooperation needed).
    server_side_publish_control: bool
    # The streamer's client must be told to start/stop (and may need fresh credentials).
    client_signal_required: bool
    # Rooms must be created and closed explicitly at the vendor.
    explicit_rooms: bool
    # The vendor sends signed webhooks that verify_webhook understands.
    webhooks: bool
    # Subscriber credentials cannot publish at all (the token itself carries the role).
    token_enforces_role: bool = True
    # The vendor's limits on one vendor room (None: no limit worth planning for): its
    # participants at once, how long one may stay connected, how long the room may last.
    max_participants_per_room: int | None = None
    max_participant_seconds: int | None = None
    max_room_seconds: int | None = None


@dataclass(frozen=True)
class Credentials:
    """What a client needs to join a provider room (API.md `credentials`)."""

    provider: str
    url: str
    token: str
    room: str
    identity: str
    role: Role
    expires_at: datetime
    # Where the vendor identifies participants by number (Agora): the uid to join with.
    uid: int | None = None


@dataclass(frozen=True)
class MediaEvent:
    """A verified vendor webhook, normalised; `event_id` is unique per provider."""

    provider: str
    event_id: str
    kind: MediaEventKind
    room: str
    identity: str | None
    occurred_at: datetime
    payload: dict[str, Any] = field(default_factory=dict, compare=False)
    # The vendor's order of one participant's events where it gives one (Agora's
    # clientSeq); `occurred_at` is often whole seconds, too coarse to order a reconnect.
    sequence: int | None = None
    # Whether the participant can publish as of this event, where the vendor says so.
    can_publish: bool | None = None


class MediaProvider(ABC):
    """A video vendor behind one interface (Libcloud-style driver).

    Methods only one vendor has are prefixed `ex_` (Libcloud's convention for extensions):
    business code that calls one is tied to that vendor.
    """

    name: ClassVar[str]
    # Per instance where the vendor's behaviour depends on its project settings (Agora).
    capabilities: Capabilities

    @classmethod
    @abstractmethod
    def from_app(cls, app: Flask) -> Self:
        """The adapter configured from `app` (its settings and extensions, such as Redis)."""

    @abstractmethod
    def credentials(self, room: str, identity: str, role: Role, ttl: timedelta) -> Credentials:
        """Credentials for `identity` in `room` with `role`, valid for `ttl`.

        Subscribers cannot publish with them where `capabilities.token_enforces_role`.
        """

    @abstractmethod
    def set_publishing(self, room: str, identity: str, allowed: bool) -> PublishChange:
        """Allow or revoke one participant's publishing; idempotent for the same state."""

    def vendor_room(self, room: str, position: int | None) -> str:
        """The vendor room of box `position` of MyLiveLinks room `room` (None: the room as a
        whole). By default every box shares one vendor room named by the room's slug."""
        return room

    def room_of(self, vendor_room: str) -> tuple[str, int | None]:
        """The MyLiveLinks room slug and box (None: any box) of a vendor room."""
        return vendor_room, None

    @abstractmethod
    def open_room(self, room: str) -> None:
        """Make sure the provider room exists (a no-op where rooms are implicit)."""

    @abstractmethod
    def close_room(self, room: str) -> None:
        """End the provider room and disconnect everyone in it."""

    def verify_webhook(self, body: bytes, headers: WebhookHeaders, url: str) -> list[MediaEvent]:
        """Verify a webhook with the vendor's own scheme, then normalise it.

        `body` is the raw request body, `headers` the request headers and `url` the public
        URL the vendor called. Raises WebhookVerificationFailed (nothing may be stored
        then); kinds the service does not use give an empty list.
        """
        raise NotSupported(f"{self.name} sends no webhooks")

    def publishers(self, room: str) -> dict[str, bool] | None:
        """The vendor's own view of the room: each connected participant's identity and
        whether the vendor lets it publish; None where the vendor offers no such view."""
        return None

    def participant_present(self, room: str, identity: str) -> bool | None:
        """Whether the vendor has `identity` connected to `room` now; None where it cannot tell."""
        return None

    def enforce_revoke(self, room: str, identity: str) -> bool:
        """Disconnect a participant still publishing after a revoke; True if it acted.

        Only vendors without `server_side_publish_control` need it; it does nothing here.
        """
        return False

    def close(self) -> None:  # noqa: B027  (optional hook, nothing to release by default)
        """Release connections and event loops held by the adapter."""

"""Vendor stand-ins for the media contract suite and the room suite, one per provider.

Each harness starts (where there is one) a fake vendor server on 127.0.0.1 that checks
auth the way the vendor does, gives the app settings that point the official package at
it, and reads back what the vendor saw, so tests never ask our own code what happened.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import uuid
from abc import ABC, abstractmethod
from datetime import UTC, datetime
from typing import Any

import jwt
from redis import Redis

from mylivelinks.providers.base import Credentials

# Normalised vendor-side actions every harness reports through `calls()`.
ACTIONS = ("allow", "revoke", "open_room", "close_room", "disconnect")


class MediaHarness(ABC):
    """One vendor as the tests see it."""

    name: str

    def start(self) -> None:  # noqa: B027  (nothing to start for the local provider)
        """Start the fake vendor server, if any."""

    def stop(self) -> None:  # noqa: B027
        """Stop the fake vendor server, if any."""

    @abstractmethod
    def settings(self) -> dict[str, Any]:
        """Config overrides that select this provider and point it at the fake."""

    @abstractmethod
    def calls(self) -> list[dict[str, Any]]:
        """What the vendor received, oldest first: {action, room, identity} (ACTIONS).

        Vendors whose allow/revoke is a client signal only report no allow/revoke here.
        """

    @abstractmethod
    def reset(self) -> None:
        """Forget recorded calls and pending failures."""

    @abstractmethod
    def fail_next(self, count: int, status: int = 503) -> None:
        """Make the next `count` vendor calls fail with `status`."""

    @abstractmethod
    def decode(self, credentials: Credentials) -> dict[str, Any]:
        """Read credentials with the vendor's verifier or format.

        Returns {room, identity, can_publish, can_subscribe, expires_at (aware datetime)}.
        """

    @abstractmethod
    def webhook(
        self,
        kind: str,
        room: str,
        identity: str | None,
        *,
        url: str,
        event_id: str | None = None,
        tamper: bool = False,
        wrong_secret: bool = False,
        stale: bool = False,
        at: int | None = None,
    ) -> tuple[bytes, dict[str, str]]:
        """A webhook of normalised `kind` as the vendor would POST it to `url`: (body, headers).

        `tamper` changes the body after signing, `wrong_secret` signs with another secret,
        `stale` makes it too old to accept (where the vendor's scheme has a freshness check;
        otherwise the same as `wrong_secret`). `at` is the event's time in whole seconds, as
        the vendors stamp it (now by default); events are sequenced in the order built.
        """

    def connect(self, room: str, identity: str, *, publishing: bool = True) -> None:  # noqa: B027
        """`identity` connects to the vendor room (a no-op where the vendor has no view)."""

    def disconnect(self, room: str, identity: str) -> None:  # noqa: B027
        """`identity` leaves the vendor room (a no-op where the vendor has no view)."""

    @property
    def publish_control_is_server_side(self) -> bool:
        """Whether allow/revoke reach the vendor (else they are client signals only)."""
        return True


class LocalHarness(MediaHarness):
    """The `local` provider: its call log in Redis is the vendor's record."""

    name = "local"

    def __init__(self, redis_url: str, secret_key: str):
        self._redis = Redis.from_url(redis_url)
        self._secret_key = secret_key

    def settings(self) -> dict[str, Any]:
        """Select the local provider."""
        return {"MEDIA_PROVIDER": "local"}

    def calls(self) -> list[dict[str, Any]]:
        """The local provider's recorded calls, oldest first, normalised."""
        names = {
            "allow_publishing": "allow",
            "revoke_publishing": "revoke",
            "open_room": "open_room",
            "close_room": "close_room",
            "disconnect": "disconnect",
        }
        recorded = [json.loads(raw) for raw in self._redis.lrange("media:local:calls", 0, -1)]
        return [
            {"action": names[c["action"]], "room": c["room"], "identity": c.get("identity")}
            for c in reversed(recorded)
            if c["action"] in names
        ]

    def reset(self) -> None:
        """Forget the call log and pending failures."""
        self._redis.delete("media:local:calls", "media:local:fail_next")

    def fail_next(self, count: int, status: int = 503) -> None:
        """The local provider fails the next `count` calls: ProviderRejected for a 4xx
        `status`, ProviderUnavailable otherwise."""
        self._redis.set("media:local:fail_status", status)
        self._redis.set("media:local:fail_next", count)

    def decode(self, credentials: Credentials) -> dict[str, Any]:
        """Verify the HS256 development token with the key the local provider derives."""
        key = hashlib.sha256(f"local-media:{self._secret_key}".encode()).hexdigest()
        claims = jwt.decode(
            credentials.token, key, algorithms=["HS256"], issuer="mylivelinks-local-media"
        )
        return {
            "room": claims["room"],
            "identity": claims["sub"],
            "can_publish": claims["can_publish"],
            "can_subscribe": claims["can_subscribe"],
            "expires_at": datetime.fromtimestamp(claims["exp"], UTC),
        }

    def webhook(
        self,
        kind: str,
        room: str,
        identity: str | None,
        *,
        url: str,
        event_id: str | None = None,
        tamper: bool = False,
        wrong_secret: bool = False,
        stale: bool = False,
        at: int | None = None,
    ) -> tuple[bytes, dict[str, str]]:
        """`X-Local-Media-Signature: t=<unix>,v1=<hex HMAC-SHA256 of "t.body">`."""
        sent_at = (at or int(time.time())) - (3600 if stale else 0)
        body = json.dumps(
            {
                "id": event_id or uuid.uuid4().hex,
                "event": kind,
                "room": room,
                "identity": identity,
                "at": sent_at,
            }
        ).encode()
        secret = "not-the-secret" if wrong_secret else self._secret_key
        key = hashlib.sha256(f"local-media-webhook:{secret}".encode()).digest()
        digest = hmac.new(key, f"{sent_at}.".encode() + body, hashlib.sha256).hexdigest()
        if tamper:
            body = body.replace(b'"room": "', b'"room": "x')
        return body, {
            "Content-Type": "application/json",
            "X-Local-Media-Signature": f"t={sent_at},v1={digest}",
        }

    @property
    def publish_control_is_server_side(self) -> bool:
        """The local provider records allow/revoke as a vendor would receive them."""
        return True


MEDIA_PROVIDER_NAMES = ("local", "livekit", "agora", "twilio")


def build_harness(name: str, redis_url: str, secret_key: str) -> MediaHarness:
    """The harness of provider `name` (vendor fakes are imported only when asked for)."""
    if name == "local":
        return LocalHarness(redis_url, secret_key)
    if name == "livekit":
        from tests.fakes.livekit_server import LiveKitHarness

        return LiveKitHarness()
    if name in ("agora", "agora-cohost"):
        from tests.fakes.agora_harness import AgoraHarness

        # "agora-cohost": a project where Agora support switched co-host authentication on.
        return AgoraHarness(cohost_authentication=name == "agora-cohost")
    if name == "twilio":
        from tests.fakes.twilio_harness import TwilioHarness

        return TwilioHarness()
    raise ValueError(f"no harness for {name!r}")

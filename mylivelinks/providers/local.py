"""The `local` provider: no vendor account needed. It mints signed development tokens and
records every call (log line, and a capped list in Redis that the debug endpoint shows)."""

from __future__ import annotations

import hashlib
import json
import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
from flask import Flask
from redis import Redis

from mylivelinks.providers.base import Capabilities, Credentials, MediaProvider, Role

log = logging.getLogger(__name__)

CALLS_KEY = "media:local:calls"
CALLS_KEPT = 1000
ISSUER = "mylivelinks-local-media"


class LocalProvider(MediaProvider):
    """Development stand-in for a video vendor; it enforces nothing on media."""

    name = "local"
    capabilities = Capabilities(
        server_side_publish_control=False,
        client_signal_required=True,
        explicit_rooms=False,
        webhooks=False,
    )

    def __init__(self, *, secret: str, url: str, redis: Redis):
        # A key of its own: a media token can never pass for an API access token.
        self._key = hashlib.sha256(f"local-media:{secret}".encode()).hexdigest()
        self._url = url
        self._redis = redis

    @classmethod
    def from_app(cls, app: Flask) -> LocalProvider:
        """Configure from the app (SECRET_KEY, LOCAL_MEDIA_URL, Redis)."""
        return cls(
            secret=app.config["SECRET_KEY"],
            url=app.config["LOCAL_MEDIA_URL"],
            redis=app.extensions["redis"],
        )

    def credentials(self, room: str, identity: str, role: Role, ttl: timedelta) -> Credentials:
        """An HS256 development token naming the room, identity, role and expiry."""
        issued = datetime.now(UTC).replace(microsecond=0)
        expires = issued + ttl
        token = jwt.encode(
            {
                "iss": ISSUER,
                "sub": identity,
                "room": room,
                "role": role,
                "can_publish": role == "publisher",
                "can_subscribe": True,
                "iat": issued,
                "exp": expires,
            },
            self._key,
            algorithm="HS256",
        )
        self._record("credentials", room=room, identity=identity, role=role)
        return Credentials(self.name, self._url, token, room, identity, role, expires)

    def decode(self, token: str) -> dict[str, Any]:
        """The claims of a token this provider minted (what a local media server would check)."""
        return jwt.decode(token, self._key, algorithms=["HS256"], issuer=ISSUER)

    def set_publishing(self, room: str, identity: str, allowed: bool) -> None:
        """Record the allow or revoke."""
        self._record(
            "allow_publishing" if allowed else "revoke_publishing", room=room, identity=identity
        )

    def open_room(self, room: str) -> None:
        """Record the opening (rooms are implicit)."""
        self._record("open_room", room=room)

    def close_room(self, room: str) -> None:
        """Record the closing."""
        self._record("close_room", room=room)

    def recorded_calls(self, limit: int = 100) -> list[dict[str, Any]]:
        """The most recent calls, newest first."""
        return [json.loads(raw) for raw in self._redis.lrange(CALLS_KEY, 0, limit - 1)]

    def _record(self, action: str, **fields: str) -> None:
        call = {"at": datetime.now(UTC).isoformat(), "action": action, **fields}
        log.info("local media provider call", extra={"media_call": call})
        pipeline = self._redis.pipeline()
        pipeline.lpush(CALLS_KEY, json.dumps(call))
        pipeline.ltrim(CALLS_KEY, 0, CALLS_KEPT - 1)
        pipeline.execute()

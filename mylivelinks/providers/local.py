"""The `local` provider: no vendor account needed. It mints signed development tokens and
records every call (log line, and a capped list in Redis that the debug endpoint shows).

Like a vendor it can be down: while the Redis counter `media:local:fail_next` is positive,
each call that would reach a media server takes one off and raises ProviderUnavailable, or
ProviderRejected while `media:local:fail_status` holds a 4xx status.
Its webhooks (for simulating participants in development) carry
`X-Local-Media-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "t." + body>`."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
from flask import Flask
from redis import Redis

from mylivelinks.models.media import MediaEventKind
from mylivelinks.providers.base import (
    Capabilities,
    Credentials,
    MediaEvent,
    MediaProvider,
    ProviderRejected,
    ProviderUnavailable,
    PublishChange,
    Role,
    WebhookHeaders,
    WebhookVerificationFailed,
)

log = logging.getLogger(__name__)

CALLS_KEY = "media:local:calls"
FAIL_NEXT_KEY = "media:local:fail_next"
FAIL_STATUS_KEY = "media:local:fail_status"
CALLS_KEPT = 1000
ISSUER = "mylivelinks-local-media"
SIGNATURE_HEADER = "X-Local-Media-Signature"
WEBHOOK_TOLERANCE_SECONDS = 300
EVENT_KINDS = frozenset(MediaEventKind)

# Take one failure off the counter if any is pending; 1 when this call must fail.
_TAKE_FAILURE = """
local left = tonumber(redis.call('GET', KEYS[1]) or '0')
if left > 0 then redis.call('DECR', KEYS[1]) return 1 end
return 0
"""


class LocalProvider(MediaProvider):
    """Development stand-in for a video vendor; it enforces nothing on media."""

    name = "local"
    capabilities = Capabilities(
        server_side_publish_control=False,
        client_signal_required=True,
        explicit_rooms=False,
        webhooks=True,
    )

    def __init__(self, *, secret: str, url: str, redis: Redis):
        # A key of its own: a media token can never pass for an API access token.
        self._key = hashlib.sha256(f"local-media:{secret}".encode()).hexdigest()
        self._webhook_key = hashlib.sha256(f"local-media-webhook:{secret}".encode()).digest()
        self._url = url
        self._redis = redis
        self._take_failure = redis.register_script(_TAKE_FAILURE)

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

    def ex_decode(self, token: str) -> dict[str, Any]:
        """The claims of a token this provider minted (what a local media server would check)."""
        return jwt.decode(token, self._key, algorithms=["HS256"], issuer=ISSUER)

    def set_publishing(self, room: str, identity: str, allowed: bool) -> PublishChange:
        """Record the allow or revoke."""
        self._maybe_down()
        self._record(
            "allow_publishing" if allowed else "revoke_publishing", room=room, identity=identity
        )
        return PublishChange.APPLIED

    def open_room(self, room: str) -> None:
        """Record the opening (rooms are implicit)."""
        self._maybe_down()
        self._record("open_room", room=room)

    def close_room(self, room: str) -> None:
        """Record the closing."""
        self._maybe_down()
        self._record("close_room", room=room)

    def verify_webhook(self, body: bytes, headers: WebhookHeaders, url: str) -> list[MediaEvent]:
        """Check the HMAC and its age (300 s), then read the one event the body carries."""
        signed_at, signature = _signature_parts(headers.get(SIGNATURE_HEADER, ""))
        expected = hmac.new(
            self._webhook_key, f"{signed_at}.".encode() + body, hashlib.sha256
        ).hexdigest()
        if signature is None or not hmac.compare_digest(expected, signature):
            raise WebhookVerificationFailed("The local media signature does not match.")
        if abs(time.time() - signed_at) > WEBHOOK_TOLERANCE_SECONDS:
            raise WebhookVerificationFailed("The local media webhook is too old.")
        try:
            event = json.loads(body)
            kind, room, event_id = event["event"], event["room"], str(event["id"])
        except (ValueError, KeyError, TypeError):
            raise WebhookVerificationFailed("The local media webhook is malformed.") from None
        if kind not in EVENT_KINDS:
            return []
        return [
            MediaEvent(
                provider=self.name,
                event_id=event_id,
                kind=MediaEventKind(kind),
                room=room,
                identity=event.get("identity"),
                occurred_at=datetime.fromtimestamp(signed_at, UTC),
                payload=event,
            )
        ]

    def ex_recorded_calls(self, limit: int = 100) -> list[dict[str, Any]]:
        """The most recent calls, newest first."""
        return [json.loads(raw) for raw in self._redis.lrange(CALLS_KEY, 0, limit - 1)]

    def _maybe_down(self) -> None:
        if self._take_failure(keys=[FAIL_NEXT_KEY]):
            if 400 <= int(self._redis.get(FAIL_STATUS_KEY) or 503) < 500:
                raise ProviderRejected("The local media server refused the call (simulated).")
            raise ProviderUnavailable("The local media server is down (simulated).")

    def _record(self, action: str, **fields: str) -> None:
        call = {"at": datetime.now(UTC).isoformat(), "action": action, **fields}
        log.info("local media provider call", extra={"media_call": call})
        pipeline = self._redis.pipeline()
        pipeline.lpush(CALLS_KEY, json.dumps(call))
        pipeline.ltrim(CALLS_KEY, 0, CALLS_KEPT - 1)
        pipeline.execute()


def _signature_parts(header: str) -> tuple[int, str | None]:
    parts = dict(item.split("=", 1) for item in header.split(",") if "=" in item)
    try:
        return int(parts.get("t", "")), parts.get("v1")
    except ValueError:
        return 0, None

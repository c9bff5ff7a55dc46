"""`LiveKitHarness`: the fake LiveKit server as the media contract suite sees it."""

from __future__ import annotations

import base64
import hashlib
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
from google.protobuf.json_format import MessageToJson
from livekit import api

from mylivelinks.providers.base import Credentials
from tests.fakes.livekit_server import FakeLiveKit
from tests.fakes.media import MediaHarness

API_KEY = "APIfakeLiveKit"
API_SECRET = "fake-livekit-secret-long-enough-for-hs256-signing"
# LiveKit signs webhooks with a token valid this long (auth.NewAccessToken(...).SetValidFor).
WEBHOOK_TOKEN_TTL = timedelta(minutes=5)

_ACTIONS = {
    "CreateRoom": "open_room",
    "DeleteRoom": "close_room",
    "RemoveParticipant": "disconnect",
}
_PARTICIPANT_STATES = {
    "participant_joined": api.ParticipantInfo.State.ACTIVE,
    "participant_left": api.ParticipantInfo.State.DISCONNECTED,
}


class LiveKitHarness(MediaHarness):
    """LiveKit through `FakeLiveKit`: what the server received is the vendor's record."""

    name = "livekit"

    def __init__(self, api_key: str = API_KEY, api_secret: str = API_SECRET):
        self.api_key = api_key
        self.api_secret = api_secret
        self._fake: FakeLiveKit | None = None

    def start(self) -> None:
        """Start the fake LiveKit server."""
        if self._fake is None:
            self._fake = FakeLiveKit(self.api_key, self.api_secret).start()

    def stop(self) -> None:
        """Stop the fake LiveKit server."""
        if self._fake is not None:
            self._fake.stop()
            self._fake = None

    @property
    def fake(self) -> FakeLiveKit:
        """The running fake (for answer_slowly, absent, join, raw calls)."""
        if self._fake is None:
            raise RuntimeError("LiveKitHarness is not started")
        return self._fake

    def settings(self) -> dict[str, Any]:
        """Select LiveKit, clients on ws://127.0.0.1:PORT and the API on http://…:PORT."""
        return {
            "MEDIA_PROVIDER": "livekit",
            "LIVEKIT_URL": self.fake.ws_url,
            "LIVEKIT_API_URL": self.fake.base_url,
            "LIVEKIT_API_KEY": self.api_key,
            "LIVEKIT_API_SECRET": self.api_secret,
        }

    def calls(self) -> list[dict[str, Any]]:
        """RoomService calls LiveKit acted on, oldest first, normalised.

        Those answered by an injected failure or refused auth are left out; a not_found
        answer (room already gone, participant not connected) is kept, as the adapter counts
        it as done.
        """
        normalised = []
        for call in self.fake.calls():
            request = call["request"]
            if not call["handled"]:
                continue
            method = call["method"]
            if method == "UpdateParticipant":
                if "permission" not in request:
                    continue
                action = "allow" if request["permission"].get("can_publish") else "revoke"
            elif method in _ACTIONS:
                action = _ACTIONS[method]
            else:
                continue
            room = request.get("room", request.get("name"))
            normalised.append({"action": action, "room": room, "identity": request.get("identity")})
        return normalised

    def permissions(self) -> list[dict[str, Any]]:
        """Every UpdateParticipant received, oldest first: {room, identity, permission, status}.

        `permission` is the full ParticipantPermission as sent, with every field present
        (a field the client left out reads False), so a partial one shows.
        """
        sent = []
        for call in self.fake.calls():
            if call["method"] != "UpdateParticipant" or call["request"] is None:
                continue
            request = call["request"]
            raw = request.get("permission", {})
            permission = {
                name: raw.get(name, False)
                for name in ("can_subscribe", "can_publish", "can_publish_data")
            }
            permission.update({k: v for k, v in raw.items() if k not in permission})
            sent.append(
                {
                    "room": request.get("room"),
                    "identity": request.get("identity"),
                    "permission": permission,
                    "status": call["status"],
                }
            )
        return sent

    def reset(self) -> None:
        """Forget calls, rooms, participants, failures and slowness."""
        self.fake.reset()

    def fail_next(self, count: int, status: int = 503) -> None:
        """The next `count` RoomService calls answer `status` with a Twirp error."""
        self.fake.fail_next(count, status)

    def answer_slowly(self, seconds: float) -> None:
        """Hold every answer this long (0 to stop)."""
        self.fake.answer_slowly(seconds)

    def connect(self, room: str, identity: str, *, publishing: bool = True) -> None:
        """`identity` connects to the LiveKit room (replacing an earlier session)."""
        self.fake.join(room, identity, can_publish=publishing)

    def disconnect(self, room: str, identity: str) -> None:
        """`identity` leaves the LiveKit room."""
        self.fake.leave(room, identity)

    def absent(self, identity: str) -> None:
        """`identity` is connected to no room (UpdateParticipant answers not_found)."""
        self.fake.absent(identity)

    def decode(self, credentials: Credentials) -> dict[str, Any]:
        """Verify the access token with LiveKit's TokenVerifier and read its grants."""
        claims = api.TokenVerifier(self.api_key, self.api_secret).verify(credentials.token)
        exp = jwt.decode(
            credentials.token, self.api_secret, algorithms=["HS256"], issuer=self.api_key
        )["exp"]
        video = claims.video
        assert video is not None and video.room_join, "not a room-join token"
        return {
            "room": video.room,
            "identity": claims.identity,
            "can_publish": video.can_publish,
            "can_subscribe": video.can_subscribe,
            "can_publish_data": video.can_publish_data,
            "expires_at": datetime.fromtimestamp(exp, UTC),
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
        """LiveKit's webhook: protojson WebhookEvent body and a raw-JWT `Authorization` header
        whose `sha256` claim is base64(sha256(body)); `stale` signs an expired token."""
        event = self.event(kind, room, identity, event_id=event_id, at=at)
        body = MessageToJson(event, indent=None).encode()
        secret = "not-the-livekit-secret-" + "x" * 32 if wrong_secret else self.api_secret
        token = (
            api.AccessToken(self.api_key, secret)
            .with_ttl(-timedelta(minutes=10) if stale else WEBHOOK_TOKEN_TTL)
            .with_sha256(base64.b64encode(hashlib.sha256(body).digest()).decode())
            .to_jwt()
        )
        if tamper:
            event.room.name = room + "-tampered"
            body = MessageToJson(event, indent=None).encode()
        return body, {"Content-Type": "application/webhook+json", "Authorization": token}

    @staticmethod
    def event(
        kind: str,
        room: str,
        identity: str | None,
        *,
        event_id: str | None = None,
        at: int | None = None,
    ) -> api.WebhookEvent:
        """The WebhookEvent LiveKit would send for `kind` (LiveKit's event names); LiveKit
        stamps `created_at` in whole seconds."""
        now = at or int(time.time())
        event = api.WebhookEvent(
            event=kind,
            id=event_id or "EV_" + uuid.uuid4().hex[:12],
            created_at=now,
            room=api.Room(sid="RM_" + uuid.uuid5(uuid.NAMESPACE_DNS, room).hex[:12], name=room),
        )
        if identity is not None and kind != "room_finished":
            event.participant.CopyFrom(
                api.ParticipantInfo(
                    sid="PA_" + uuid.uuid5(uuid.NAMESPACE_DNS, identity).hex[:12],
                    identity=identity,
                    state=_PARTICIPANT_STATES.get(kind, api.ParticipantInfo.State.ACTIVE),
                    joined_at=now,
                )
            )
        if kind in ("track_published", "track_unpublished"):
            event.track.CopyFrom(
                api.TrackInfo(
                    sid="TR_" + uuid.uuid4().hex[:12],
                    type=api.TrackType.VIDEO,
                    source=api.TrackSource.CAMERA,
                )
            )
        return event

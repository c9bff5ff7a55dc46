"""The Twilio Video harness: the fake server as the media test suites see it."""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

import jwt

from mylivelinks.providers.base import Credentials
from tests.fakes.media import MediaHarness
from tests.fakes.twilio_server import FakeTwilio, new_sid

# Where the service tells Twilio to send room events (rooms clients create have none).
STATUS_CALLBACK_URL = "https://api.example.test/api/v1/webhooks/media/twilio"

TWILIO_EVENTS = {
    "participant_joined": "participant-connected",
    "participant_left": "participant-disconnected",
    "track_published": "track-added",
    "track_unpublished": "track-removed",
    "room_finished": "room-ended",
}


def twilio_signature(auth_token: str, url: str, params: dict[str, str]) -> str:
    """`X-Twilio-Signature`: base64 HMAC-SHA1 of the URL + sorted key/value pairs."""
    signed = url + "".join(key + params[key] for key in sorted(params))
    digest = hmac.new(auth_token.encode(), signed.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


class TwilioHarness(MediaHarness):
    """Twilio Video as the tests see it: FakeTwilio, its tokens and its status callbacks."""

    name = "twilio"

    def __init__(
        self,
        account_sid: str = "AC" + "a1" * 16,
        api_key_sid: str = "SK" + "b2" * 16,
        api_key_secret: str = "fake-twilio-api-key-secret-0123456789abcdef",
        auth_token: str = "fake-twilio-auth-token-0123456789abcdef",
    ):
        self.account_sid = account_sid
        self.api_key_sid = api_key_sid
        self.api_key_secret = api_key_secret
        self.auth_token = auth_token
        self.fake = FakeTwilio(account_sid, api_key_sid, api_key_secret, auth_token)

    def start(self) -> None:
        """Start FakeTwilio."""
        self.fake.start()

    def stop(self) -> None:
        """Stop FakeTwilio."""
        self.fake.stop()

    def settings(self) -> dict[str, Any]:
        """Select Twilio with this account, pointed at the fake."""
        return {
            "MEDIA_PROVIDER": "twilio",
            "TWILIO_ACCOUNT_SID": self.account_sid,
            "TWILIO_API_KEY_SID": self.api_key_sid,
            "TWILIO_API_KEY_SECRET": self.api_key_secret,
            "TWILIO_AUTH_TOKEN": self.auth_token,
            "TWILIO_API_URL": self.fake.base_url,
            "TWILIO_STATUS_CALLBACK_URL": STATUS_CALLBACK_URL,
        }

    def calls(self) -> list[dict[str, Any]]:
        """Room creations, completions and disconnects Twilio accepted, oldest first.

        Authenticated requests count whatever Twilio answered ("Room exists", 404); injected
        failures and 401s do not. Twilio never receives allow/revoke.
        """
        return [
            {"action": call["action"], "room": call["room"], "identity": call["identity"]}
            for call in list(self.fake.calls)
            if call.get("action") and "status" in call
        ]

    def reset(self) -> None:
        """Forget recorded calls, pending failures and slowness (rooms stay)."""
        self.fake.reset()

    def fail_next(self, count: int, status: int = 503) -> None:
        """FakeTwilio answers the next `count` requests with `status`."""
        self.fake.fail_next(count, status)

    def join(self, room: str, identity: str, tracks: Sequence[str] = ("video", "audio")) -> str:
        """Connect a participant publishing `tracks` (see FakeTwilio.join)."""
        return self.fake.join(room, identity, tracks)

    def connect(self, room: str, identity: str, *, publishing: bool = True) -> None:
        """`identity` connects to the Twilio room (see FakeTwilio.join)."""
        self.fake.join(room, identity, ("video", "audio") if publishing else ())

    def disconnect(self, room: str, identity: str) -> None:
        """`identity` disconnects from the Twilio room."""
        self.fake.leave(room, identity)

    def unpublish(self, room: str, identity: str) -> None:
        """The participant stops publishing (see FakeTwilio.unpublish)."""
        self.fake.unpublish(room, identity)

    def decode(self, credentials: Credentials) -> dict[str, Any]:
        """Verify the access token as Twilio does (HS256 with the API key secret, FPA header).

        A Video grant names a room only, so any holder can publish and subscribe.
        """
        header = jwt.get_unverified_header(credentials.token)
        if header.get("cty") != "twilio-fpa;v=1":
            raise jwt.InvalidTokenError(f"not a Twilio access token: cty={header.get('cty')!r}")
        claims = jwt.decode(
            credentials.token,
            self.api_key_secret,
            algorithms=["HS256"],
            issuer=self.api_key_sid,
            options={"require": ["exp", "iss", "sub", "grants"]},
        )
        if claims["sub"] != self.account_sid:
            raise jwt.InvalidTokenError(f"token for another account: {claims['sub']}")
        grants = claims["grants"]
        return {
            "room": grants["video"].get("room"),
            "identity": grants.get("identity"),
            "can_publish": True,
            "can_subscribe": True,
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
        """A Rooms status callback form, signed with the auth token (`X-Twilio-Signature`).

        `kind` is one of ours, or a Twilio StatusCallbackEvent sent as is. The same
        `event_id` gives the same RoomSid and SequenceNumber (so the same MediaEvent id).
        Twilio's signature has no timestamp: `stale` signs with a wrong token.
        """
        event = TWILIO_EVENTS.get(kind, kind)
        if event_id is not None:
            digest = hashlib.sha256(event_id.encode()).hexdigest()
            room_sid, sequence = "RM" + digest[:32], int(digest[32:40], 16) % 1_000_000
        else:
            known = self.fake.next_sequence(room) if self.fake.running else None
            room_sid, sequence = known or (new_sid("RM"), 0)
        params = {
            "AccountSid": self.account_sid,
            "RoomName": room,
            "RoomSid": room_sid,
            "RoomStatus": "completed" if event == "room-ended" else "in-progress",
            "RoomType": "group",
            "StatusCallbackEvent": event,
            "Timestamp": (datetime.fromtimestamp(at, UTC) if at else datetime.now(UTC))
            .isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
            "SequenceNumber": str(sequence),
        }
        if event == "room-ended":
            params["RoomDuration"] = "60"
        elif identity is not None:
            joined = self.fake.participant(room, identity) if self.fake.running else None
            params["ParticipantSid"] = joined["sid"] if joined else new_sid("PA")
            params["ParticipantIdentity"] = identity
            left = event == "participant-disconnected"
            params["ParticipantStatus"] = "disconnected" if left else "connected"
            if left:
                params["ParticipantDuration"] = "60"
            if event.startswith("track-"):
                params.update(TrackSid=new_sid("MT"), TrackKind="video", TrackName="camera")
        token = self.auth_token if not (wrong_secret or stale) else "not-the-auth-token"
        signature = twilio_signature(token, url, params)
        if tamper:
            params["RoomName"] = room + "x"
        body = urlencode(params).encode()
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
        return body, {**headers, "X-Twilio-Signature": signature}

    @property
    def publish_control_is_server_side(self) -> bool:
        """Twilio has no server-side publish switch: allow/revoke are client signals."""
        return False

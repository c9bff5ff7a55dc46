"""The `twilio` provider: Twilio Programmable Video through the official `twilio` package.

Twilio has no server-side switch for one participant's publishing: a revoke is a client
signal (sent by the publish controller), and `enforce_revoke` disconnects a participant
still publishing once the grace period is over. Access tokens name a room, not a role.
Room status callbacks are form posts signed with `X-Twilio-Signature` (HMAC-SHA1 of the
URL and the sorted parameters, keyed with the account's auth token).
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar
from urllib.parse import parse_qs, quote

import requests
from flask import Flask
from twilio.base.exceptions import TwilioException
from twilio.http.http_client import TwilioHttpClient
from twilio.jwt.access_token import AccessToken
from twilio.jwt.access_token.grants import VideoGrant
from twilio.request_validator import RequestValidator
from twilio.rest import Client

from mylivelinks.models.media import MediaEventKind
from mylivelinks.providers.base import (
    Capabilities,
    Credentials,
    MediaEvent,
    MediaProvider,
    MediaProviderError,
    ProviderRejected,
    ProviderUnavailable,
    PublishChange,
    Role,
    WebhookHeaders,
    WebhookVerificationFailed,
)

log = logging.getLogger(__name__)

T = TypeVar("T")

DEFAULT_VIDEO_URL = "https://video.twilio.com"
HTTP_TIMEOUT_SECONDS = 10.0
MAX_TOKEN_TTL = timedelta(hours=24)  # Twilio refuses Video access tokens valid for longer
SIGNATURE_HEADER = "X-Twilio-Signature"
ROOM_EXISTS = 53113  # Twilio error code: "Room exists" (an in-progress room has this name)
MEDIA_KINDS = {"audio", "video"}
# Group rooms: at most 50 participants; a participant may stay up to 24 h (4 h unless told);
# a room lasts at most 24 h. A room nobody joins or everybody left closes after a timeout
# of 1 to 60 minutes (5 unless told).
MAX_PARTICIPANTS = 50
MAX_PARTICIPANT_SECONDS = 24 * 3600
MAX_ROOM_SECONDS = 24 * 3600
UNUSED_ROOM_MINUTES = 60  # a seated streamer may take a while to connect
EMPTY_ROOM_MINUTES = 5
# One vendor room per box: `<room slug>~<box>` ("~" is unreserved in URLs, never in a slug).
BOX_SEPARATOR = "~"
EVENT_KINDS: dict[str, MediaEventKind] = {
    "participant-connected": MediaEventKind.PARTICIPANT_JOINED,
    "participant-disconnected": MediaEventKind.PARTICIPANT_LEFT,
    "track-added": MediaEventKind.TRACK_PUBLISHED,
    "track-removed": MediaEventKind.TRACK_UNPUBLISHED,
    "room-ended": MediaEventKind.ROOM_FINISHED,
}


class TwilioProvider(MediaProvider):
    """Twilio Video: group rooms, room-scoped tokens, signed status callbacks."""

    name = "twilio"
    capabilities = Capabilities(
        server_side_publish_control=False,
        client_signal_required=True,
        explicit_rooms=True,
        webhooks=True,
        token_enforces_role=False,
        max_participants_per_room=MAX_PARTICIPANTS,
        max_participant_seconds=MAX_PARTICIPANT_SECONDS,
        max_room_seconds=MAX_ROOM_SECONDS,
    )

    def __init__(
        self,
        *,
        account_sid: str | None,
        api_key_sid: str | None,
        api_key_secret: str | None,
        auth_token: str | None,
        api_url: str | None = None,
        status_callback: str | None = None,
        timeout: float = HTTP_TIMEOUT_SECONDS,
    ):
        self._account_sid = account_sid
        self._api_key_sid = api_key_sid
        self._api_key_secret = api_key_secret
        # Unset settings (only possible when another provider is selected) fail on use.
        self._missing = [
            name
            for name, value in (
                ("TWILIO_ACCOUNT_SID", account_sid),
                ("TWILIO_API_KEY_SID", api_key_sid),
                ("TWILIO_API_KEY_SECRET", api_key_secret),
            )
            if not value
        ]
        self._validator = RequestValidator(auth_token) if auth_token else None
        self._url = api_url or DEFAULT_VIDEO_URL
        self._status_callback = status_callback
        self._client = Client(
            api_key_sid,
            api_key_secret,
            account_sid,
            http_client=TwilioHttpClient(timeout=timeout),
        )
        # Settings come from the app only: no TWILIO_EDGE/TWILIO_REGION host rewriting.
        self._client.edge = self._client.region = None
        if api_url:
            # The Video domain builds every v1 URL from its base_url at request time.
            self._client.video.base_url = api_url.rstrip("/")

    @classmethod
    def from_app(cls, app: Flask) -> TwilioProvider:
        """Configure from the app (TWILIO_* settings)."""
        return cls(
            account_sid=app.config["TWILIO_ACCOUNT_SID"],
            api_key_sid=app.config["TWILIO_API_KEY_SID"],
            api_key_secret=app.config["TWILIO_API_KEY_SECRET"],
            auth_token=app.config["TWILIO_AUTH_TOKEN"],
            api_url=app.config["TWILIO_API_URL"],
            status_callback=app.config.get("TWILIO_STATUS_CALLBACK_URL"),
        )

    def credentials(self, room: str, identity: str, role: Role, ttl: timedelta) -> Credentials:
        """An access token with a Video grant for `room` (any role may publish with it)."""
        self._require()
        seconds = int(min(ttl, MAX_TOKEN_TTL).total_seconds())
        expires = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=seconds)
        token = AccessToken(
            self._account_sid,
            self._api_key_sid,
            self._api_key_secret,
            identity=identity,
            ttl=seconds,
            valid_until=int(expires.timestamp()),
        )
        token.add_grant(VideoGrant(room=room))
        return Credentials(self.name, self._url, token.to_jwt(), room, identity, role, expires)

    def set_publishing(self, room: str, identity: str, allowed: bool) -> PublishChange:
        """Nothing to call: the client signal is the mechanism (see `enforce_revoke`)."""
        log.info(
            "twilio publishing change is a client signal only",
            extra={"media_call": {"room": room, "identity": identity, "allowed": allowed}},
        )
        return PublishChange.APPLIED

    def enforce_revoke(self, room: str, identity: str) -> bool:
        """Disconnect `identity` if it still publishes audio or video; False if it is absent."""
        participant = self._client.video.v1.rooms(_segment(room)).participants(_segment(identity))
        tracks = self._call(
            "list published tracks", participant.published_tracks.list, absent_ok=True
        )
        if tracks is None or not any((t.kind or "video") in MEDIA_KINDS for t in tracks):
            return False
        disconnected = self._call(
            "disconnect participant",
            lambda: participant.update(status="disconnected"),
            absent_ok=True,
        )
        if disconnected is not None:
            log.info(
                "twilio participant still publishing after a revoke was disconnected",
                extra={"media_call": {"room": room, "identity": identity}},
            )
        return disconnected is not None

    def participant_present(self, room: str, identity: str) -> bool | None:
        """Ask Twilio: a participant addressed by identity is found only while connected."""
        participant = self._client.video.v1.rooms(_segment(room)).participants(_segment(identity))
        found = self._call("fetch participant", participant.fetch, absent_ok=True)
        return found is not None and found.status == "connected"

    def vendor_room(self, room: str, position: int | None) -> str:
        """One group room per box: 50 participants hold a box's streamer and its viewers,
        where all twelve boxes in one room would leave 38 places."""
        return room if position is None else f"{room}{BOX_SEPARATOR}{position}"

    def room_of(self, vendor_room: str) -> tuple[str, int | None]:
        """`main~3` is box 3 of `main`."""
        slug, separator, position = vendor_room.rpartition(BOX_SEPARATOR)
        if separator and position.isdigit():
            return slug, int(position)
        return vendor_room, None

    def open_room(self, room: str) -> None:
        """Create the group room with the longest durations Twilio allows; one already in
        progress under that name is fine."""
        extra: dict[str, Any] = {}
        if self._status_callback:
            extra = {"status_callback": self._status_callback, "status_callback_method": "POST"}
        self._call(
            "create room",
            lambda: self._client.video.v1.rooms.create(
                unique_name=room,
                type="group",
                max_participants=MAX_PARTICIPANTS,
                max_participant_duration=MAX_PARTICIPANT_SECONDS,
                unused_room_timeout=UNUSED_ROOM_MINUTES,
                empty_room_timeout=EMPTY_ROOM_MINUTES,
                **extra,
            ),
            exists_ok=True,
        )

    def close_room(self, room: str) -> None:
        """Complete the room (everyone is disconnected); an unknown or ended room is fine."""
        self._call(
            "complete room",
            lambda: self._client.video.v1.rooms(_segment(room)).update(status="completed"),
            absent_ok=True,
        )

    def verify_webhook(self, body: bytes, headers: WebhookHeaders, url: str) -> list[MediaEvent]:
        """Check `X-Twilio-Signature` against `url` and the form, then read the room event."""
        if self._validator is None:
            raise WebhookVerificationFailed("TWILIO_AUTH_TOKEN is not set.")
        signature = _header(headers, SIGNATURE_HEADER)
        try:
            form = parse_qs(body.decode("utf-8"), keep_blank_values=True, strict_parsing=False)
        except UnicodeDecodeError:
            raise WebhookVerificationFailed("The Twilio callback is not UTF-8.") from None
        params = {key: values[0] for key, values in form.items()}
        if not signature or not self._validator.validate(url, params, signature):
            raise WebhookVerificationFailed("The Twilio signature is missing or does not match.")
        event, room = params.get("StatusCallbackEvent", ""), params.get("RoomName")
        kind = EVENT_KINDS.get(event)
        room_wide = kind == MediaEventKind.ROOM_FINISHED
        identity = None if room_wide else params.get("ParticipantIdentity")
        if kind is None or not room or (not room_wide and not identity):
            return []
        if params.get("RoomSid") and params.get("SequenceNumber"):
            event_id = f"{params['RoomSid']}:{params['SequenceNumber']}:{event}"
        else:
            event_id = "sha256:" + hashlib.sha256(body).hexdigest()
        return [
            MediaEvent(
                provider=self.name,
                event_id=event_id,
                kind=kind,
                room=room,
                identity=identity,
                occurred_at=_timestamp(params.get("Timestamp")),
                payload=params,
            )
        ]

    def close(self) -> None:
        """Close the HTTP session."""
        session = getattr(self._client.http_client, "session", None)
        if session is not None:
            session.close()

    def _require(self) -> None:
        if self._missing:
            raise ProviderRejected("Twilio is not configured: " + ", ".join(self._missing))

    def _call(
        self,
        action: str,
        call: Callable[[], T],
        *,
        absent_ok: bool = False,
        exists_ok: bool = False,
    ) -> T | None:
        """Run one vendor call, turning every failure into a MediaProviderError.

        None instead when the answer is 404 and `absent_ok`, or "Room exists" and `exists_ok`.
        """
        self._require()
        try:
            return call()
        except TwilioException as exc:
            status, code = _status_and_code(exc)
            if absent_ok and status == 404:
                return None
            if exists_ok and code == ROOM_EXISTS:
                return None
            raise _classify(action, status, code, exc) from exc
        except requests.RequestException as exc:
            raise ProviderUnavailable(f"Twilio could not be reached to {action}: {exc}") from exc
        except ValueError as exc:  # an answer that is not the JSON Twilio sends
            raise ProviderUnavailable(f"Twilio gave an unreadable answer to {action}") from exc


def _segment(value: str) -> str:
    """One URL path segment (the twilio package inserts names into URLs as they are)."""
    return quote(value, safe="")


def _status_and_code(exc: TwilioException) -> tuple[int | None, int | None]:
    if isinstance(getattr(exc, "status", None), int):  # TwilioRestException (or RFC 9457 one)
        return exc.status, getattr(exc, "code", None)
    # A list page that failed: TwilioException("Unable to fetch page", response).
    response = exc.args[1] if len(exc.args) > 1 else None
    status = getattr(response, "status_code", None)
    try:
        code = json.loads(getattr(response, "text", "")).get("code")
    except (AttributeError, TypeError, ValueError):
        code = None
    return status, code


def _classify(
    action: str, status: int | None, code: int | None, exc: Exception
) -> MediaProviderError:
    message = f"Twilio answered {status} (code {code}) to {action}"
    detail = getattr(exc, "msg", None) or getattr(exc, "detail", None)
    if detail:
        message += f": {detail}"
    if status is None or status >= 500 or status in (408, 429):
        return ProviderUnavailable(message)
    return ProviderRejected(message)


def _header(headers: WebhookHeaders, name: str) -> str | None:
    value = headers.get(name)
    if value is not None:
        return value
    wanted = name.lower()
    return next((v for k, v in headers.items() if k.lower() == wanted), None)


def _timestamp(raw: str | None) -> datetime:
    """Twilio's ISO 8601 `Timestamp` as an aware UTC datetime; now when absent or unreadable."""
    try:
        parsed = datetime.fromisoformat(raw or "")
    except ValueError:
        return datetime.now(UTC)
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)

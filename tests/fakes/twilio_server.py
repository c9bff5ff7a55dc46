"""A fake of Twilio's Video REST API on 127.0.0.1, spoken to by the official `twilio` client,
and the `twilio` media harness built on it (tokens, signed status callbacks, calls seen)."""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import time
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from tests.fakes.http_fake import FakeHandler, FlakyFakeHttpServer

ROOM_TYPES = ("go", "peer-to-peer", "group", "group-small")
# Twilio's limits and defaults for a group room.
MAX_PARTICIPANTS = 50
DEFAULT_PARTICIPANT_SECONDS, PARTICIPANT_SECONDS_RANGE = 14400, (600, 86400)
DEFAULT_TIMEOUT_MINUTES, TIMEOUT_MINUTES_RANGE = 5, (1, 60)
MAX_ROOM_SECONDS = 86400
TOO_MANY_PARTICIPANTS = 53105  # "Room contains too many Participants"


class RoomFull(Exception):
    """A client's connect refused: the room holds its maximum of participants."""


def new_sid(prefix: str) -> str:
    """A Twilio-shaped SID: two letters and 32 hex digits."""
    return prefix + uuid.uuid4().hex


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _lookup(
    items: dict[str, dict[str, Any]], key: str, name: str, live: str, *, by_sid: bool = True
) -> dict[str, Any] | None:
    """Twilio addressing: by SID, or by unique name/identity among the live ones only."""
    if by_sid and key in items:
        return items[key]
    return next((x for x in items.values() if x[name] == key and x["status"] == live), None)


def _room_limits(params: dict[str, str]) -> dict[str, int]:
    """A new room's MaxParticipants, MaxParticipantDuration and timeouts, refused out of
    Twilio's ranges as Twilio refuses them."""

    def number(name: str, default: int, low: int, high: int) -> int:
        raw = params.get(name)
        if raw is None:
            return default
        if not raw.isdigit() or not low <= int(raw) <= high:
            raise _ApiError(400, 53123, f"Invalid {name}: must be from {low} to {high}")
        return int(raw)

    return {
        "max_participants": number("MaxParticipants", MAX_PARTICIPANTS, 1, MAX_PARTICIPANTS),
        "max_duration": number(
            "MaxParticipantDuration", DEFAULT_PARTICIPANT_SECONDS, *PARTICIPANT_SECONDS_RANGE
        ),
        "unused_timeout": number(
            "UnusedRoomTimeout", DEFAULT_TIMEOUT_MINUTES, *TIMEOUT_MINUTES_RANGE
        ),
        "empty_timeout": number(
            "EmptyRoomTimeout", DEFAULT_TIMEOUT_MINUTES, *TIMEOUT_MINUTES_RANGE
        ),
    }


def _latest(items: dict[str, dict[str, Any]], name: str, key: str) -> dict[str, Any] | None:
    return next((x for x in reversed(list(items.values())) if x[name] == key), None)


class _ApiError(Exception):
    def __init__(self, status: int, code: int, message: str, more: dict[str, Any] | None = None):
        super().__init__(message)
        self.status = status
        self.body = {
            "code": code,
            "message": message,
            "more_info": f"https://www.twilio.com/docs/errors/{code}",
            "status": status,
            **(more or {}),
        }


def _not_found(path: str) -> _ApiError:
    return _ApiError(404, 20404, f"The requested resource {path.removeprefix('/v1')} was not found")


class FakeTwilio(FlakyFakeHttpServer):
    """Twilio Video v1 Rooms, Participants and PublishedTracks, with Twilio's auth and errors.

    Rooms and participants are addressed by SID or, while in progress/connected, by unique
    name/identity. Every request is kept in `calls` (oldest first) with its status and the
    room/identity it resolved to. `base_url` is the Video domain's (requests go to /v1/...);
    `fail_next` answers with Twilio's error body.
    """

    thread_name = "fake-twilio"
    reentrant_lock = True

    def __init__(
        self,
        account_sid: str,
        api_key_sid: str,
        api_key_secret: str,
        auth_token: str | None = None,
    ):
        super().__init__()
        self.account_sid = account_sid
        self._logins = {api_key_sid: api_key_secret}
        if auth_token:
            self._logins[account_sid] = auth_token
        self.calls: list[dict[str, Any]] = []
        self.rooms: dict[str, dict[str, Any]] = {}  # by sid, in creation order
        self._offset = 0.0  # how far `elapse` moved the fake's clock

    def clock(self) -> float:
        """The fake's time (unix seconds): real time moved on by `elapse`."""
        return time.time() + self._offset

    def elapse(self, seconds: float) -> None:
        """Move the clock on and let Twilio's timers act: a participant connected longer
        than the room's MaxParticipantDuration is disconnected; a room completes once it
        has lasted 24 h, was never joined for UnusedRoomTimeout or has been empty for
        EmptyRoomTimeout."""
        with self._lock:
            self._offset += seconds
            now = self.clock()
            for room in self.rooms.values():
                if room["status"] != "in-progress":
                    continue
                for participant in room["participants"].values():
                    connected = participant["status"] == "connected"
                    if connected and now - participant["since"] >= room["max_duration"]:
                        self._disconnect(participant)
                connected = [p for p in room["participants"].values() if p["status"] == "connected"]
                ends = [p.get("ended") or now for p in room["participants"].values()]
                idle_since = max(ends, default=room["created"])
                timeout = room["empty_timeout" if room["participants"] else "unused_timeout"]
                if now - room["created"] >= MAX_ROOM_SECONDS or (
                    not connected and now - idle_since >= timeout * 60
                ):
                    self._complete(room)

    # --- test controls -----------------------------------------------------------------------

    def reset(self, *, rooms: bool = False) -> None:
        """Forget calls, pending failures and slowness (and every room when `rooms`)."""
        with self._lock:
            self.calls.clear()
            self._forget_faults()
            if rooms:
                self.rooms.clear()

    def join(self, room: str, identity: str, tracks: Sequence[str] = ("video", "audio")) -> str:
        """Connect `identity` to `room` (created ad hoc if needed) publishing `tracks` (kinds).

        Like Twilio, an identity already connected there is disconnected first, and a room a
        client connects to before anyone created it is created then, with the defaults and
        no status callback. RoomFull past the room's MaxParticipants. Returns the new
        participant SID.
        """
        with self._lock:
            found = self._room(room)
            if found is None:
                found = self._new_room({"UniqueName": room})
            old = self._participant(found, identity)
            if old is not None:
                self._disconnect(old)
            connected = [p for p in found["participants"].values() if p["status"] == "connected"]
            if len(connected) >= found["max_participants"]:
                raise RoomFull(f"{room!r} holds {found['max_participants']} participants")
            sid = new_sid("PA")
            found["participants"][sid] = {
                "sid": sid,
                "identity": identity,
                "status": "connected",
                "start_time": _now(),
                "since": self.clock(),
                "end_time": None,
                "tracks": [self._track(kind, found["sid"], sid) for kind in tracks],
            }
            return sid

    def leave(self, room: str, identity: str) -> None:
        """The connected participant `identity` disconnects (nothing if not connected)."""
        with self._lock:
            found = self._room(room)
            participant = found and self._participant(found, identity)
            if participant:
                self._disconnect(participant)

    def unpublish(self, room: str, identity: str) -> None:
        """The connected participant stops publishing every track."""
        with self._lock:
            found = self._room(room)
            participant = found and self._participant(found, identity)
            if not participant:
                raise KeyError(f"{identity!r} is not connected to {room!r}")
            participant["tracks"] = []

    def room(self, room: str) -> dict[str, Any] | None:
        """The room as the API shows it, by SID or unique name (the latest, even completed)."""
        with self._lock:
            found = self._room(room) or _latest(self.rooms, "unique_name", room)
            return None if found is None else self._room_json(found)

    def participant(self, room: str, identity: str) -> dict[str, Any] | None:
        """The latest participant `identity` of the room (even disconnected), with its tracks."""
        with self._lock:
            found = self._room(room) or _latest(self.rooms, "unique_name", room)
            if found is None:
                return None
            participant = _latest(found["participants"], "identity", identity)
            return json.loads(json.dumps(participant)) if participant else None

    def next_sequence(self, room: str) -> tuple[str, int] | None:
        """(room SID, next status-callback SequenceNumber) of a known room, else None."""
        with self._lock:
            found = self._room(room)
            if found is None:
                return None
            found["sequence"] += 1
            return found["sid"], found["sequence"]

    # --- request handling --------------------------------------------------------------------

    def _handle(self, handler: FakeHandler) -> None:
        split = urlsplit(handler.path)
        body = handler.read_body().decode("utf-8", "replace")
        raw = body if handler.command == "POST" else split.query
        params = {k: v[0] for k, v in parse_qs(raw, keep_blank_values=True).items()}
        call: dict[str, Any] = {"method": handler.command, "path": split.path, "params": params}
        with self._lock:
            self.calls.append(call)
            failure = self._take_failure()
        if self._delay:
            time.sleep(self._delay)
        extra: dict[str, str] = {"Twilio-Request-Id": new_sid("RQ")}
        try:
            if failure is not None:
                call["injected"] = True
                raise _ApiError(failure, 20000 + failure, HTTPStatus(failure).phrase)
            self._authenticate(handler.headers.get("Authorization"), extra)
            with self._lock:
                status, payload = self._dispatch(handler.command, split.path, params, call)
        except _ApiError as exc:
            status, payload = exc.status, exc.body
        call["status"] = status
        data = json.dumps(payload).encode()
        handler.reply(status, data, headers=extra)

    def _authenticate(self, authorization: str | None, extra: dict[str, str]) -> None:
        scheme, _, encoded = (authorization or "").strip().partition(" ")
        user = password = ""
        if scheme.lower() == "basic":
            try:
                decoded = base64.b64decode(encoded.strip(), validate=True).decode()
                user, _, password = decoded.partition(":")
            except (binascii.Error, UnicodeDecodeError):
                pass
        expected = self._logins.get(user)
        if expected is None or not hmac.compare_digest(password.encode(), expected.encode()):
            extra["WWW-Authenticate"] = 'Basic realm="Twilio API"'
            raise _ApiError(
                401,
                20003,
                "Authenticate",
                {"detail": "Your AccountSid or AuthToken was incorrect."},
            )

    def _dispatch(
        self, method: str, path: str, params: dict[str, str], call: dict[str, Any]
    ) -> tuple[int, dict[str, Any]]:
        parts = [unquote(part) for part in path.strip("/").split("/")]
        if parts[:2] != ["v1", "Rooms"] or len(parts) > 6 or len(parts) == 4:
            raise _not_found(path)
        if method == "POST":  # what the harness reports, whatever the answer
            call["action"] = {2: "open_room", 3: "close_room", 5: "disconnect"}.get(len(parts))
        call["room"] = parts[2] if len(parts) > 2 else params.get("UniqueName")
        call["identity"] = parts[4] if len(parts) > 4 else None
        if len(parts) == 2:
            if method != "POST":
                raise _not_found(path)
            return 201, self._room_json(self._create_room(params))
        room = self._room(parts[2])
        if room is None:
            raise _not_found(path)
        call["room"] = room["unique_name"]
        if len(parts) == 3:
            if method == "POST":
                self._complete_room(room, params)
            return 200, self._room_json(room)
        participant = self._participant(room, parts[4])
        if participant is None:
            raise _not_found(path)
        call["identity"] = participant["identity"]
        if len(parts) == 6:
            if parts[5] != "PublishedTracks" or method != "GET":
                raise _not_found(path)
            return 200, self._tracks_page(room, participant, path)
        if method == "POST":
            if params.get("Status") != "disconnected":
                raise _ApiError(400, 20001, "Invalid Status: must be disconnected")
            self._disconnect(participant)
        return 200, self._participant_json(room, participant)

    def _create_room(self, params: dict[str, str]) -> dict[str, Any]:
        kind = params.get("Type", "group")
        if kind not in ROOM_TYPES:
            raise _ApiError(400, 20001, f"Invalid Type: {kind}")
        name = params.get("UniqueName")
        if name and _lookup(self.rooms, name, "unique_name", "in-progress", by_sid=False):
            raise _ApiError(400, 53113, "Room exists")
        return self._new_room(params)

    def _new_room(self, params: dict[str, str]) -> dict[str, Any]:
        limits = _room_limits(params)
        sid = new_sid("RM")
        room = {
            **limits,
            "created": self.clock(),
            "sid": sid,
            "unique_name": params.get("UniqueName") or sid,
            "type": params.get("Type", "group"),
            "status": "in-progress",
            "status_callback": params.get("StatusCallback"),
            "status_callback_method": params.get("StatusCallbackMethod", "POST"),
            "date_created": _now(),
            "end_time": None,
            "participants": {},
            "sequence": -1,
        }
        self.rooms[sid] = room
        return room

    def _complete_room(self, room: dict[str, Any], params: dict[str, str]) -> None:
        if params.get("Status") != "completed":
            raise _ApiError(400, 20001, "Invalid Status: must be completed")
        if room["status"] == "in-progress":
            self._complete(room)

    def _complete(self, room: dict[str, Any]) -> None:
        room.update(status="completed", end_time=_now())
        for participant in room["participants"].values():
            self._disconnect(participant)

    def _room(self, key: str) -> dict[str, Any] | None:
        return _lookup(self.rooms, key, "unique_name", "in-progress")

    @staticmethod
    def _participant(room: dict[str, Any], key: str) -> dict[str, Any] | None:
        return _lookup(room["participants"], key, "identity", "connected")

    def _disconnect(self, participant: dict[str, Any]) -> None:
        if participant["status"] == "connected":
            participant.update(
                status="disconnected", end_time=_now(), ended=self.clock(), tracks=[]
            )

    @staticmethod
    def _track(kind: str, room_sid: str, participant_sid: str) -> dict[str, Any]:
        return {
            "sid": new_sid("MT"),
            "name": uuid.uuid4().hex,
            "kind": kind,
            "enabled": True,
            "date_created": _now(),
            "room_sid": room_sid,
            "participant_sid": participant_sid,
        }

    # --- resources as Twilio shows them ------------------------------------------------------

    def _room_json(self, room: dict[str, Any]) -> dict[str, Any]:
        url = f"{self.base_url}/v1/Rooms/{room['sid']}"
        return {
            "sid": room["sid"],
            "account_sid": self.account_sid,
            "unique_name": room["unique_name"],
            "status": room["status"],
            "type": room["type"],
            "date_created": room["date_created"],
            "date_updated": room["end_time"] or room["date_created"],
            "end_time": room["end_time"],
            "duration": None,
            "enable_turn": True,
            "status_callback": room["status_callback"],
            "status_callback_method": room["status_callback_method"],
            "max_participants": room["max_participants"],
            "max_participant_duration": room["max_duration"],
            "max_concurrent_published_tracks": 170,
            "record_participants_on_connect": False,
            "video_codecs": ["VP8", "H264"],
            "media_region": "us1",
            "audio_only": False,
            "empty_room_timeout": room["empty_timeout"],
            "unused_room_timeout": room["unused_timeout"],
            "large_room": False,
            "url": url,
            "links": {
                "participants": f"{url}/Participants",
                "recordings": f"{url}/Recordings",
                "recording_rules": f"{url}/RecordingRules",
                "transcriptions": f"{url}/Transcriptions",
            },
        }

    def _participant_json(self, room: dict[str, Any], p: dict[str, Any]) -> dict[str, Any]:
        url = f"{self.base_url}/v1/Rooms/{room['sid']}/Participants/{p['sid']}"
        return {
            "sid": p["sid"],
            "room_sid": room["sid"],
            "account_sid": self.account_sid,
            "identity": p["identity"],
            "status": p["status"],
            "start_time": p["start_time"],
            "end_time": p["end_time"],
            "date_created": p["start_time"],
            "date_updated": p["end_time"] or p["start_time"],
            "duration": None,
            "url": url,
            "links": {
                "published_tracks": f"{url}/PublishedTracks",
                "subscribed_tracks": f"{url}/SubscribedTracks",
                "subscribe_rules": f"{url}/SubscribeRules",
                "anonymize": f"{url}/Anonymize",
            },
        }

    def _tracks_page(self, room: dict[str, Any], p: dict[str, Any], path: str) -> dict[str, Any]:
        url = f"{self.base_url}{path}"
        tracks = [
            {**track, "date_updated": track["date_created"], "url": f"{url}/{track['sid']}"}
            for track in p["tracks"]
        ]
        meta = {
            "page": 0,
            "page_size": 50,
            "first_page_url": f"{url}?PageSize=50&Page=0",
            "previous_page_url": None,
            "url": f"{url}?PageSize=50&Page=0",
            "next_page_url": None,
            "key": "published_tracks",
        }
        return {"published_tracks": tracks, "meta": meta}


# --- the media harness -----------------------------------------------------------------------

# Our normalised webhook kinds → Twilio's StatusCallbackEvent.

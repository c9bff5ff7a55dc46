"""A fake of LiveKit's RoomService (Twirp) on 127.0.0.1, spoken to by the official `livekit-api`.

It checks the `Authorization: Bearer <jwt>` like LiveKit does (signature, issuer = API key,
expiry, and the grant each method needs), keeps rooms and participant permissions, and
records every call. `LiveKitHarness` (tests/fakes/livekit_harness.py) wraps it for the
media contract suite and is re-exported here.
"""

from __future__ import annotations

import contextlib
import json
import re
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Any, Self
from urllib.parse import urlsplit

from google.protobuf.json_format import MessageToDict, MessageToJson, Parse
from google.protobuf.message import DecodeError, Message
from livekit import api

from tests.fakes.http_fake import FakeHandler, FakeServer, FlakyFakeHttpServer

# Twirp error codes for the HTTP statuses `fail_next` may be asked for.
TWIRP_CODES = {
    400: "invalid_argument",
    401: "unauthenticated",
    403: "permission_denied",
    404: "not_found",
    409: "already_exists",
    429: "resource_exhausted",
    500: "internal",
    501: "unimplemented",
    503: "unavailable",
    504: "deadline_exceeded",
}

_PATH_RE = re.compile(r"/twirp/livekit\.RoomService/(\w+)")


class _TwirpError(Exception):
    def __init__(self, status: int, msg: str, code: str | None = None):
        super().__init__(msg)
        self.status, self.msg = status, msg
        self.code = code or TWIRP_CODES.get(status, "unknown")


@dataclass(frozen=True)
class _Method:
    request: type[Message]
    grant: str  # "room_create", "room_list" or "room_admin" (for the request's room)


_METHODS = {
    "CreateRoom": _Method(api.CreateRoomRequest, "room_create"),
    "DeleteRoom": _Method(api.DeleteRoomRequest, "room_create"),
    "ListRooms": _Method(api.ListRoomsRequest, "room_list"),
    "UpdateParticipant": _Method(api.UpdateParticipantRequest, "room_admin"),
    "ListParticipants": _Method(api.ListParticipantsRequest, "room_admin"),
    "GetParticipant": _Method(api.RoomParticipantIdentity, "room_admin"),
    "RemoveParticipant": _Method(api.RoomParticipantIdentity, "room_admin"),
}


def _sid(prefix: str) -> str:
    return prefix + uuid.uuid4().hex[:12]


class _Server(FakeServer):
    request_queue_size = 128  # many client threads connect at once

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that gave up on a slow answer closes its socket; that is expected


class _Handler(FakeHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, like LiveKit; aiohttp pools connections
    do_PUT = FakeHandler.do_GET  # reaches `_handle` (bad_route) rather than http.server's 501


class FakeLiveKit(FlakyFakeHttpServer):
    """LiveKit's RoomService with LiveKit's auth checks, on an ephemeral 127.0.0.1 port.

    `base_url` is LIVEKIT_API_URL. `fail_next` answers with a Twirp error body, doing
    nothing; `answer_slowly` holds every answer after doing the work (until `stop`).
    """

    thread_name = "fake-livekit"
    server_class = _Server
    handler_class = _Handler

    def __init__(self, api_key: str, api_secret: str):
        super().__init__()
        self.api_key = api_key
        self.api_secret = api_secret
        self.rooms: dict[str, api.Room] = {}
        # (room, identity) -> the participant as LiveKit would report it
        self.participants: dict[tuple[str, str], api.ParticipantInfo] = {}
        # room -> when it last had nobody (its creation, or the last participant leaving),
        # and whether anyone ever joined: LiveKit closes an empty room after its timeout.
        self._idle: dict[str, tuple[float, bool]] = {}
        self._offset = 0.0
        self._calls: list[dict[str, Any]] = []
        self._stopping = threading.Event()

    def start(self) -> Self:
        """Serve on an ephemeral 127.0.0.1 port in a daemon thread."""
        self._stopping.clear()  # set only while stopped
        return super().start()

    def stop(self) -> None:
        """Stop serving and release the port (safe to call twice); slow answers stop waiting."""
        self._stopping.set()
        super().stop()

    @property
    def ws_url(self) -> str:
        """`ws://127.0.0.1:PORT` (LIVEKIT_URL, what clients are given)."""
        return "ws" + self.base_url[4:]

    # --- test controls -----------------------------------------------------------------------

    def calls(self) -> list[dict[str, Any]]:
        """Every request received, oldest first: {method, request (dict), status, handled, at}."""
        with self._lock:
            return [dict(call) for call in self._calls]

    def reset(self) -> None:
        """Forget calls, rooms, participants, absences, pending failures and slowness."""
        with self._lock:
            self._calls.clear()
            self.rooms.clear()
            self.participants.clear()
            self._idle.clear()
            self._offset = 0.0
            self._forget_faults()

    def absent(self, identity: str) -> None:
        """`identity` leaves every room: UpdateParticipant answers not_found, as LiveKit does."""
        with self._lock:
            for key in [key for key in self.participants if key[1] == identity]:
                del self.participants[key]
                self._left(key[0])

    def leave(self, room: str, identity: str) -> None:
        """`identity` disconnects from `room`."""
        with self._lock:
            if self.participants.pop((room, identity), None) is not None:
                self._left(room)

    def elapse(self, seconds: float) -> None:
        """Move the clock on: a room nobody joined closes after its `empty_timeout`, one
        everybody left after its `departure_timeout`, as LiveKit closes them."""
        with self._lock:
            self._offset += seconds
            now = time.time() + self._offset
            occupied = {room for room, _ in self.participants}
            for name, room in list(self.rooms.items()):
                since, joined = self._idle.get(name, (now, False))
                timeout = room.departure_timeout if joined else room.empty_timeout
                if name not in occupied and now - since >= timeout:
                    del self.rooms[name]
                    self._idle.pop(name, None)

    def _left(self, room: str) -> None:
        if not any(key[0] == room for key in self.participants):
            self._idle[room] = (time.time() + self._offset, True)

    def join(self, room: str, identity: str, *, can_publish: bool = False) -> None:
        """`identity` connects to `room` (creating it, as LiveKit's auto-create does).

        Like LiveKit, a participant already connected under that identity is replaced
        (a new participant SID; the old session is disconnected).
        """
        with self._lock:
            self._room(room)
            self.participants[(room, identity)] = self._participant(
                identity,
                api.ParticipantPermission(
                    can_subscribe=True, can_publish=can_publish, can_publish_data=True
                ),
            )

    # --- HTTP --------------------------------------------------------------------------------

    def _handle(self, handler: FakeHandler) -> None:
        body = handler.read_body()
        content_type = (handler.headers.get("Content-Type") or "").split(";")[0].strip()
        as_json = content_type == "application/json"
        match = _PATH_RE.fullmatch(urlsplit(handler.path).path)
        call: dict[str, Any] = {
            "method": match.group(1) if match else handler.path,
            "request": None,
            "status": None,
            "handled": False,  # authenticated, authorised and passed to the RoomService method
            "at": time.time(),
        }
        with self._lock:
            self._calls.append(call)
            failure = self._take_failure()
            delay = self._delay
        try:
            if failure is not None:
                raise _TwirpError(failure, f"injected failure {failure}")
            claims = self._authenticate(handler.headers.get("Authorization"))
            method = _METHODS.get(call["method"]) if match else None
            if handler.command != "POST" or method is None:
                raise _TwirpError(404, f"no handler for path {handler.path}", "bad_route")
            if content_type not in ("application/protobuf", "application/json"):
                raise _TwirpError(404, f"unexpected Content-Type: {content_type!r}", "bad_route")
            request = self._decode(method.request, body, as_json)
            with self._lock:
                call["request"] = MessageToDict(request, preserving_proto_field_name=True)
            self._authorize(claims, method.grant, getattr(request, "room", ""))
            with self._lock:
                call["handled"] = True
                response = getattr(self, "_" + call["method"])(request)
            status = 200
            data = MessageToJson(response).encode() if as_json else response.SerializeToString()
            reply_type = content_type
        except _TwirpError as exc:
            status = exc.status
            data = json.dumps({"code": exc.code, "msg": exc.msg}).encode()
            reply_type = "application/json"
        with self._lock:
            call["status"] = status
        if delay:
            self._stopping.wait(delay)
        with contextlib.suppress(OSError):  # the client stopped waiting
            handler.reply(status, data, reply_type)

    def _authenticate(self, authorization: str | None) -> api.access_token.Claims:
        scheme, _, token = (authorization or "").partition(" ")
        if scheme != "Bearer" or not token:
            raise _TwirpError(401, "authorization header is missing or not a bearer token")
        try:
            return api.TokenVerifier(self.api_key, self.api_secret).verify(token.strip())
        except Exception as exc:  # bad signature, unknown key (issuer), expired
            raise _TwirpError(401, f"invalid authorization token: {exc}") from None

    @staticmethod
    def _authorize(claims: Any, grant: str, room: str) -> None:
        video = claims.video
        allowed = bool(getattr(video, grant, False))
        if grant == "room_admin":
            allowed = allowed and video.room == room
        if not allowed:
            raise _TwirpError(403, "permissions denied", "permission_denied")

    @staticmethod
    def _decode(cls: type[Message], body: bytes, as_json: bool) -> Message:
        try:
            if as_json:
                return Parse(body.decode(), cls())
            return cls.FromString(body)
        except (DecodeError, ValueError) as exc:
            raise _TwirpError(400, f"could not decode the request: {exc}", "malformed") from None

    # --- RoomService (called with the lock held) ---------------------------------------------

    def _room(
        self,
        name: str,
        empty_timeout: int = 0,
        max_participants: int = 0,
        departure_timeout: int = 0,
    ) -> api.Room:
        if name not in self.rooms:
            now = time.time()
            self._idle[name] = (now + self._offset, False)
            self.rooms[name] = api.Room(
                sid=_sid("RM_"),
                name=name,
                empty_timeout=empty_timeout or 300,  # LiveKit's defaults
                departure_timeout=departure_timeout or 20,
                max_participants=max_participants,
                creation_time=int(now),
                creation_time_ms=int(now * 1000),
            )
        return self.rooms[name]

    @staticmethod
    def _participant(identity: str, permission: api.ParticipantPermission) -> api.ParticipantInfo:
        return api.ParticipantInfo(
            sid=_sid("PA_"),
            identity=identity,
            state=api.ParticipantInfo.State.ACTIVE,
            joined_at=int(time.time()),
            permission=permission,
        )

    def _CreateRoom(self, request: api.CreateRoomRequest) -> api.Room:
        if not request.name:
            raise _TwirpError(400, "room name is required")
        return self._room(
            request.name,
            request.empty_timeout,
            request.max_participants,
            request.departure_timeout,
        )

    def _DeleteRoom(self, request: api.DeleteRoomRequest) -> api.DeleteRoomResponse:
        if self.rooms.pop(request.room, None) is None:
            raise _TwirpError(404, "requested room does not exist")
        for key in [key for key in self.participants if key[0] == request.room]:
            del self.participants[key]
        return api.DeleteRoomResponse()

    def _ListRooms(self, request: api.ListRoomsRequest) -> api.ListRoomsResponse:
        names = set(request.names)
        rooms = [room for name, room in self.rooms.items() if not names or name in names]
        return api.ListRoomsResponse(rooms=rooms)

    def _UpdateParticipant(self, request: api.UpdateParticipantRequest) -> api.ParticipantInfo:
        participant = self.participants.get((request.room, request.identity))
        if participant is None:  # LiveKit only updates a connected participant
            raise _TwirpError(404, "participant does not exist")
        if request.HasField("permission"):
            participant.permission.CopyFrom(request.permission)  # replaced whole, like LiveKit
        if request.metadata:
            participant.metadata = request.metadata
        return participant

    def _ListParticipants(self, request: api.ListParticipantsRequest) -> Message:
        if request.room not in self.rooms:
            raise _TwirpError(404, "requested room does not exist")
        found = [p for (room, _), p in self.participants.items() if room == request.room]
        return api.ListParticipantsResponse(participants=found)

    def _GetParticipant(self, request: api.RoomParticipantIdentity) -> Message:
        participant = self.participants.get((request.room, request.identity))
        if participant is None:
            raise _TwirpError(404, "participant does not exist")
        return participant

    def _RemoveParticipant(self, request: api.RoomParticipantIdentity) -> Message:
        if self.participants.pop((request.room, request.identity), None) is None:
            raise _TwirpError(404, "participant does not exist")
        return api.RemoveParticipantResponse()


def __getattr__(name: str) -> Any:
    # `LiveKitHarness` lives beside the fake (tests/fakes/livekit_harness.py) and is
    # importable from here too; imported lazily, as that module imports this one.
    if name == "LiveKitHarness":
        from tests.fakes.livekit_harness import LiveKitHarness

        return LiveKitHarness
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

"""The `livekit` provider: LiveKit's RoomService (Twirp) through the official `livekit-api`.

The package is asyncio/aiohttp and our callers are synchronous (Flask threads, RQ workers),
so the adapter owns one event loop in a daemon thread, started on first use, with one
`LiveKitAPI` client created inside it; every call is a coroutine submitted to that loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
import select
import selectors
import threading
import weakref
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import aiohttp
import jwt
from flask import Flask
from google.protobuf.json_format import MessageToDict
from livekit import api

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

DEFAULT_TIMEOUT_SECONDS = 10.0
# LiveKit closes a room nobody joined after `empty_timeout` (5 min unless told) and one
# everybody left after `departure_timeout` (20 s), ending its streams: a seated streamer
# gets 10 minutes to connect, and a streamer whose connection drops finds the room still
# there for a minute (longer than MEDIA_LEFT_GRACE_SECONDS' default).
EMPTY_TIMEOUT_SECONDS = 600
DEPARTURE_TIMEOUT_SECONDS = 60
# LiveKit event names equal our normalised kinds; any other event is ignored.
EVENT_KINDS = frozenset(MediaEventKind)

# Live adapters, so a forked child can drop the parent's loop and lock (see _after_fork).
_ADAPTERS: weakref.WeakSet[LiveKitProvider] = weakref.WeakSet()
# What a forked child inherited from its parent's loop. The epoll instance and the pooled
# sockets are shared with the parent, so cleaning them up here (unregistering sockets, ending
# TLS sessions) would break the parent's loop: they stay referenced and are never touched.
_INHERITED: list[tuple[Any, ...]] = []


def _after_fork() -> None:
    for adapter in list(_ADAPTERS):
        adapter._lock = threading.Lock()  # another thread may have held it at the fork
        adapter._disown_loop()


os.register_at_fork(after_in_child=_after_fork)


def _disown(loop: asyncio.AbstractEventLoop) -> None:
    """Give an inherited loop an epoll instance of its own, so that even its clean-up at
    interpreter exit cannot unregister the parent's sockets from the shared one."""
    selector = getattr(loop, "_selector", None)  # asyncio's own; best effort
    epoll = getattr(selectors, "EpollSelector", None)
    if epoll is not None and isinstance(selector, epoll):
        with contextlib.suppress(OSError, ValueError):
            fresh = select.epoll()
            os.dup2(fresh.fileno(), selector.fileno(), inheritable=False)
            fresh.close()


def api_url_for(url: str) -> str:
    """The HTTP(S) API base for a client URL: ws→http, wss→https, http(s) unchanged."""
    if url.startswith("ws"):
        return "http" + url[2:]
    return url


class LiveKitProvider(MediaProvider):
    """LiveKit: server-side publish permissions, explicit rooms, signed webhooks."""

    name = "livekit"
    capabilities = Capabilities(
        server_side_publish_control=True,
        # Re-allowing restores the permission but does not make the client republish.
        client_signal_required=True,
        explicit_rooms=True,
        webhooks=True,
        token_enforces_role=True,
    )

    def __init__(
        self,
        *,
        url: str | None,
        api_key: str | None,
        api_secret: str | None,
        api_url: str | None = None,
        timeout: float = DEFAULT_TIMEOUT_SECONDS,
    ):
        self._url = url
        self._api_url = api_url or (api_url_for(url) if url else None)
        self._key = api_key
        self._secret = api_secret
        self._timeout = timeout
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._client: api.LiveKitAPI | None = None
        self._pid: int | None = None
        _ADAPTERS.add(self)

    @classmethod
    def from_app(cls, app: Flask) -> LiveKitProvider:
        """Configure from the app (LIVEKIT_URL, LIVEKIT_API_URL, LIVEKIT_API_KEY/SECRET)."""
        return cls(
            url=app.config.get("LIVEKIT_URL"),
            api_url=app.config.get("LIVEKIT_API_URL"),
            api_key=app.config.get("LIVEKIT_API_KEY"),
            api_secret=app.config.get("LIVEKIT_API_SECRET"),
        )

    # --- tokens ------------------------------------------------------------------------------

    def credentials(self, room: str, identity: str, role: Role, ttl: timedelta) -> Credentials:
        """A LiveKit access token; only a publisher's may publish (the default would allow it)."""
        if role not in ("publisher", "subscriber"):
            raise ValueError(f"unknown role {role!r}")
        if not room or not identity:
            raise ValueError("room and identity must not be empty")
        key, secret = self._keys(ProviderRejected)
        grants = api.VideoGrants(
            room_join=True,
            room=room,
            can_publish=role == "publisher",
            can_subscribe=True,
            can_publish_data=True,
        )
        token = (
            api.AccessToken(key, secret)
            .with_identity(identity)
            .with_ttl(ttl)
            .with_grants(grants)
            .to_jwt()
        )
        # The token's own `exp` (whole seconds), so the two can never disagree.
        exp = jwt.decode(token, options={"verify_signature": False})["exp"]
        expires_at = datetime.fromtimestamp(exp, UTC)
        assert self._url is not None  # _keys checked the configuration
        return Credentials(self.name, self._url, token, room, identity, role, expires_at)

    # --- RoomService -------------------------------------------------------------------------

    def set_publishing(self, room: str, identity: str, allowed: bool) -> PublishChange:
        """Set the participant's permission; always complete, so can_subscribe stays True.

        A participant not connected (yet) answers not_found: PENDING, as LiveKit holds
        nothing to change. An allow needs nothing more (a publisher's token can publish);
        a revoke must be made again once they connect (see `services/rooms/vendor_view.py`).
        """
        request = api.UpdateParticipantRequest(
            room=room,
            identity=identity,
            permission=api.ParticipantPermission(
                can_subscribe=True, can_publish=allowed, can_publish_data=True
            ),
        )
        done = self._call(
            f"update_participant {room}/{identity}",
            lambda client: client.room.update_participant(request),
            not_found_ok=True,
        )
        if done is None:
            log.info(
                "livekit participant not in room; %s pending",
                "allow" if allowed else "revoke",
                extra={"room": room, "identity": identity},
            )
            return PublishChange.PENDING
        return PublishChange.APPLIED

    def publishers(self, room: str) -> dict[str, bool] | None:
        """ListParticipants: every connected participant and its can_publish permission."""
        request = api.ListParticipantsRequest(room=room)
        listed = self._call(
            f"list_participants {room}",
            lambda client: client.room.list_participants(request),
            not_found_ok=True,
        )
        if listed is None:  # no such room: nobody in it
            return {}
        return {
            p.identity: p.permission.can_publish
            for p in listed.participants
            if p.state != api.ParticipantInfo.State.DISCONNECTED
        }

    def participant_present(self, room: str, identity: str) -> bool | None:
        """Ask LiveKit (GetParticipant): a reconnect replaces the participant under the same
        identity, so only its current state counts."""
        request = api.RoomParticipantIdentity(room=room, identity=identity)
        found = self._call(
            f"get_participant {room}/{identity}",
            lambda client: client.room.get_participant(request),
            not_found_ok=True,
        )
        return found is not None and found.state != api.ParticipantInfo.State.DISCONNECTED

    def open_room(self, room: str) -> None:
        """Create the room (LiveKit answers with the existing room when it is already open)."""
        request = api.CreateRoomRequest(
            name=room,
            empty_timeout=EMPTY_TIMEOUT_SECONDS,
            departure_timeout=DEPARTURE_TIMEOUT_SECONDS,
        )
        self._call(f"create_room {room}", lambda client: client.room.create_room(request))

    def close_room(self, room: str) -> None:
        """Delete the room, disconnecting everyone; a room already gone counts as closed."""
        request = api.DeleteRoomRequest(room=room)
        self._call(
            f"delete_room {room}",
            lambda client: client.room.delete_room(request),
            not_found_ok=True,
        )

    # --- webhooks ----------------------------------------------------------------------------

    def verify_webhook(self, body: bytes, headers: WebhookHeaders, url: str) -> list[MediaEvent]:
        """Check the `Authorization` JWT and its body sha256 (LiveKit signs the body only)."""
        key, secret = self._keys(WebhookVerificationFailed)
        authorization = next((v for k, v in headers.items() if k.lower() == "authorization"), "")
        receiver = api.WebhookReceiver(api.TokenVerifier(key, secret))
        try:
            event = receiver.receive(body.decode("utf-8"), authorization)
        except Exception as exc:  # bad or expired JWT, sha256 mismatch, unparsable body
            raise WebhookVerificationFailed(f"livekit webhook rejected: {exc}") from exc
        if event.event not in EVENT_KINDS or not event.room.name:
            return []
        identity = event.participant.identity if event.HasField("participant") else ""
        occurred = event.created_at or int(datetime.now(UTC).timestamp())
        return [
            MediaEvent(
                provider=self.name,
                # LiveKit always sends an id; the body hash stands in should one be missing.
                event_id=event.id or "sha256:" + hashlib.sha256(body).hexdigest(),
                kind=MediaEventKind(event.event),
                room=event.room.name,
                identity=None if event.event == MediaEventKind.ROOM_FINISHED else identity or None,
                occurred_at=datetime.fromtimestamp(occurred, UTC),
                payload=MessageToDict(event),
            )
        ]

    # --- the event loop ----------------------------------------------------------------------

    def close(self) -> None:
        """Close the HTTP session, stop the loop and join its thread (safe to repeat)."""
        with self._lock:
            if self._pid != os.getpid():
                self._disown_loop()  # never started, or the parent's (the parent closes it)
                return
            loop, thread, client = self._loop, self._thread, self._client
            self._loop = self._thread = self._client = self._pid = None
        if loop is None:
            return
        try:
            if client is not None:
                future = asyncio.run_coroutine_threadsafe(client.aclose(), loop)
                future.result(timeout=self._timeout)
        except Exception:
            log.warning("closing the livekit api client failed", exc_info=True)
        loop.call_soon_threadsafe(loop.stop)
        if thread is not None:
            thread.join(timeout=self._timeout)
        if thread is None or not thread.is_alive():
            loop.close()

    def _disown_loop(self) -> None:
        """In a forked child: the loop's thread did not survive and its sockets are the
        parent's, so set them aside untouched; the next call starts afresh."""
        if self._loop is not None and self._pid != os.getpid():
            _INHERITED.append((self._loop, self._thread, self._client))
            _disown(self._loop)
        self._loop = self._thread = self._client = self._pid = None

    def _running_client(self) -> tuple[asyncio.AbstractEventLoop, api.LiveKitAPI]:
        key, secret = self._keys(ProviderRejected)
        with self._lock:
            if self._pid != os.getpid():
                self._disown_loop()  # forked without our at-fork hook
            if self._loop is None or self._client is None:
                loop = asyncio.new_event_loop()
                thread = threading.Thread(
                    target=_run_forever, args=(loop,), name="livekit-api", daemon=True
                )
                thread.start()

                async def new_client() -> api.LiveKitAPI:
                    # Our callers retry with backoff themselves; LiveKit Cloud region failover
                    # would multiply the time a call can take.
                    return api.LiveKitAPI(
                        self._api_url,
                        key,
                        secret,
                        timeout=aiohttp.ClientTimeout(total=self._timeout),
                        failover=False,
                    )

                client = asyncio.run_coroutine_threadsafe(new_client(), loop).result(self._timeout)
                self._loop, self._thread, self._client = loop, thread, client
                self._pid = os.getpid()
            return self._loop, self._client

    def _call(
        self,
        what: str,
        request: Callable[[api.LiveKitAPI], Awaitable[T]],
        *,
        not_found_ok: bool = False,
    ) -> T | None:
        """Run `request(client)` on the loop; vendor errors become MediaProviderErrors."""
        loop, client = self._running_client()

        async def run() -> T:
            # livekit-api passes `timeout=None` per request, which turns off the session's
            # aiohttp timeout, so the bound is enforced here.
            return await asyncio.wait_for(request(client), self._timeout)

        future = asyncio.run_coroutine_threadsafe(run(), loop)
        try:
            return future.result(timeout=self._timeout + 1)  # a backstop; wait_for fires first
        except api.TwirpError as exc:
            if not_found_ok and exc.code == api.TwirpErrorCode.NOT_FOUND:
                return None
            # 5xx and 429 may pass if retried; any other 4xx (auth, invalid) will not.
            if exc.status >= 500 or exc.status == 429:
                raise ProviderUnavailable(f"livekit {what}: {exc}") from exc
            raise ProviderRejected(f"livekit {what}: {exc}") from exc
        except TimeoutError as exc:  # asyncio's and concurrent.futures' are this one in 3.11
            future.cancel()
            raise ProviderUnavailable(f"livekit {what}: no answer in {self._timeout}s") from exc
        except (aiohttp.ClientError, OSError) as exc:
            raise ProviderUnavailable(f"livekit {what}: {exc!r}") from exc
        except MediaProviderError:
            raise
        except Exception as exc:  # e.g. a garbled answer; never let a vendor error escape
            log.warning("unexpected livekit error", exc_info=True)
            raise ProviderUnavailable(f"livekit {what}: {exc!r}") from exc

    def _keys(self, error: type[MediaProviderError]) -> tuple[str, str]:
        if not (self._url and self._api_url and self._key and self._secret):
            raise error("livekit is not configured (LIVEKIT_URL, LIVEKIT_API_KEY/SECRET)")
        return self._key, self._secret


def _run_forever(loop: asyncio.AbstractEventLoop) -> None:
    asyncio.set_event_loop(loop)
    loop.run_forever()

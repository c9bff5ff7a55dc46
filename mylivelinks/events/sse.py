"""Server-Sent Events: the wire format of a Redis event stream, fanned out within a process.

Each process reads a stream key once, whatever the number of its clients: a hub thread
waits in XREAD BLOCK on a Redis connection of its own and keeps the recent events in
wire format (bytes); every open SSE stream of that key waits on one of the hub's events and
writes what is new. A room event costs one Redis read and one JSON encoding per process, not
per client. A stream holds no database connection, and its body runs without an app or
request context (what it needs is taken in the request).

The streams wait without a timer each: a hub with nothing to deliver wakes all of its
streams every HUB_BLOCK_SECONDS (or as often as the shortest keep-alive among them needs),
and each sees whether its keep-alive or its end is due. A timer per wait, started and
cancelled at every event, cost a fifth to a quarter of the server's CPU per delivery
(bench/sse_fanout.py, paired runs).

A stream starts with a `retry:` hint and the id it starts after (so a client that receives
nothing still resumes from the right place), sends a keep-alive comment after
SSE_KEEPALIVE_SECONDS without events and ends after SSE_MAX_SECONDS so proxies recycle
connections, each at the hub's next wake (so up to HUB_BLOCK_SECONDS later); EventSource
then reconnects with `Last-Event-ID`. A client resuming from further back than the hub
holds catches up from Redis first.

The server runs each stream as a gevent greenlet (gunicorn's gevent worker patches
threading and sockets), so the hub's thread, its condition and the streams' waits are
cooperative and an idle stream costs memory, not a thread. How many streams a process
takes, how a stuck client is dropped and how an open room stream keeps its viewer present
is `events.listeners`. A client that has gone is found at the next write at the latest
(an event or a keep-alive).
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections import deque
from collections.abc import Iterator

from flask import Flask, current_app
from redis import Redis, RedisError

from mylivelinks.events.listeners import Listeners, listeners
from mylivelinks.events.streams import (
    Event,
    current_last_id,
    dedicated_client,
    id_order,
    read_events,
)
from mylivelinks.extensions import get_redis

log = logging.getLogger(__name__)

KEEP_ALIVE = b": keep-alive\n\n"
# How long a hub blocks per read: also how soon it notices its last stream has gone, and
# (or the shortest keep-alive of its streams, if shorter) how often it wakes idle streams.
HUB_BLOCK_SECONDS = 2
HUB_READ_COUNT = 100
# Events a hub keeps; a stream further behind catches up from Redis.
HUB_RECENT = 256
# A hub wakes its streams lane by lane, pausing between lanes so that the server serves
# other requests meanwhile: with 10,000 listeners a lane is about 20 ms of work.
HUB_LANES = 16
LANE_PAUSE_SECONDS = 0.001
CATCH_UP_COUNT = 500
READ_TIMEOUT_MARGIN_SECONDS = 10

Position = tuple[int, int]


def format_event(event: Event) -> bytes:
    """One event in the SSE wire format."""
    data = json.dumps(event.data, separators=(",", ":"))
    return f"id: {event.id}\nevent: {event.type}\ndata: {data}\n\n".encode()


class HubFailed(Exception):
    """The hub stopped reading (Redis lost); its streams end and their clients reconnect."""


class _Hub:
    """The recent events of one stream key, read by one thread, for this process's streams.

    Readers take no lock: the hub replaces an immutable snapshot of what it holds, then
    sets the events its readers wait on and starts fresh ones. Thousands of streams then
    wake from a few `Event.set()` calls, each reading the snapshot, instead of queueing on
    a condition's lock (gevent makes both cooperative; the events are far cheaper). Streams
    are spread over HUB_LANES events, set one at a time with a pause between them, so a
    fan-out to thousands never holds other requests of the process for long.
    """

    def __init__(self, app: Flask, hubs: _Hubs, key: str, start_id: str):
        self.app = app
        self.hubs = hubs
        self.key = key
        self.lock = threading.Lock()  # the hub's own writes
        self.recent: deque[tuple[Position, bytes]] = deque()
        # Every event after `floor` is in `recent`.
        self.floor = id_order(start_id)
        # (floor, recent) as readers see them; replaced whole, never changed.
        self.snapshot: tuple[Position, tuple[tuple[Position, bytes], ...]] = (self.floor, ())
        self.lanes = [threading.Event() for _ in range(HUB_LANES)]
        self.next_lane = 0
        # How often an idle hub wakes its streams (to send keep-alives, to end at their
        # deadline), so that they wait without a timer each.
        self.tick_seconds: float = HUB_BLOCK_SECONDS
        self.read_after = start_id
        self.streams = 0  # guarded by hubs.lock
        self.failed = False
        self.thread = threading.Thread(target=self._run, name=f"sse-hub {key}", daemon=True)

    def _run(self) -> None:
        with self.app.app_context():
            redis = dedicated_client(
                read_timeout=HUB_BLOCK_SECONDS + READ_TIMEOUT_MARGIN_SECONDS,
                name=f"sse-hub:{self.key}",
            )
            try:
                while self.hubs.keep(self):
                    batch = read_events(
                        self.key,
                        self.read_after,
                        max(1, round(self.tick_seconds * 1000)),
                        count=HUB_READ_COUNT,
                        redis=redis,
                    )
                    if batch:
                        self._add(batch)
                    else:
                        self._wake()
            except Exception as exc:
                # Its streams end and their clients reconnect to a fresh hub.
                log.log(
                    logging.WARNING if isinstance(exc, RedisError) else logging.ERROR,
                    "event hub %s stopped",
                    self.key,
                    exc_info=True,
                )
                self.failed = True
                for lane in self.lanes:
                    lane.set()
                self.hubs.keep(self)
            finally:
                redis.connection_pool.disconnect()

    def _add(self, events: list[Event]) -> None:
        wire = [(id_order(event.id), format_event(event)) for event in events]
        with self.lock:
            self.recent.extend(wire)
            while len(self.recent) > HUB_RECENT:
                self.floor = self.recent.popleft()[0]
            self.read_after = events[-1].id
            self.snapshot = (self.floor, tuple(self.recent))
        self._wake()

    def _wake(self) -> None:
        """Wake every stream, lane by lane: to write what is new, or (on a tick) to see whether
        a keep-alive or its end is due."""
        with self.lock:
            arrived, self.lanes = self.lanes, [threading.Event() for _ in range(HUB_LANES)]
        for index, lane in enumerate(arrived):
            if index:
                time.sleep(LANE_PAUSE_SECONDS)  # a greenlet switch under gevent
            lane.set()

    def lane(self) -> int:
        """The lane a new stream waits in (round robin)."""
        with self.lock:
            self.next_lane = (self.next_lane + 1) % HUB_LANES
            return self.next_lane

    def newest(self) -> Position:
        """The position of the newest event the hub has read."""
        floor, recent = self.snapshot
        return recent[-1][0] if recent else floor

    def after(self, position: Position, lane: int) -> list[tuple[Position, bytes]] | None:
        """The events after `position`, waiting in `lane` for new ones or the hub's next tick
        (then none); None when behind."""
        # Taken before the snapshot is read: anything added later sets this event.
        arrived = self.lanes[lane]
        newer = self._newer(position)
        if newer == []:
            arrived.wait()
            newer = self._newer(position)
        return newer

    def _newer(self, position: Position) -> list[tuple[Position, bytes]] | None:
        if self.failed:
            raise HubFailed(self.key)
        floor, recent = self.snapshot
        if position < floor:
            return None
        newer = []
        for item in reversed(recent):
            if item[0] <= position:
                break
            newer.append(item)
        newer.reverse()
        return newer


class _Hubs:
    """The hubs of one app in this process, one per stream key with open streams."""

    def __init__(self, app: Flask) -> None:
        self.app = app
        self.lock = threading.Lock()
        self.hubs: dict[str, _Hub] = {}

    def join(self, key: str, redis: Redis, keepalive: float) -> _Hub:
        """The hub of `key` (started if needed), counting one more stream on it, which sends
        a keep-alive after `keepalive` seconds without events."""
        with self.lock:
            hub = self.hubs.get(key)
            if hub is None:
                hub = _Hub(self.app, self, key, current_last_id(key, redis))
                self.hubs[key] = hub
                hub.thread.start()
            hub.streams += 1
            hub.tick_seconds = min(hub.tick_seconds, keepalive)
            return hub

    def leave(self, hub: _Hub) -> None:
        """Count one stream fewer on `hub`."""
        with self.lock:
            hub.streams -= 1

    def keep(self, hub: _Hub) -> bool:
        """Whether `hub` should go on reading; forgets it when it has no stream or failed."""
        with self.lock:
            if hub.streams > 0 and not hub.failed:
                return True
            if self.hubs.get(hub.key) is hub:
                del self.hubs[hub.key]
            return False


def _hubs() -> _Hubs:
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    return app.extensions.setdefault("event_hubs", _Hubs(app))


class _StreamSettings:
    """What a stream needs from its app, taken in the request: the body runs without one."""

    def __init__(self, present_in: tuple[uuid.UUID, str] | None) -> None:
        config = current_app.config
        self.keepalive: float = config["SSE_KEEPALIVE_SECONDS"]
        self.max_seconds: float = config["SSE_MAX_SECONDS"]
        self.retry_ms: int = config["SSE_RETRY_MS"]
        self.hubs = _hubs()
        self.redis = get_redis()
        self.present_in = present_in
        self.listeners: Listeners | None = listeners() if present_in else None


def event_stream(
    stream_key: str, last_event_id: str | None, *, present_in: tuple[uuid.UUID, str] | None
) -> Iterator[bytes]:
    """The SSE body of a stream: events after `last_event_id`, or from now on when None;
    `present_in` (viewer, room slug) keeps that viewer's boxes there alive meanwhile.

    The body needs no app or request context, so the server iterates it directly."""
    settings = _StreamSettings(present_in)
    # Fixed here, in the request, so that every event published once the client has its
    # response headers is delivered, even before the generator first runs.
    start = last_event_id or current_last_id(stream_key, settings.redis)
    return _stream(stream_key, start, settings)


def _stream(stream_key: str, start: str, settings: _StreamSettings) -> Iterator[bytes]:
    if settings.listeners is None or settings.present_in is None:
        yield from _events(stream_key, start, settings)
        return
    settings.listeners.listen(*settings.present_in)
    try:
        yield from _events(stream_key, start, settings)
    finally:
        settings.listeners.stop_listening(*settings.present_in)


def _events(stream_key: str, start: str, settings: _StreamSettings) -> Iterator[bytes]:
    keepalive = settings.keepalive
    started = time.monotonic()
    deadline = started + settings.max_seconds
    position = id_order(start)
    sent = 0
    # The start id makes an EventSource that never gets an event reconnect from here.
    yield f"retry: {settings.retry_ms}\nid: {start}\n\n".encode()
    written = time.monotonic()
    hubs = settings.hubs
    try:
        hub = hubs.join(stream_key, settings.redis, keepalive)
    except RedisError:
        log.warning("event stream %s could not reach Redis", stream_key)
        return
    lane = hub.lane()
    try:
        while time.monotonic() < deadline:
            newer = hub.after(position, lane)
            if newer is None:
                newer = _catch_up(stream_key, position, settings.redis)
                if not newer:
                    # The hub read later events that Redis no longer has: the stream was
                    # deleted meanwhile, and what the hub holds is history.
                    position = hub.newest()
                    continue
            if newer:
                sent += len(newer)
                position = newer[-1][0]
                yield b"".join(wire for _, wire in newer)
                written = time.monotonic()
            elif (now := time.monotonic()) - written >= keepalive and now < deadline:
                yield KEEP_ALIVE
                written = now
    except (HubFailed, RedisError):
        # End the response; the client reconnects after `retry` and resumes.
        log.warning("event stream %s lost Redis", stream_key)
    finally:
        # Also reached on GeneratorExit, when the server finds the client gone.
        hubs.leave(hub)
        log.debug(
            "event stream %s closed after %.1f s, %d events",
            stream_key,
            time.monotonic() - started,
            sent,
        )


def _catch_up(stream_key: str, position: Position, redis: Redis) -> list[tuple[Position, bytes]]:
    """Events after `position` read from Redis, for a stream behind what its hub holds."""
    after = f"{position[0]}-{position[1]}"
    batch = read_events(stream_key, after, None, count=CATCH_UP_COUNT, redis=redis)
    return [(id_order(event.id), format_event(event)) for event in batch]

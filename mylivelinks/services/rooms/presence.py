"""Presence in Redis: when viewers and streamers last heartbeated.

The database says who has which box open (`box_viewers`) and which streams are live; Redis
says who is still there. Heartbeats are the hottest request of the service, so they touch
Redis only: one script refreshes every box the caller has open and their own stream. A
viewer with an open room event stream needs no heartbeat: each process refreshes all of
its listeners' boxes with one script per 500 listeners per interval (`refresh_listening`).

Keys (scores are epoch seconds):
- `presence:stream:{stream_id}` sorted set, viewer id → last heartbeat;
- `presence:streamers` sorted set, live stream id → the streamer's last heartbeat;
- `presence:viewing:{viewer_id}` hash, `{room slug}:{position}` → stream id of an open box;
- `presence:streaming:{profile_id}` `{room slug} {stream id}`, or `-` when known not live;
- `presence:epoch` hash: `since`, when Redis started recording presence (epoch seconds),
  and `run`, the run id of the Redis server that recorded it.

Writes happen with the database change they mirror; if that change is rolled back or Redis
loses its data, the mismatch heals itself: a viewer counts only with both a row and a recent
heartbeat, a heartbeat that misses in Redis is checked against the database and recorded
again, and the sweep removes rows without a recent heartbeat.

Losing Redis data (a flush, or a restart from an older dump) must not read as everyone
falling silent: the epoch says since when Redis has been recording. Until a timeout has
passed since then, nobody can be told silent for that long: every open box counts and
no one is timed out (`active_viewers` answers None, `recorded_since` says so). A flush
removes the epoch (the first write or sweep after it starts a new one); a restart changes
the server's run id, which the sweep notices (`check_continuity`).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime

from flask import current_app

from mylivelinks.extensions import get_redis

STREAMERS_KEY = "presence:streamers"
EPOCH_KEY = "presence:epoch"
# Listeners refreshed per script call: about 8 ms of Redis time each.
LISTENERS_PER_CALL = 500
NOT_LIVE = "-"
UNKNOWN = -1  # the streamer outcome when Redis knows nothing of the caller

# KEYS: viewing hash, streaming key, streamers set.
# ARGV: now, key ttl, viewer id, room slug, positions...
# Returns one 0/1 per position, then the caller's own stream: 1 refreshed, 0 not live in
# this room, -1 unknown.
_REFRESH = """
local now, ttl, viewer, slug = ARGV[1], tonumber(ARGV[2]), ARGV[3], ARGV[4]
local result = {}
for i = 5, #ARGV do
  local refreshed = 0
  local stream_id = redis.call('HGET', KEYS[1], slug .. ':' .. ARGV[i])
  if stream_id then
    local key = 'presence:stream:' .. stream_id
    if redis.call('ZSCORE', key, viewer) then
      redis.call('ZADD', key, now, viewer)
      redis.call('EXPIRE', key, ttl)
      refreshed = 1
    end
  end
  result[#result + 1] = refreshed
end
if #ARGV > 4 then redis.call('EXPIRE', KEYS[1], ttl) end
local own = redis.call('GET', KEYS[2])
if not own then
  result[#result + 1] = -1
else
  local space = string.find(own, ' ', 1, true)
  if space and string.sub(own, 1, space - 1) == slug then
    redis.call('ZADD', KEYS[3], now, string.sub(own, space + 1))
    redis.call('EXPIRE', KEYS[2], ttl)
    result[#result + 1] = 1
  else
    result[#result + 1] = 0
  end
end
return result
"""

# ARGV: now, key ttl, then (viewer id, room slug) pairs: every box of that room the viewer
# has open is refreshed, as a heartbeat naming all of them would. Returns the boxes refreshed.
_REFRESH_LISTENING = """
local now, ttl = ARGV[1], tonumber(ARGV[2])
local refreshed = 0
for i = 3, #ARGV, 2 do
  local viewer, prefix = ARGV[i], ARGV[i + 1] .. ':'
  local viewing = 'presence:viewing:' .. viewer
  local boxes = redis.call('HGETALL', viewing)
  for j = 1, #boxes, 2 do
    if string.sub(boxes[j], 1, #prefix) == prefix then
      local key = 'presence:stream:' .. boxes[j + 1]
      if redis.call('ZSCORE', key, viewer) then
        redis.call('ZADD', key, now, viewer)
        redis.call('EXPIRE', key, ttl)
        refreshed = refreshed + 1
      end
    end
  end
  if #boxes > 0 then redis.call('EXPIRE', viewing, ttl) end
end
return refreshed
"""

# KEYS[1]: the epoch. ARGV: now, the server's run id. A new server (restarted from a dump)
# starts a new epoch; a missing one starts now. Returns `since`.
_CONTINUITY = """
local run = redis.call('HGET', KEYS[1], 'run')
if run ~= ARGV[2] then
  if run then
    redis.call('HSET', KEYS[1], 'since', ARGV[1])
  else
    redis.call('HSETNX', KEYS[1], 'since', ARGV[1])
  end
  redis.call('HSET', KEYS[1], 'run', ARGV[2])
end
return redis.call('HGET', KEYS[1], 'since')
"""

# Delete KEYS[1] only while it still holds ARGV[1] (a newer stream keeps its own record).
_FORGET_IF = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


def _stream_key(stream_id) -> str:
    return f"presence:stream:{stream_id}"


def _viewing_key(viewer_id) -> str:
    return f"presence:viewing:{viewer_id}"


def _streaming_key(profile_id) -> str:
    return f"presence:streaming:{profile_id}"


def _ttl() -> int:
    """Keys outlive the longest timeout twice, so nothing abandoned stays forever."""
    config = current_app.config
    return 2 * max(config["VIEWER_TIMEOUT_SECONDS"], config["STREAMER_TIMEOUT_SECONDS"]) + 60


def _script(name: str, source: str):
    scripts = current_app.extensions.setdefault("presence_scripts", {})
    if name not in scripts:
        scripts[name] = get_redis().register_script(source)
    return scripts[name]


def _start_epoch(pipe, now: datetime) -> None:
    # The first record after a loss starts the epoch: nothing older is known.
    pipe.hsetnx(EPOCH_KEY, "since", now.timestamp())


def check_continuity(now: datetime) -> float:
    """Start a new epoch if Redis lost its data (no epoch) or restarted from an older dump
    (another run id); returns since when presence has been recorded (epoch seconds)."""
    redis = get_redis()
    run_id = redis.info("server")["run_id"]
    since = _script("continuity", _CONTINUITY)(keys=[EPOCH_KEY], args=[now.timestamp(), run_id])
    return float(since)


def recorded_since(instant: datetime) -> bool:
    """Whether Redis has recorded presence since `instant` or earlier (False after a loss)."""
    since = get_redis().hget(EPOCH_KEY, "since")
    return since is not None and float(since) <= instant.timestamp()


def viewer_seen(slug: str, position: int, stream_id, viewer_id, now: datetime) -> None:
    """Record that the viewer has the box open and is there now."""
    ttl = _ttl()
    pipe = get_redis().pipeline(transaction=False)
    pipe.zadd(_stream_key(stream_id), {str(viewer_id): now.timestamp()})
    pipe.expire(_stream_key(stream_id), ttl)
    pipe.hset(_viewing_key(viewer_id), f"{slug}:{position}", str(stream_id))
    pipe.expire(_viewing_key(viewer_id), ttl)
    _start_epoch(pipe, now)
    pipe.execute()


def viewer_gone(slug: str, position: int, stream_id, viewer_id) -> None:
    """Forget the viewer's presence in the box."""
    pipe = get_redis().pipeline(transaction=False)
    pipe.zrem(_stream_key(stream_id), str(viewer_id))
    pipe.hdel(_viewing_key(viewer_id), f"{slug}:{position}")
    pipe.execute()


def streamer_seen(slug: str, stream_id, streamer_id, now: datetime) -> None:
    """Record that the streamer is live in the room with the stream, and there now."""
    pipe = get_redis().pipeline(transaction=False)
    pipe.set(_streaming_key(streamer_id), f"{slug} {stream_id}", ex=_ttl())
    pipe.zadd(STREAMERS_KEY, {str(stream_id): now.timestamp()})
    _start_epoch(pipe, now)
    pipe.execute()


def remember_stream(slug: str, stream_id, streamer_id) -> None:
    """Record where the streamer is live, without counting it as their heartbeat."""
    get_redis().set(_streaming_key(streamer_id), f"{slug} {stream_id}", ex=_ttl())


def not_streaming(profile_id) -> None:
    """Remember that the caller is not live, unless a stream was recorded meanwhile."""
    get_redis().set(_streaming_key(profile_id), NOT_LIVE, nx=True, ex=_ttl())


def stream_gone(slug: str, stream_id, streamer_id) -> None:
    """Forget an ended stream: its viewers' presence and its streamer's."""
    redis = get_redis()
    pipe = redis.pipeline(transaction=False)
    pipe.delete(_stream_key(stream_id))
    pipe.zrem(STREAMERS_KEY, str(stream_id))
    pipe.execute()
    _script("forget_if", _FORGET_IF)(
        keys=[_streaming_key(streamer_id)], args=[f"{slug} {stream_id}"]
    )


def refresh(
    slug: str, caller_id, positions: list[int], now: datetime
) -> tuple[dict[int, bool], int]:
    """Refresh the caller's open boxes among `positions` and their own stream in the room.

    Returns ({position: refreshed}, own stream: 1 refreshed, 0 not live here, UNKNOWN).
    """
    caller = str(caller_id)
    outcome = _script("refresh", _REFRESH)(
        keys=[_viewing_key(caller), _streaming_key(caller), STREAMERS_KEY],
        args=[now.timestamp(), _ttl(), caller, slug, *positions],
    )
    return dict(zip(positions, (bool(x) for x in outcome[:-1]), strict=True)), int(outcome[-1])


def refresh_listening(listeners: Iterable[tuple[uuid.UUID, str]], now: datetime) -> int:
    """Mark each (viewer, room slug) present in every box of the room they have open: an
    open room event stream stands for their heartbeats. One Redis call per
    LISTENERS_PER_CALL listeners, so no call holds Redis for long. The boxes refreshed."""
    pairs = list(listeners)
    script = _script("refresh_listening", _REFRESH_LISTENING)
    ttl = _ttl()
    refreshed = 0
    for start in range(0, len(pairs), LISTENERS_PER_CALL):
        args: list[str] = []
        for viewer_id, slug in pairs[start : start + LISTENERS_PER_CALL]:
            args += [str(viewer_id), slug]
        refreshed += int(script(keys=[], args=[now.timestamp(), ttl, *args]))
    return refreshed


def active_viewers(stream_ids: Iterable[uuid.UUID], since: datetime) -> dict[uuid.UUID, set] | None:
    """Viewer ids heartbeating since `since`, per stream; None when Redis has not been
    recording presence that long (it lost its data since), so nobody can be told silent."""
    stream_ids = list(stream_ids)
    pipe = get_redis().pipeline(transaction=False)
    pipe.hget(EPOCH_KEY, "since")
    for stream_id in stream_ids:
        pipe.zrangebyscore(_stream_key(stream_id), since.timestamp(), "+inf")
    epoch, *heartbeats = pipe.execute()
    if epoch is None or float(epoch) > since.timestamp():
        return None
    return {
        stream_id: {uuid.UUID(member.decode()) for member in members}
        for stream_id, members in zip(stream_ids, heartbeats, strict=True)
    }


def drop_silent_viewers(stream_ids: Iterable[uuid.UUID], since: datetime) -> None:
    """Forget heartbeats older than `since` (their rows are gone or going)."""
    pipe = get_redis().pipeline(transaction=False)
    for stream_id in stream_ids:
        pipe.zremrangebyscore(_stream_key(stream_id), "-inf", f"({since.timestamp()}")
    pipe.execute()


def drop_silent_streamers(since: datetime) -> None:
    """Forget streamer heartbeats older than `since` (their streams were just ended)."""
    get_redis().zremrangebyscore(STREAMERS_KEY, "-inf", f"({since.timestamp()}")


def streamers_last_seen(stream_ids: list[uuid.UUID]) -> dict[uuid.UUID, float | None]:
    """Epoch seconds of each stream's streamer's last heartbeat (None: never recorded)."""
    if not stream_ids:
        return {}
    scores = get_redis().zmscore(STREAMERS_KEY, [str(s) for s in stream_ids])
    return dict(zip(stream_ids, scores, strict=True))

"""A vendor API's request rate, shared by every process: turns handed out by Redis.

Vendors limit requests per account, not per process (Agora's banning API: 10 a second),
so every worker takes its turn from one Redis key: a small Lua script reserves the next free
slot on Redis's own clock (one round trip, whatever the number of workers) and the caller
waits until it. Turns are spaced a little wider than the limit strictly needs, as requests
take their own time to travel and the vendor counts them on arrival. (A token bucket would
let a burst of a full second's requests through at once, which a per-second window counted
by the vendor refuses; the `limits` library's windows have the same edge.)
"""

from __future__ import annotations

import time

from redis import Redis

from mylivelinks.providers.base import ProviderUnavailable

KEY = "vendor-throttle:{name}"
# Spacing over the strict 1/limit: room for the requests' own jitter on the way.
MARGIN = 1.1

# KEYS[1]: when the next turn is free (ms, Redis clock); ARGV[1]: ms between turns.
# Returns how many ms the caller waits for the turn it was given.
_RESERVE = """
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
local interval = tonumber(ARGV[1])
local free = tonumber(redis.call('GET', KEYS[1]) or '0')
local turn = math.max(now, free)
redis.call('SET', KEYS[1], turn + interval, 'PX', turn - now + interval + 1000)
return turn - now
"""


class VendorThrottle:
    """At most `per_second` calls a second to one vendor API, across every process."""

    def __init__(self, redis: Redis, name: str, per_second: int, max_wait: float = 10.0):
        self._reserve = redis.register_script(_RESERVE)
        self._key = KEY.format(name=name)
        self._interval_ms = max(int(1000 * MARGIN / per_second), 1)
        self._max_wait = max_wait

    def wait_turn(self) -> None:
        """Wait for this process's turn; ProviderUnavailable rather than wait past `max_wait`
        (the queue of turns is that long: the vendor would refuse us anyway)."""
        wait = int(self._reserve(keys=[self._key], args=[self._interval_ms])) / 1000
        if wait > self._max_wait:
            raise ProviderUnavailable(f"{self._key}: no turn within {self._max_wait:.0f}s")
        if wait > 0:
            time.sleep(wait)

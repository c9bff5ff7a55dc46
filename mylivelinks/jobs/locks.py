"""Redis locks that die with their holder: a short TTL, renewed while the holder works.

A lock with a TTL longer than any run outlives a killed worker by that TTL, blocking
every other run meanwhile; this one is given back to Redis within `ttl` seconds of its
holder's death, however long a live holder needs it.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Iterator

from redis.exceptions import LockError, RedisError
from redis.lock import Lock

from mylivelinks.extensions import get_redis

log = logging.getLogger(__name__)


@contextlib.contextmanager
def renewed_lock(name: str, ttl: float, wait: float) -> Iterator[bool]:
    """Hold the Redis lock `name` for the block (True), or not after waiting `wait` seconds
    (False); a thread renews it every third of `ttl` while the block runs."""
    # Not thread-local: the renewing thread must see the token.
    lock = get_redis().lock(name, timeout=ttl, thread_local=False)
    if not lock.acquire(blocking=True, blocking_timeout=wait):
        yield False
        return
    stop = threading.Event()
    renewer = threading.Thread(
        target=_renew, args=(lock, ttl, stop), name=f"renew {name}", daemon=True
    )
    renewer.start()
    try:
        yield True
    finally:
        stop.set()
        renewer.join()
        with contextlib.suppress(LockError, RedisError):
            lock.release()


def _renew(lock: Lock, ttl: float, stop: threading.Event) -> None:
    while not stop.wait(ttl / 3):
        try:
            lock.reacquire()
        except LockError:
            # Gone (Redis lost its data, or a pause outlasted the TTL): another run may hold
            # it now; the state the runs record converges all the same.
            log.warning("lock lost while held", extra={"lock": lock.name})
            return
        except RedisError:
            continue  # Redis unreachable for a moment: try again at the next tick

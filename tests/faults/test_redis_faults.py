"""Redis flushed, and Redis restarted: nothing ends, everything comes back."""

from __future__ import annotations

import time

import pytest

from tests.faults.stack import STREAMER_TIMEOUT, SWEEP_INTERVAL, VIEWER_TIMEOUT
from tests.processes import wait_until

# Long enough for the sweep to have timed out anyone it would: both timeouts, then sweeps.
WATCH_SECONDS = STREAMER_TIMEOUT + 3 * SWEEP_INTERVAL
WORKERS_BOUND = 15

# The stack's own database: the suite's per-test rolled-back session must stay out.
pytestmark = pytest.mark.real_session


def _nothing_ended(stack, position, stream_id, since: float) -> None:
    after = f"{time.monotonic() - since:.1f} s after the fault"
    row = stack.stream_row(stream_id)
    assert row["status"] == "live", f"{after}: {row}"
    boxes = stack.call("GET", "/rooms/main").body["boxes"]
    box = next(b for b in boxes if b["position"] == position)
    assert box["viewer_count"] == 1 and box["is_published"], f"{after}: {box}"


def _workers_registered(stack) -> bool:
    return bool(stack.redis.smembers("rq:workers"))


def test_a_redis_flush_ends_no_stream_and_removes_no_viewer(stack, scene):
    streamer, position, stream_id = scene.live_streamer()
    scene.viewer_of(position)
    wait_until(lambda: stack.stream_row(stream_id)["publishing_applied"], 20, "published")
    time.sleep(STREAMER_TIMEOUT)  # the stream and the box are older than the timeouts

    stack.heartbeats.paused.set()  # the flush lands between two rounds of heartbeats
    stack.redis.flushall()
    flushed = time.monotonic()
    registered_after = None
    while time.monotonic() < flushed + WATCH_SECONDS:
        if time.monotonic() > flushed + 2 * SWEEP_INTERVAL + 0.5:
            stack.heartbeats.paused.clear()
        if registered_after is None and _workers_registered(stack):
            registered_after = time.monotonic() - flushed
        _nothing_ended(stack, position, stream_id, flushed)
        time.sleep(0.25)
    stack.heartbeats.paused.clear()
    assert stack.heartbeat(streamer, [])["streamer"] is True
    print(f"\nRedis flushed: nothing ended or unpublished in the {WATCH_SECONDS} s after it")
    if registered_after is None:
        registered_after = WATCH_SECONDS + wait_until(
            lambda: _workers_registered(stack), WORKERS_BOUND, "workers registered"
        )
    print(f"Redis flushed: workers registered again {registered_after:.1f} s after the flush")


def test_a_redis_restart_ends_nothing_and_every_process_carries_on(stack, scene):
    _, position, stream_id = scene.live_streamer()
    viewer = scene.viewer_of(position)
    wait_until(lambda: stack.stream_row(stream_id)["publishing_applied"], 20, "published")
    cron = stack.child("mylivelinks.jobs.scheduler") or stack.child("rq cron")
    assert cron is not None

    stack.redis_server.stop()  # saves its data first
    time.sleep(2)  # every process meets a Redis that is away
    stack.redis_server.start()
    restarted = time.monotonic()

    assert stack.supervisor is not None and stack.supervisor.running()
    assert cron.is_running(), "the cron process exited"
    took = wait_until(lambda: _workers_registered(stack), WORKERS_BOUND, "workers registered")
    print(f"\nRedis restarted: workers registered {took:.1f} s after it was back")
    # The sweep still runs and publishing still follows the viewers: the viewer leaves.
    stack.heartbeats.remove(viewer)
    stack.close_box(viewer, position)
    took = wait_until(
        lambda: not stack.stream_row(stream_id)["publishing_applied"],
        VIEWER_TIMEOUT + 10,
        "unpublished after the restart",
    )
    assert stack.stream_row(stream_id)["status"] == "live"
    print(
        f"Redis restarted: a revoke applied {time.monotonic() - restarted:.1f} s after it was "
        f"back ({took:.1f} s after the viewer left)"
    )

"""A worker killed during a vendor call, and a job lost between the queue and a worker."""

from __future__ import annotations

import signal

import psutil
import pytest

from tests.faults.stack import PUBLISH_LOCK, SWEEP_INTERVAL
from tests.processes import wait_until

# A killed worker is back after the supervisor's first wait (1 s) and its start-up
# (a few seconds on a loaded machine); then its lock lapses and one sweep runs.
WORKER_BACK = 20
CONVERGED_BOUND = WORKER_BACK + PUBLISH_LOCK + SWEEP_INTERVAL + 5

# The stack's own database: the suite's per-test rolled-back session must stay out.
pytestmark = pytest.mark.real_session


def _published(stack, streamer, stream_id) -> bool:
    row = stack.stream_row(stream_id)
    return (
        row["publishing_applied"]
        and row.get("publishing_intent") is None
        and stack.vendor_allows(streamer) is True
    )


def test_a_worker_killed_during_the_vendor_call_converges_once_it_is_back(stack, scene):
    streamer, position, stream_id = scene.live_streamer()
    viewer = scene.viewer_of(position)
    wait_until(lambda: _published(stack, streamer, stream_id), 20, "first viewer published")

    # The viewer looks away: the revoke reaches LiveKit, which applies it and holds its
    # answer; the worker waiting for it is killed.
    stack.livekit.fake.answer_slowly(30)
    stack.heartbeats.remove(viewer)
    stack.close_box(viewer, position)
    wait_until(lambda: stack.vendor_heard(streamer, False), 20, "the revoke reaching LiveKit")
    killed = stack.signal_worker(signal.SIGKILL)
    stack.livekit.fake.answer_slowly(0)
    psutil.wait_procs([killed], timeout=5)

    # The viewer opens the box again: LiveKit must end up allowing it, and the record agree.
    stack.open_box(viewer, position)
    stack.heartbeats.add(viewer, [position])
    took = wait_until(
        lambda: _published(stack, streamer, stream_id), CONVERGED_BOUND, "published again"
    )
    print(f"\nworker killed mid-call: converged {took:.1f} s after the viewer came back")
    assert stack.worker().pid != killed.pid  # `make run` started another


def test_a_sync_job_lost_between_the_queue_and_a_worker_converges(stack, scene):
    streamer, position, stream_id = scene.live_streamer()
    paused = stack.signal_worker(signal.SIGSTOP)
    try:
        scene.viewer_of(position)
        job_id = f"sync-publish-{stream_id}"
        redis = stack.redis
        queued, taken = "rq:queue:default", "rq:queue:default:intermediate"
        wait_until(
            lambda: redis.lpos(queued, job_id) is not None or redis.lpos(taken, job_id) is not None,
            10,
            "the sync queued",
        )
        # The worker's dequeue moves the job onto RQ's intermediate list, then it dies. (Redis
        # may have served the paused worker's blocking dequeue already: then it is there.)
        with redis.pipeline() as pipe:
            pipe.lrem(queued, 1, job_id)
            pipe.lrem(taken, 1, job_id)
            pipe.lpush(taken, job_id)
            pipe.execute()
    finally:
        stack.signal_worker(signal.SIGKILL)
    psutil.wait_procs([paused], timeout=5)
    took = wait_until(lambda: _published(stack, streamer, stream_id), CONVERGED_BOUND, "published")
    print(f"\nsync job lost in flight: converged {took:.1f} s after its worker died")

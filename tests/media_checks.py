"""What the vendor (or, where allow/revoke is a client signal, the streamer) was told."""

from __future__ import annotations

from datetime import datetime

from flask import Flask
from rq import Queue

from mylivelinks.events.streams import PUBLISH_START, PUBLISH_STOP, user_stream_key
from mylivelinks.extensions import get_redis
from mylivelinks.jobs import DEFAULT_QUEUE
from mylivelinks.jobs.media import end_stream_if_still_gone
from mylivelinks.providers.base import Credentials, ProviderRejected, ProviderUnavailable
from tests.fakes.media import MediaHarness

# How an adapter must classify a vendor's HTTP failures: worth retrying or not. (A 404
# is vendor-specific: Twilio reads it as "already gone" when closing or disconnecting.)
VENDOR_FAILURES = [
    (503, ProviderUnavailable),
    (500, ProviderUnavailable),
    (429, ProviderUnavailable),
    (400, ProviderRejected),
    (403, ProviderRejected),
]


def publish_actions(app: Flask, harness: MediaHarness, identity: str) -> list[str]:
    """`allow`/`revoke` decisions applied for `identity`, oldest first.

    From the vendor's own record where it controls publishing; from the streamer's private
    event stream where the client signal is the mechanism (Twilio).
    """
    if harness.publish_control_is_server_side:
        return [
            call["action"]
            for call in harness.calls()
            if call["action"] in ("allow", "revoke") and call["identity"] == identity
        ]
    signals = {PUBLISH_START: "allow", PUBLISH_STOP: "revoke"}
    # Straight from Redis: pushing an app context here would end the caller's session.
    entries = app.extensions["redis"].xrange(user_stream_key(identity))
    types = [fields[b"type"].decode() for _, fields in entries]
    return [signals[kind] for kind in types if kind in signals]


def credentials_from_json(body: dict) -> Credentials:
    """API.md `credentials` as the Credentials the harnesses read."""
    fields = {**body, "expires_at": datetime.fromisoformat(body["expires_at"])}
    return Credentials(**fields)


def run_gone_checks(app: Flask) -> list[bool]:
    """Run the scheduled `end_stream_if_still_gone` jobs as the worker would after the grace."""
    with app.app_context():
        queue = Queue(DEFAULT_QUEUE, connection=get_redis())
        results = []
        for job_id in queue.scheduled_job_registry.get_job_ids():
            job = queue.fetch_job(job_id)
            if job is not None and job.func is end_stream_if_still_gone:
                results.append(job.func(*job.args))
                queue.scheduled_job_registry.remove(job)
        return results

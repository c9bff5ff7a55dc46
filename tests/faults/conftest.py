"""Fault tests: the service as real processes (see stack.py), one stack for the suite.

Each test injects one fault, checks that the service converges within a bound, prints
the time it took, and leaves the invariants checked by `scene`'s teardown.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import text

from tests.faults.stack import SWEEP_INTERVAL, VIEWER_TIMEOUT, Stack
from tests.processes import wait_until

# Past this, a box without an active viewer must be unpublished: timeout, one sweep, and
# the time a sync and the worker take.
UNPUBLISHED_BOUND = VIEWER_TIMEOUT + SWEEP_INTERVAL + 5


@pytest.fixture(scope="session")
def stack(server_urls, tmp_path_factory) -> Iterator[Stack]:
    """The running service, on the suite's PostgreSQL, with its own Redis and vendor."""
    running = Stack(tmp_path_factory.mktemp("faults"), server_urls["DATABASE_URL"])
    try:
        running.start()
        yield running
    finally:
        running.stop()


class Scene:
    """The accounts and streams one test made, for the invariants afterwards."""

    def __init__(self, stack: Stack):
        self.stack = stack
        self.streamers: list[tuple[dict, object]] = []

    def live_streamer(self) -> tuple[dict, int, object]:
        """A streamer live in room main, connected to LiveKit with their publisher token and
        heartbeating: (session, position, stream id). LiveKit only updates the permission
        of a connected participant."""
        streamer = self.stack.register()
        position, stream_id = self.stack.go_live(streamer)
        self.stack.livekit.connect("main", streamer["user"]["id"], publishing=True)
        self.stack.heartbeats.add(streamer, [])
        self.streamers.append((streamer, stream_id))
        return streamer, position, stream_id

    def viewer_of(self, position: int) -> dict:
        """A viewer with the box at `position` open and heartbeating."""
        viewer = self.stack.register()
        self.stack.open_box(viewer, position)
        self.stack.heartbeats.add(viewer, [position])
        return viewer

    def check_invariants(self) -> None:
        """Viewers gone silent: every box unpublished within the bound; the ledger clean."""
        stack = self.stack
        streamer_ids = {s["user"]["id"] for s, _ in self.streamers}
        for user_id in list(stack.heartbeats.beating):
            if user_id not in streamer_ids:
                stack.heartbeats.beating.pop(user_id, None)
        for streamer, stream_id in self.streamers:

            def unpublished(stream_id=stream_id, streamer=streamer) -> bool:
                row = stack.stream_row(stream_id)
                return (
                    not row["publishing_applied"]
                    and row.get("publishing_intent") is None
                    and stack.vendor_allows(streamer) is not True
                )

            wait_until(unpublished, UNPUBLISHED_BOUND, "box unpublished after its viewers left")
        for streamer, _ in self.streamers:
            stack.end_live(streamer)
        stack.heartbeats.clear()
        from mylivelinks.extensions import db
        from mylivelinks.ledger.reconciliation import reconcile

        with stack.context():
            run = reconcile()
            db.session.commit()
            assert run.ok, run.mismatches
            negative = db.session.scalar(
                text(
                    "SELECT count(*) FROM ledger_accounts "
                    "WHERE kind IN ('user_coins', 'user_earnings') AND balance < 0"
                )
            )
            assert negative == 0


@pytest.fixture
def scene(stack) -> Iterator[Scene]:
    """What the test sets up; the invariants are checked once it has passed."""
    made = Scene(stack)
    yield made
    made.check_invariants()

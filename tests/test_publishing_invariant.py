"""A simulated hour of viewers coming and going: a box with no viewer never stays published
longer than the viewer timeout plus one sweep. Time is injected; nothing sleeps."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from mylivelinks.extensions import db
from mylivelinks.jobs.publishing import sweep_rooms, sync_publish
from mylivelinks.models import Profile, Stream
from mylivelinks.seed import seed_reference_data
from mylivelinks.services.rooms import live, watching
from mylivelinks.services.rooms.state import get_room
from tests.media_checks import publish_actions

pytestmark = pytest.mark.all_media_providers

SWEEP_EVERY = 5
SECONDS = 3600


def test_no_box_without_viewers_stays_published_past_timeout_plus_one_sweep(app, media_harness):
    rng = random.Random(20261121)
    with app.app_context():
        list(seed_reference_data())
        timeout = app.config["VIEWER_TIMEOUT_SECONDS"]
        start = datetime.now(UTC)
        streamer = Profile(username="sim_streamer", email="sim_streamer@example.com")
        viewers = [
            Profile(username=f"sim_viewer_{i}", email=f"sv{i}@example.com") for i in range(6)
        ]
        db.session.add_all([streamer, *viewers])
        db.session.flush()
        live.go_live(get_room("main", lock=True), streamer, title=None, position=1, now=start)
        stream_id = db.session.scalar(select(Stream.id).where(Stream.streamer_id == streamer.id))
        room = get_room("main")

        watching_since: dict[uuid.UUID, int] = {}  # viewer -> last heartbeat second
        last_activity = None  # last second any viewer joined or heartbeated
        applied, violations, calls = False, [], []

        who = str(streamer.id)

        def sync(second: int) -> None:
            # The vendor's own record (or, where publishing is a client signal, what the
            # streamer's client was told), not the controller's word, says what is allowed.
            nonlocal applied
            seen = len(publish_actions(app, media_harness, who))
            sync_publish(str(stream_id), now=start + timedelta(seconds=second))
            for action in publish_actions(app, media_harness, who)[seen:]:
                applied = action == "allow"
                calls.append((second, "allowed" if applied else "revoked"))

        for second in range(SECONDS):
            now = start + timedelta(seconds=second)
            watching.heartbeat(room.slug, streamer.id, [], now)  # the streamer stays live
            for viewer in viewers:
                roll = rng.random()
                if viewer.id not in watching_since and roll < 0.002:
                    watching.open_box(room, 1, viewer, now)
                    watching_since[viewer.id] = second
                    last_activity = second
                    sync(second)
                elif viewer.id in watching_since:
                    if roll < 0.003:  # closes the box properly
                        watching.close_box(room, 1, viewer, now)
                        del watching_since[viewer.id]
                        sync(second)
                    elif roll < 0.006:  # the tab dies: no close, no more heartbeats
                        del watching_since[viewer.id]
                    elif second - watching_since[viewer.id] >= rng.randint(10, 15):
                        watching.heartbeat(room.slug, viewer.id, [1], now)
                        watching_since[viewer.id] = second
                        last_activity = second
            if second % SWEEP_EVERY == 0 and sweep_rooms(now=now)["out_of_sync"]:
                sync(second)
            silent_for = None if last_activity is None else second - last_activity
            if applied and not watching_since and silent_for > timeout + SWEEP_EVERY:
                violations.append((second, silent_for))
        db.session.rollback()

    assert violations == []
    revokes = [second for second, outcome in calls if outcome == "revoked"]
    assert len(revokes) >= 3, calls  # the box emptied several times in the hour

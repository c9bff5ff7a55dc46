"""Leaderboard rebuilds: on RQ's cron schedule and on demand (`flask leaderboards rebuild`)."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from flask import current_app
from rq.job import Job

from mylivelinks.config import SETTINGS
from mylivelinks.events.streams import LEADERBOARD_UPDATED, publish_room_event
from mylivelinks.extensions import get_queue
from mylivelinks.jobs import DEFAULT_QUEUE
from mylivelinks.jobs.context import job
from mylivelinks.seed import MAIN_ROOM
from mylivelinks.services.leaderboards import boards
from mylivelinks.transaction import after_commit

log = logging.getLogger(__name__)

ANNOUNCE_ROOM = str(MAIN_ROOM["slug"])


@job
def rebuild_leaderboards(now: datetime | None = None) -> dict[str, Any]:
    """Rebuild every board from the gifts (as of `now`); announce top-10 changes once committed."""
    started = time.monotonic()
    rebuilt = boards.rebuild(current_app.config["LEADERBOARD_TIMEZONE"], now=now)
    summary = {
        "computed_at": rebuilt.computed_at.isoformat(),
        "entries": rebuilt.entries,
        "changed": [{"board": board, "period": period} for board, period in rebuilt.changed],
        "seconds": round(time.monotonic() - started, 3),
    }
    event: dict[str, Any] = {"computed_at": summary["computed_at"], "changed": summary["changed"]}
    after_commit(lambda: _announce(rebuilt.computed_at, event))
    log.info("leaderboards rebuilt", extra=summary)
    return summary


def _announce(computed_at: datetime, event: dict[str, Any]) -> None:
    # The readers' copies first: clients told of the change then fetch the new boards.
    boards.publish_version(computed_at)
    if event["changed"]:
        publish_room_event(ANNOUNCE_ROOM, LEADERBOARD_UPDATED, event)


def enqueue_rebuild() -> Job:
    """Queue a rebuild now (on demand); the cron schedule queues the others."""
    return get_queue(DEFAULT_QUEUE).enqueue(rebuild_leaderboards)


def rebuild_interval(environ: Mapping[str, str] | None = None) -> int:
    """LEADERBOARD_REBUILD_SECONDS read from the environment, as the app's Config would."""
    # `rq cron` imports the schedule without an app: read the one setting, parsed the same way.
    setting = next(s for s in SETTINGS if s.name == "LEADERBOARD_REBUILD_SECONDS")
    raw = (os.environ if environ is None else environ).get(setting.name)
    return setting.parse(raw) if raw else setting.default

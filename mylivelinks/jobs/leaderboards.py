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
from mylivelinks.extensions import get_queue
from mylivelinks.jobs import DEFAULT_QUEUE
from mylivelinks.jobs.context import job
from mylivelinks.services.leaderboards import boards

log = logging.getLogger(__name__)


@job
def rebuild_leaderboards(now: datetime | None = None) -> dict[str, Any]:
    """Rebuild every board from the gifts (as of `now`); top-10 changes are announced once
    committed."""
    started = time.monotonic()
    rebuilt = boards.rebuild(current_app.config["LEADERBOARD_TIMEZONE"], now=now)
    summary = {
        "computed_at": rebuilt.computed_at.isoformat(),
        "entries": rebuilt.entries,
        "changed": [{"board": board, "period": period} for board, period in rebuilt.changed],
        "seconds": round(time.monotonic() - started, 3),
    }
    log.info("leaderboards rebuilt", extra=summary)
    return summary


def enqueue_rebuild() -> Job:
    """Queue a rebuild now (on demand); the cron schedule queues the others."""
    return get_queue(DEFAULT_QUEUE).enqueue(rebuild_leaderboards)


def rebuild_interval(environ: Mapping[str, str] | None = None) -> int:
    """LEADERBOARD_REBUILD_SECONDS read from the environment, as the app's Config would."""
    # `rq cron` imports the schedule without an app: read the one setting, parsed the same way.
    setting = next(s for s in SETTINGS if s.name == "LEADERBOARD_REBUILD_SECONDS")
    raw = (os.environ if environ is None else environ).get(setting.name)
    return setting.parse(raw) if raw else setting.default

"""RQ jobs: plain functions taking ids, each owning its app context and commit.

Queue names are constants here; the cron schedule lives in `jobs/cron.py` (`rq cron`).
"""

from __future__ import annotations

DEFAULT_QUEUE = "default"
QUEUES = (DEFAULT_QUEUE,)

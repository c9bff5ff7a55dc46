"""RQ jobs: plain functions taking ids, each owning its app context and commit.

Queue names are constants here; the cron schedule lives in `jobs/cron.py`, run by
`python -m mylivelinks.jobs.scheduler`.
"""

from __future__ import annotations

from rq import Retry

DEFAULT_QUEUE = "default"
QUEUES = (DEFAULT_QUEUE,)

# Vendor calls retried with growing waits; the sweeps converge whatever is still left.
VENDOR_RETRY_SECONDS = [1, 5, 15, 60, 300]


def vendor_retry() -> Retry:
    """RQ retries for a job that calls a vendor."""
    return Retry(max=len(VENDOR_RETRY_SECONDS), interval=VENDOR_RETRY_SECONDS)

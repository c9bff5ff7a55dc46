"""`python -m mylivelinks.jobs.scheduler --url REDIS_URL`: RQ's cron scheduler running the
schedule of `mylivelinks/jobs/cron.py`, kept alive through Redis outages.

`rq cron` exits at the first Redis error, so a Redis restart ended the periodic jobs (the
sweep among them) until someone started it again. This one logs the error, waits (1 s,
doubling up to 30 s while Redis stays away), registers itself again and goes on; jobs due
meanwhile are queued as soon as Redis answers.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import sys
import time

from redis import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError
from rq.cron import CronScheduler
from rq.exceptions import StopRequested

log = logging.getLogger(__name__)

SCHEDULE = "mylivelinks.jobs.cron"
FIRST_WAIT = 1.0
MAX_WAIT = 30.0


class ResilientCronScheduler(CronScheduler):
    """CronScheduler whose loop outlives Redis errors."""

    def start(self) -> None:
        """Queue due jobs until stopped (SIGINT/SIGTERM), waiting out Redis outages."""
        self._install_signal_handlers()
        wait = FIRST_WAIT
        try:
            while True:
                try:
                    self.register_birth()
                    self._run()
                except (RedisConnectionError, RedisTimeoutError) as exc:
                    log.warning("Redis unreachable (%s); trying again in %.0f s", exc, wait)
                    time.sleep(wait)
                    wait = min(MAX_WAIT, wait * 2)
        except (StopRequested, KeyboardInterrupt):
            log.info("cron scheduler %s stopping", self.name)
        finally:
            with contextlib.suppress(RedisError):  # Redis away: the entry expires by itself
                self.register_death()

    def _run(self) -> None:
        while True:
            if self.enqueue_jobs():
                self.save()
            self.heartbeat()
            sleep_time = self.calculate_sleep_interval()
            if sleep_time > 0:
                time.sleep(sleep_time)


def main(argv: list[str] | None = None) -> int:
    """Command line: `python -m mylivelinks.jobs.scheduler [--url REDIS_URL]`."""
    parser = argparse.ArgumentParser(prog="mylivelinks-scheduler", description=__doc__)
    parser.add_argument("--url", default=os.environ.get("REDIS_URL"), help="Redis URL")
    parser.add_argument("--logging-level", default="INFO")
    args = parser.parse_args(argv)
    if not args.url:
        parser.error("--url or REDIS_URL is required")
    logging.basicConfig(
        level=args.logging_level, format="%(asctime)s cron %(levelname)s %(message)s"
    )
    scheduler = ResilientCronScheduler(
        # Timeouts, so a Redis that hangs reads as an outage instead of stalling the loop.
        connection=Redis.from_url(args.url, socket_connect_timeout=5, socket_timeout=30),
        logging_level=args.logging_level,
    )
    scheduler.load_config_from_file(SCHEDULE)
    scheduler.start()
    return 0


if __name__ == "__main__":
    sys.exit(main())

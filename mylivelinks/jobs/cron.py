"""The periodic schedule, loaded by RQ's cron scheduler: `rq cron mylivelinks.jobs.cron`."""

from rq import cron

from mylivelinks.jobs import DEFAULT_QUEUE
from mylivelinks.jobs.maintenance import purge_refresh_tokens

cron.register(purge_refresh_tokens, DEFAULT_QUEUE, cron="17 3 * * *")

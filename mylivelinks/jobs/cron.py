"""The periodic schedule, loaded by RQ's cron scheduler (`python -m mylivelinks.jobs.scheduler`)."""

from rq import cron

from mylivelinks.config import setting_from_environment
from mylivelinks.jobs import DEFAULT_QUEUE
from mylivelinks.jobs.leaderboards import rebuild_interval, rebuild_leaderboards
from mylivelinks.jobs.ledger import purge_idempotency_records, reconcile_ledger
from mylivelinks.jobs.maintenance import purge_old_guests, purge_refresh_tokens
from mylivelinks.jobs.payments import (
    finish_unfinished_store_purchases,
    poll_google_voided_purchases,
    requeue_stuck_payment_events,
)
from mylivelinks.jobs.publishing import sweep_rooms

cron.register(purge_refresh_tokens, DEFAULT_QUEUE, cron="17 3 * * *")
cron.register(purge_old_guests, DEFAULT_QUEUE, cron="23 * * * *")
cron.register(reconcile_ledger, DEFAULT_QUEUE, cron="40 2 * * *")
cron.register(requeue_stuck_payment_events, DEFAULT_QUEUE, interval=60)
cron.register(finish_unfinished_store_purchases, DEFAULT_QUEUE, cron="*/15 * * * *")
cron.register(
    poll_google_voided_purchases,
    DEFAULT_QUEUE,
    interval=setting_from_environment("GOOGLE_VOIDED_POLL_SECONDS"),
)
cron.register(purge_idempotency_records, DEFAULT_QUEUE, cron="5 * * * *")
cron.register(
    sweep_rooms, DEFAULT_QUEUE, interval=setting_from_environment("SWEEP_INTERVAL_SECONDS")
)
cron.register(rebuild_leaderboards, DEFAULT_QUEUE, interval=rebuild_interval())

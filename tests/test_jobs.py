"""Jobs run by a real RQ worker, and the cron schedule RQ's scheduler loads."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from rq import Queue, SimpleWorker
from rq.cron import CronScheduler
from sqlalchemy import select, update

from mylivelinks.extensions import db, get_redis
from mylivelinks.jobs import DEFAULT_QUEUE
from mylivelinks.jobs.maintenance import purge_refresh_tokens
from mylivelinks.models import RefreshToken


def test_purge_job_removes_only_long_dead_refresh_tokens(api, app):
    live = api.register()
    expired = api.register()
    revoked = api.register()
    recently_revoked = api.register()
    api.post("/api/v1/auth/logout", json={"refresh_token": recently_revoked["refresh_token"]})
    long_ago = datetime.now(UTC) - timedelta(days=8)
    with app.app_context():
        owners = {s["user"]["id"] for s in (expired, revoked)}
        ids = {s["user"]["id"]: s for s in (live, expired, revoked, recently_revoked)}
        db.session.execute(
            update(RefreshToken)
            .where(RefreshToken.profile_id == expired["user"]["id"])
            .values(expires_at=long_ago)
        )
        db.session.execute(
            update(RefreshToken)
            .where(RefreshToken.profile_id == revoked["user"]["id"])
            .values(revoked_at=long_ago)
        )
        db.session.commit()

        queue = Queue(DEFAULT_QUEUE, connection=get_redis())
        job = queue.enqueue(purge_refresh_tokens)
        SimpleWorker([queue], connection=get_redis()).work(burst=True)
        job.refresh()
        assert job.get_status() == "finished", job.latest_result()
        assert job.return_value() == 2

        remaining = {str(p) for p in db.session.scalars(select(RefreshToken.profile_id))}
    assert remaining == set(ids) - owners


def test_cron_schedule_registers_the_purge_daily(app):
    with app.app_context():
        scheduler = CronScheduler(connection=get_redis())
        scheduler.load_config_from_file("mylivelinks.jobs.cron")
        jobs = {job.func.__name__: job for job in scheduler.get_jobs()}
    assert jobs["purge_refresh_tokens"].cron == "17 3 * * *"
    assert jobs["purge_refresh_tokens"].queue_name == DEFAULT_QUEUE

"""Jobs run by a real RQ worker, and the cron schedule RQ's scheduler loads."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from rq import Queue, SimpleWorker
from rq.cron import CronScheduler
from sqlalchemy import func, select, update

from mylivelinks.extensions import db, get_redis
from mylivelinks.jobs import DEFAULT_QUEUE
from mylivelinks.jobs.maintenance import purge_refresh_tokens
from mylivelinks.models import Profile, RefreshToken
from tests.conftest import TEST_SECRET_KEY


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


@pytest.mark.real_session
def test_an_rq_worker_process_runs_the_job_in_its_own_app_and_commits(app, server_urls):
    with app.app_context():
        profile = Profile(username="purge_me", email="purge_me@example.com")
        db.session.add(profile)
        db.session.flush()
        long_ago = datetime.now(UTC) - timedelta(days=30)
        db.session.add(
            RefreshToken(
                profile_id=profile.id,
                family_id=uuid.uuid4(),
                token_hash="0" * 64,
                expires_at=long_ago,
            )
        )
        db.session.commit()
        job = Queue(DEFAULT_QUEUE, connection=get_redis()).enqueue(purge_refresh_tokens)
    env = {**os.environ, **server_urls, "APP_ENV": "testing", "SECRET_KEY": TEST_SECRET_KEY}
    worker = subprocess.run(
        [
            str(Path(sys.executable).parent / "rq"),
            "worker",
            "--burst",
            "--url",
            server_urls["REDIS_URL"],
            DEFAULT_QUEUE,
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert worker.returncode == 0, worker.stderr
    with app.app_context():
        job.refresh()
        assert job.get_status() == "finished", worker.stderr
        assert job.return_value() == 1
        assert db.session.scalar(select(func.count()).select_from(RefreshToken)) == 0


def test_every_job_services_queue_by_name_is_a_job_function():
    import importlib
    import inspect

    from mylivelinks.jobs import enqueue

    names = [value for key, value in vars(enqueue).items() if key.isupper() and "." in value]
    assert len(names) == 10
    for name in names:
        module, function = name.rsplit(".", 1)
        found = getattr(importlib.import_module(module), function)
        # That function itself, or the `@job` wrapper of it.
        assert inspect.unwrap(found).__name__ == function

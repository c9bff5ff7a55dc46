"""Admin adjustments, reconciliation (job, CLI, endpoint, metrics) and Idempotency-Key."""

from __future__ import annotations

import pytest
from rq import Queue
from sqlalchemy import text

from mylivelinks.extensions import db, get_redis
from mylivelinks.jobs import DEFAULT_QUEUE
from mylivelinks.jobs.ledger import purge_idempotency_records, reconcile_ledger
from mylivelinks.ledger.accounts import user_accounts
from mylivelinks.services.accounts.users import set_role
from tests.money import assert_ledger_consistent, run_jobs

ADJUST = "/api/v1/admin/adjustments"


@pytest.fixture
def admin(api, app):
    session = api.register("boss_admin")
    with app.app_context():
        set_role("boss_admin", "admin")
        db.session.commit()
    return session


def test_admin_grants_and_removes_coins_with_a_reason(api, admin):
    fan = api.register("adjusted_fan")
    granted = api.post(
        ADJUST,
        json={"username": "adjusted_fan", "coins": 250, "reason": "goodwill for an outage"},
        headers=api.auth(admin),
    )
    assert granted.status_code == 201
    assert granted.get_json()["wallet"]["coin_balance"] == 250
    removed = api.post(
        ADJUST,
        json={"username": "adjusted_fan", "coins": -50, "reason": "duplicate goodwill"},
        headers=api.auth(admin),
    )
    assert removed.get_json()["wallet"]["coin_balance"] == 200
    too_much = api.post(
        ADJUST,
        json={"username": "adjusted_fan", "coins": -201, "reason": "more than they have"},
        headers=api.auth(admin),
    )
    assert too_much.status_code == 409
    history = api.get("/api/v1/me/ledger", headers=api.auth(fan)).get_json()["items"]
    assert [(e["amount_centicoins"], e["details"]["reason"]) for e in history] == [
        (-5000, "duplicate goodwill"),
        (25000, "goodwill for an outage"),
    ]
    assert history[0]["details"]["admin_id"] == admin["user"]["id"]


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"username": "nobody_here", "coins": 5, "reason": "why not"}, 404),
        ({"username": "adjusted_fan2", "coins": 0, "reason": "zero"}, 422),
        ({"username": "adjusted_fan2", "coins": 1.5, "reason": "fraction"}, 422),
        ({"username": "adjusted_fan2", "coins": 5}, 422),
    ],
)
def test_bad_adjustments_are_refused(api, admin, body, status):
    api.register("adjusted_fan2")
    assert api.post(ADJUST, json=body, headers=api.auth(admin)).status_code == status


def test_only_admins_adjust_or_read_reconciliation(api):
    user = api.register()
    body = {"username": user["user"]["username"], "coins": 1_000_000, "reason": "self-serve"}
    assert api.post(ADJUST, json=body, headers=api.auth(user)).status_code == 403
    assert api.get("/api/v1/admin/reconciliation", headers=api.auth(user)).status_code == 403
    assert api.post(ADJUST, json=body).status_code == 401


def test_idempotency_key_replays_refuses_other_bodies_and_in_flight_duplicates(api, admin, app):
    api.register("idem_fan")
    body = {"username": "idem_fan", "coins": 10, "reason": "one-off bonus"}
    headers = {**api.auth(admin), "Idempotency-Key": "bonus-1"}
    first = api.post(ADJUST, json=body, headers=headers)
    again = api.post(ADJUST, json=body, headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.get_json() == first.get_json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert first.get_json()["wallet"]["coin_balance"] == 10
    other = api.post(ADJUST, json={**body, "coins": 11}, headers=headers)
    assert other.status_code == 409
    with app.app_context(), db.engine.connect() as holder:
        # Another request with this key, still in its transaction.
        holder.execute(
            text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"),
            {"key": f"{admin['user']['id']}:bonus-2"},
        )
        in_flight = api.post(ADJUST, json=body, headers={**headers, "Idempotency-Key": "bonus-2"})
        assert in_flight.status_code == 409
        assert "still in progress" in in_flight.get_json()["message"]
        holder.rollback()  # that request was killed: its transaction ends, the key is free
    retried = api.post(ADJUST, json=body, headers={**headers, "Idempotency-Key": "bonus-2"})
    assert retried.status_code == 201
    assert "Idempotent-Replayed" not in retried.headers
    fan = api.post("/api/v1/auth/login", json={"login": "idem_fan", "password": "correct horse"})
    wallet = api.get("/api/v1/me/wallet", headers=api.bearer(fan.get_json()["access_token"]))
    assert wallet.get_json()["coin_balance"] == 20


def test_idempotency_records_expire_after_24_hours(api, admin, app):
    api.register("idem_old")
    headers = {**api.auth(admin), "Idempotency-Key": "old-key"}
    body = {"username": "idem_old", "coins": 5, "reason": "first grant"}
    api.post(ADJUST, json=body, headers=headers)
    with app.app_context():
        db.session.execute(
            text("UPDATE idempotency_records SET created_at = created_at - interval '25 hours'")
        )
        db.session.commit()
        assert purge_idempotency_records() == 1
    second = api.post(ADJUST, json=body, headers=headers)
    assert second.status_code == 201 and "Idempotent-Replayed" not in second.headers
    assert second.get_json()["wallet"]["coin_balance"] == 10


def test_reconciliation_job_endpoint_and_metrics_report_a_tampered_balance(api, admin, app):
    fan = api.register("reconciled_fan")
    api.post(
        ADJUST,
        json={"username": "reconciled_fan", "coins": 7, "reason": "seed coins"},
        headers=api.auth(admin),
    )
    assert api.get("/api/v1/admin/reconciliation", headers=api.auth(admin)).status_code == 404
    with app.app_context():
        Queue(DEFAULT_QUEUE, connection=get_redis()).enqueue(reconcile_ledger)
    run_jobs(app)
    report = api.get("/api/v1/admin/reconciliation", headers=api.auth(admin)).get_json()
    assert report["ok"] is True and report["mismatches"] == []
    assert report["accounts_checked"] >= 7 and report["entries_total"] == 0
    coins = user_accounts(fan["user"]["id"]).coins
    with app.app_context():
        db.session.execute(
            text("UPDATE ledger_accounts SET balance = balance + 100 WHERE id = :id"), {"id": coins}
        )
        db.session.commit()
    result = app.test_cli_runner().invoke(args=["ledger", "reconcile"])
    assert result.exit_code == 1 and str(coins) in result.output
    report = api.get("/api/v1/admin/reconciliation", headers=api.auth(admin)).get_json()
    assert report["ok"] is False
    mismatch = next(m for m in report["mismatches"] if m.get("account_id") == str(coins))
    assert (mismatch["balance"], mismatch["entries_sum"]) == (800, 700)
    metrics = api.get("/metrics").get_data(as_text=True)
    assert "mylivelinks_ledger_reconciliation_mismatches 2.0" in metrics  # account + conservation
    with app.app_context():
        db.session.execute(
            text("UPDATE ledger_accounts SET balance = balance - 100 WHERE id = :id"), {"id": coins}
        )
        db.session.commit()
    assert_ledger_consistent(app)


def test_cron_schedule_includes_the_money_jobs(app):
    from rq.cron import CronScheduler

    with app.app_context():
        scheduler = CronScheduler(connection=get_redis())
        scheduler.load_config_from_file("mylivelinks.jobs.cron")
        jobs = {job.func.__name__: job for job in scheduler.get_jobs()}
    assert jobs["reconcile_ledger"].cron == "40 2 * * *"
    assert jobs["requeue_stuck_payment_events"].interval == 60
    assert jobs["purge_idempotency_records"].cron == "5 * * * *"

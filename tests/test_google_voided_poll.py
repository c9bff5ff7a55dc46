"""Google Play refunds converge when a notification is missed: the periodic read of the
Voided Purchases API (through Google's own client, against the fake on 127.0.0.1) feeds
the notification's path, once per order, from a mark kept in the database."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta

import google_auth_httplib2
import googleapiclient.discovery
import httplib2
import pytest
from google.oauth2 import service_account
from googleapiclient.errors import HttpError
from sqlalchemy import func, select, text

from mylivelinks.config import Config, ConfigError
from mylivelinks.extensions import db, get_redis
from mylivelinks.models import PaymentEvent
from mylivelinks.payments.base import PaymentUnavailable
from mylivelinks.payments.voided_poll import OVERLAP, mark_name, synced_until
from tests.fakes import google_play
from tests.money import assert_ledger_consistent, run_jobs, send_gift
from tests.store_money import GoogleBuyer, push

DAY = timedelta(days=1)


@pytest.fixture(autouse=True)
def _clean_list_and_ledger(store_app, fake_google_play):
    fake_google_play.forget_voids()  # the fake outlives tests; its list starts empty
    yield
    assert_ledger_consistent(store_app)


@pytest.fixture
def buyer(store_api, fake_google_play) -> GoogleBuyer:
    return GoogleBuyer(store_api, fake_google_play)


def poll(app, now: datetime | None = None) -> dict | None:
    """One run of the cron job, as the worker runs it."""
    from mylivelinks.jobs.payments import poll_google_voided_purchases

    with app.app_context():
        return poll_google_voided_purchases(now=now)


def credited(buyer: GoogleBuyer, product: str = "android_5") -> dict:
    """A purchase bought, redeemed by the app and consumed."""
    record = buyer.buy(product)
    assert buyer.redeem(record).status_code == 200
    run_jobs(buyer.api.app)
    return record


def counts(summary: dict | None) -> tuple[int, int, int, int]:
    assert summary is not None
    return (
        summary["listed"],
        summary["queued"],
        summary["already_stored"],
        summary["unknown"],
    )


def millis(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def list_starts(fake) -> list[int]:
    return [int(q["startTime"]) for q in fake.voided_queries if "startTime" in q]


@pytest.mark.parametrize(("reason", "status"), [(1, "refunded"), (7, "chargeback")])
def test_a_void_whose_notification_never_came_is_taken_back_by_the_poll(
    buyer, store_app, fake_google_play, reason, status
):
    record = credited(buyer)
    fake_google_play.void(record["purchaseToken"], reason)  # no notification is pushed
    assert counts(poll(store_app)) == (1, 1, 0, 0)
    assert buyer.wallet()["coin_balance"] == 250  # queued, applied by the worker
    run_jobs(store_app)
    state = buyer.only_purchase()
    assert (state["status"], state["coins_reversed"]) == (status, 250)
    assert buyer.wallet()["coin_balance"] == 0


def test_the_poll_and_the_notification_mark_a_chargeback_alike(
    store_api, store_app, fake_google_play
):
    states = []
    for via_poll in (False, True):
        buyer = GoogleBuyer(store_api, fake_google_play)
        record = credited(buyer)
        fake_google_play.void(record["purchaseToken"], 7)
        if via_poll:
            poll(store_app)
        else:
            buyer.notify("voided", record)
        run_jobs(store_app)
        state = buyer.only_purchase()
        states.append(
            (state["status"], state["refunded_cents"], state["coins_reversed"], buyer.wallet())
        )
    assert states[0] == states[1]
    assert states[0][:3] == ("chargeback", 500, 250)


def test_notification_then_poll_take_the_coins_back_once(buyer, store_app, fake_google_play):
    record = credited(buyer)
    fake_google_play.void(record["purchaseToken"])
    buyer.notify("voided", record)
    run_jobs(store_app)
    assert buyer.wallet()["coin_balance"] == 0
    assert counts(poll(store_app)) == (1, 1, 0, 0)  # stored, and applied as a no-op
    run_jobs(store_app)
    assert counts(poll(store_app)) == (1, 0, 1, 0)  # the overlap lists it again: nothing new
    run_jobs(store_app)
    state = buyer.only_purchase()
    assert (state["status"], state["coins_credited"], state["coins_reversed"]) == (
        "refunded",
        250,
        250,
    )
    assert buyer.wallet() == {
        "coin_balance": 0,
        "earnings_balance_centicoins": 0,
        "frozen": False,
        "debt_coins": 0,
    }
    with store_app.app_context():
        statuses = db.session.scalars(select(PaymentEvent.status)).all()
    assert sorted(statuses) == ["processed", "processed"]


def test_poll_then_notification_take_the_coins_back_once(buyer, store_app, fake_google_play):
    record = credited(buyer)
    fake_google_play.void(record["purchaseToken"], 7)
    poll(store_app)
    run_jobs(store_app)
    assert buyer.wallet()["coin_balance"] == 0
    buyer.notify("voided", record)
    run_jobs(store_app)
    state = buyer.only_purchase()
    assert (state["status"], state["coins_reversed"]) == ("chargeback", 250)
    assert buyer.wallet()["debt_coins"] == 0 and buyer.wallet()["coin_balance"] == 0


def test_a_void_after_spending_books_debt_once_whichever_path_comes_first(
    buyer, store_app, fake_google_play, main_room
):
    star = {"recipient": buyer.api.register()["user"]["username"]}
    record = credited(buyer)
    assert send_gift(buyer.api, buyer.session, "Rose", 200, **star).status_code == 201
    fake_google_play.void(record["purchaseToken"])
    poll(store_app)
    buyer.notify("voided", record)
    run_jobs(store_app)
    assert buyer.wallet() == {
        "coin_balance": 0,
        "earnings_balance_centicoins": 0,
        "frozen": True,
        "debt_coins": 200,
    }


def test_a_void_of_no_known_purchase_is_skipped_with_a_log_line(
    buyer, store_app, fake_google_play, caplog
):
    ours = credited(buyer)
    strangers = [fake_google_play.buy("android_5", account=None) for _ in range(2)]
    never_reported = buyer.buy("android_10")  # ours at Google, never reported here
    for record in (*strangers, never_reported, ours):
        fake_google_play.void(record["purchaseToken"])
    with caplog.at_level(logging.INFO, logger="mylivelinks"):
        summary = poll(store_app)
    assert counts(summary) == (4, 1, 0, 3)
    assert caplog.text.count("voided purchase of no known purchase skipped") == 3
    assert "voided purchases read: 4 listed, 1 queued, 0 already stored, 3 unknown" in (caplog.text)
    run_jobs(store_app)
    assert buyer.only_purchase()["status"] == "refunded"
    # The purchase reported later is verified with Google, which says it was refunded.
    response = buyer.redeem(never_reported)
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["wallet"]["coin_balance"] == 0


def test_every_page_is_read(buyer, store_app, fake_google_play):
    # Google serves at most 1000 a page: ours are recorded last, on the second page.
    at = datetime.now(UTC) - timedelta(hours=1)
    for _ in range(google_play.VOIDED_MAX_RESULTS):
        stranger = fake_google_play.buy("android_1", account=None)
        fake_google_play.void(stranger["purchaseToken"], at=at)
    ours = [credited(buyer) for _ in range(2)]
    for record in ours:
        fake_google_play.void(record["purchaseToken"])
    assert counts(poll(store_app)) == (1002, 2, 0, 1000)
    queries = fake_google_play.voided_queries
    assert len(queries) == 2
    assert "token" not in queries[0] and "startTime" in queries[0]
    assert queries[1]["token"] and "startTime" not in queries[1]
    assert {q["maxResults"] for q in queries} == {"1000"}
    assert {q["type"] for q in queries} == {"0"}
    run_jobs(store_app)
    assert [p["status"] for p in buyer.purchases()] == ["refunded", "refunded"]
    assert buyer.wallet()["coin_balance"] == 0


def test_the_mark_persists_and_the_next_run_reads_only_a_little_before_it(
    buyer, store_app, fake_google_play
):
    first = poll(store_app)
    assert first is not None
    with store_app.app_context():
        mark = synced_until("google")
    assert mark is not None and mark.isoformat() == first["end"]
    second = poll(store_app)
    assert second is not None
    assert datetime.fromisoformat(second["start"]) == mark - OVERLAP
    starts = list_starts(fake_google_play)
    assert starts[1] == millis(mark - OVERLAP)
    assert starts[1] - starts[0] > (7 * DAY - 2 * OVERLAP).total_seconds() * 1000
    with store_app.app_context():
        assert synced_until("google") == datetime.fromisoformat(second["end"])
        rows = db.session.scalar(text("SELECT count(*) FROM store_sync_marks"))
    assert rows == 1


def test_a_missed_run_is_caught_up_from_the_mark(buyer, store_app, fake_google_play):
    now = datetime.now(UTC)
    poll(store_app, now=now - timedelta(hours=3))  # then the scheduler was down
    record = credited(buyer)
    fake_google_play.void(record["purchaseToken"], at=now - timedelta(hours=2))
    summary = poll(store_app)
    assert counts(summary) == (1, 1, 0, 0)
    assert summary is not None
    assert datetime.fromisoformat(summary["start"]) == now - timedelta(hours=3, minutes=1) - (
        OVERLAP
    )
    run_jobs(store_app)
    assert buyer.wallet()["coin_balance"] == 0


def test_a_void_google_files_just_before_the_last_window_ended_is_read(
    buyer, store_app, fake_google_play
):
    first = poll(store_app)
    assert first is not None
    record = credited(buyer)
    # Google files a void under the time it recorded it, which may reach its list late:
    # here it appears only after the first run, dated inside the first window.
    inside = datetime.fromisoformat(first["end"]) - OVERLAP / 2
    fake_google_play.void(record["purchaseToken"], at=inside)
    assert counts(poll(store_app)) == (1, 1, 0, 0)
    run_jobs(store_app)
    assert buyer.only_purchase()["status"] == "refunded"


def test_the_first_run_looks_back_the_configured_days_only(buyer, store_app, fake_google_play):
    now = datetime.now(UTC)
    older, recent = credited(buyer), credited(buyer)
    fake_google_play.void(older["purchaseToken"], at=now - 8 * DAY)
    fake_google_play.void(recent["purchaseToken"], at=now - 6 * DAY)
    assert counts(poll(store_app, now=now)) == (1, 1, 0, 0)  # GOOGLE_VOIDED_LOOKBACK_DAYS: 7
    assert list_starts(fake_google_play)[0] == millis(now - 7 * DAY)
    run_jobs(store_app)
    assert sorted(p["status"] for p in buyer.purchases()) == ["confirmed", "refunded"]


def test_a_mark_older_than_google_lists_reads_from_its_oldest_day(
    buyer, store_app, fake_google_play, caplog
):
    now = datetime.now(UTC)
    with store_app.app_context():
        db.session.execute(
            text("INSERT INTO store_sync_marks (name, synced_until) VALUES (:name, :until)"),
            {"name": mark_name("google"), "until": now - 40 * DAY},
        )
        db.session.commit()
    record = credited(buyer)
    fake_google_play.void(record["purchaseToken"], at=now - 29 * DAY)
    with caplog.at_level(logging.WARNING, logger="mylivelinks"):
        assert counts(poll(store_app, now=now)) == (1, 1, 0, 0)
    assert "before the oldest the store lists" in caplog.text
    assert list_starts(fake_google_play)[0] == millis(now - 30 * DAY + timedelta(minutes=1))
    run_jobs(store_app)
    assert buyer.wallet()["coin_balance"] == 0


def test_google_down_during_the_poll_moves_nothing_and_the_next_run_reads_it_all(
    buyer, store_app, fake_google_play
):
    record = credited(buyer)
    fake_google_play.void(record["purchaseToken"])
    fake_google_play.fail_next(1, 503)
    with pytest.raises(PaymentUnavailable):
        poll(store_app)
    with store_app.app_context():
        assert synced_until("google") is None
        assert db.session.scalar(select(func.count()).select_from(PaymentEvent)) == 0
    assert counts(poll(store_app)) == (1, 1, 0, 0)
    run_jobs(store_app)
    assert buyer.wallet()["coin_balance"] == 0


def test_a_notification_dated_before_googles_list_still_finds_its_void(
    buyer, store_app, fake_google_play
):
    # Google refuses a startTime older than 30 days; an undated notification (or one
    # delivered very late) once asked for one, and its job failed until parked.
    record = credited(buyer)
    fake_google_play.void(record["purchaseToken"], 7)
    notification = fake_google_play.notification("voided", record, eventTimeMillis="0")
    assert push(buyer.api, fake_google_play, notification).status_code == 200
    run_jobs(store_app)
    state = buyer.only_purchase()
    assert (state["status"], state["coins_reversed"]) == ("chargeback", 250)


def test_without_google_play_configured_the_poll_asks_nothing(app, fake_google_play):
    assert poll(app) is None
    assert fake_google_play.voided_queries == []
    with app.app_context():
        assert synced_until("google") is None


def test_the_poll_is_on_the_cron_schedule(store_app, monkeypatch):
    from rq.cron import CronScheduler

    monkeypatch.setenv("GOOGLE_VOIDED_POLL_SECONDS", "600")  # the schedule is reloaded below
    with store_app.app_context():
        scheduler = CronScheduler(connection=get_redis())
        scheduler.load_config_from_file("mylivelinks.jobs.cron")
        jobs = {job.func.__name__: job for job in scheduler.get_jobs()}
    assert jobs["poll_google_voided_purchases"].interval == 600


def test_the_first_look_back_is_bounded_by_what_google_lists():
    good = {
        "APP_ENV": "testing",
        "SECRET_KEY": "k" * 40,
        "DATABASE_URL": "postgresql://u@localhost/db",
        "REDIS_URL": "redis://localhost:6379/0",
    }
    assert Config({**good, "GOOGLE_VOIDED_LOOKBACK_DAYS": "30"}).GOOGLE_VOIDED_LOOKBACK_DAYS == 30
    for bad in ("0", "31", "a week"):
        with pytest.raises(ConfigError, match="GOOGLE_VOIDED_LOOKBACK_DAYS"):
            Config({**good, "GOOGLE_VOIDED_LOOKBACK_DAYS": bad})


# --- the fake refuses what Google refuses, through Google's own client ---------------------


@pytest.fixture
def voided_list(fake_google_play, tmp_path):
    """`purchases.voidedpurchases.list` of Google's client, pointed at the fake."""
    credentials = service_account.Credentials.from_service_account_file(
        str(fake_google_play.service_account_file(tmp_path)), scopes=[google_play.SCOPE]
    )
    publisher = googleapiclient.discovery.build(
        "androidpublisher",
        "v3",
        http=google_auth_httplib2.AuthorizedHttp(credentials, http=httplib2.Http(timeout=10)),
        cache_discovery=False,
        static_discovery=True,
        client_options={"api_endpoint": fake_google_play.base_url + "/"},
    )

    def call(**params):
        return (
            publisher.purchases()
            .voidedpurchases()
            .list(packageName=google_play.PACKAGE, **params)
            .execute()
        )

    return call


REFUSED_WINDOWS = {
    "startTime older than 30 days": lambda now: {"startTime": str(millis(now - 31 * DAY))},
    "endTime in the future": lambda now: {"endTime": str(millis(now + timedelta(minutes=5)))},
    "startTime after endTime": lambda now: {
        "startTime": str(millis(now - DAY)),
        "endTime": str(millis(now - 2 * DAY)),
    },
    "no results a page": lambda now: {"maxResults": 0},
    "more than 1000 a page": lambda now: {"maxResults": 1001},
    "unknown type": lambda now: {"type": 2},
    "index paging": lambda now: {"startIndex": 5},
    "a page token Google did not issue": lambda now: {"token": "MTAwMA"},
}


@pytest.mark.parametrize("case", sorted(REFUSED_WINDOWS))
def test_the_fake_refuses_windows_google_refuses(voided_list, case):
    with pytest.raises(HttpError) as refused:
        voided_list(**REFUSED_WINDOWS[case](datetime.now(UTC)))
    assert refused.value.resp.status == 400
    assert json.loads(refused.value.content)["error"]["code"] == 400


def test_the_fake_serves_the_30_days_and_a_token_keeps_its_window(
    voided_list, buyer, fake_google_play
):
    now = datetime.now(UTC)
    records = [buyer.buy() for _ in range(3)]
    for days, record in zip((29, 2, 1), records, strict=True):
        fake_google_play.void(record["purchaseToken"], at=now - days * DAY)
    oldest = voided_list(startTime=str(millis(now - 30 * DAY) + 1000))
    assert len(oldest["voidedPurchases"]) == 3
    first = voided_list(startTime=str(millis(now - 3 * DAY)), maxResults=1)
    assert [e["purchaseToken"] for e in first["voidedPurchases"]] == [records[1]["purchaseToken"]]
    token = first["tokenPagination"]["nextPageToken"]
    # Beside a token, startTime and endTime are ignored: the window stays the first one.
    second = voided_list(token=token, maxResults=1, startTime=str(millis(now - 29 * DAY)))
    assert [e["purchaseToken"] for e in second["voidedPurchases"]] == [records[2]["purchaseToken"]]
    assert "tokenPagination" not in second

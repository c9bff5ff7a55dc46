"""Leaderboard rebuilds as jobs: a real RQ worker, the `leaderboard:updated` event, the CLI
and the cron schedule."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from rq.cron import CronScheduler

from mylivelinks.events.streams import (
    LEADERBOARD_UPDATED,
    STREAM_START,
    read_events,
    room_stream_key,
)
from mylivelinks.extensions import db, get_queue, get_redis
from mylivelinks.jobs import DEFAULT_QUEUE
from mylivelinks.jobs.leaderboards import enqueue_rebuild, rebuild_interval
from mylivelinks.models import LeaderboardEntry
from mylivelinks.models.leaderboards import BOARDS, PERIODS
from mylivelinks.services.leaderboards import boards
from tests.money import run_jobs
from tests.test_leaderboards import funded, gift_now, place_gift

EVERY_BOARD = [{"board": b, "period": p} for b in BOARDS for p in PERIODS]


def leaderboard_events(app) -> list[dict]:
    """The `leaderboard:updated` events of room `main` so far."""
    with app.app_context():
        events = read_events(room_stream_key("main"), STREAM_START, None)
    return [event.data for event in events if event.type == LEADERBOARD_UPDATED]


def rebuild_by_worker(app) -> None:
    with app.app_context():
        enqueue_rebuild()
    assert run_jobs(app) == 1


def test_a_change_in_a_top_10_is_announced_to_the_main_room_once(api, app, main_room):
    # A ring of 12: person i gives 100 - i coins to person i + 1, so each board ranks all 12.
    people = funded(api, app, 12, coins=200)
    for index, person in enumerate(people):
        gift_now(api, person, people[(index + 1) % 12], 99 - index)
    rebuild_by_worker(app)
    [first] = leaderboard_events(app)
    assert first["changed"] == EVERY_BOARD and first["computed_at"]
    with app.app_context():  # the readers' copies are told too
        assert boards.is_current(datetime.fromisoformat(first["computed_at"]))

    rebuild_by_worker(app)  # nothing changed
    assert len(leaderboard_events(app)) == 1

    # The 12th gifter gives the 12th streamer one coin: both stay below the top 10.
    gift_now(api, people[11], people[0], 1)
    rebuild_by_worker(app)
    assert len(leaderboard_events(app)) == 1
    with app.app_context():
        ranked = db.session.get(LeaderboardEntry, ("gifters", "day", 12))
        assert (str(ranked.profile_id), ranked.score) == (people[11]["user"]["id"], 89)

    # An old gift changes the all-time boards only.
    last_month = datetime.now(UTC) - timedelta(days=40)
    place_gift(api, app, people[11], people[0], last_month, 50)
    rebuild_by_worker(app)
    second = leaderboard_events(app)[-1]
    assert second["changed"] == [
        {"board": "streamers", "period": "all_time"},
        {"board": "gifters", "period": "all_time"},
    ]
    assert datetime.fromisoformat(second["computed_at"]) > datetime.fromisoformat(
        first["computed_at"]
    )


def test_nothing_is_announced_when_the_boards_stay_empty(app):
    rebuild_by_worker(app)
    assert leaderboard_events(app) == []


def test_the_cli_queues_a_rebuild_for_a_worker(api, app, main_room):
    [gifter] = funded(api, app, 1)
    gift_now(api, gifter, api.register(), 4)
    result = app.test_cli_runner().invoke(args=["leaderboards", "rebuild"])
    assert result.exit_code == 0, result.output
    assert "queued" in result.output
    assert api.get("/api/v1/leaderboards/gifters").get_json()["computed_at"] is None
    assert run_jobs(app) == 1
    body = api.get("/api/v1/leaderboards/gifters").get_json()
    assert [(i["rank"], i["score"]) for i in body["items"]] == [(1, 4)]


def test_the_cli_rebuilds_in_process_with_now(api, app, main_room):
    [gifter] = funded(api, app, 1)
    gift_now(api, gifter, api.register(), 4)
    result = app.test_cli_runner().invoke(args=["leaderboards", "rebuild", "--now"])
    assert result.exit_code == 0, result.output
    assert "rebuilt in" in result.output and "8 entries" in result.output
    assert "gifters/day" in result.output
    with app.app_context():
        assert get_queue(DEFAULT_QUEUE).count == 0
    body = api.get("/api/v1/leaderboards/streamers?period=month").get_json()
    assert [(i["rank"], i["score"]) for i in body["items"]] == [(1, 4)]
    assert len(leaderboard_events(app)) == 1


def cron_jobs(app) -> dict:
    with app.app_context():
        scheduler = CronScheduler(connection=get_redis())
        scheduler.load_config_from_file("mylivelinks.jobs.cron")
        return {job.func.__name__: job for job in scheduler.get_jobs()}


def test_the_cron_schedule_rebuilds_every_leaderboard_rebuild_seconds(app, monkeypatch):
    monkeypatch.delenv("LEADERBOARD_REBUILD_SECONDS", raising=False)
    job = cron_jobs(app)["rebuild_leaderboards"]
    assert (job.interval, job.queue_name) == (60, DEFAULT_QUEUE)
    monkeypatch.setenv("LEADERBOARD_REBUILD_SECONDS", "15")
    assert cron_jobs(app)["rebuild_leaderboards"].interval == 15


def test_the_rebuild_interval_is_parsed_like_the_setting():
    assert rebuild_interval({}) == 60
    assert rebuild_interval({"LEADERBOARD_REBUILD_SECONDS": " 30 "}) == 30
    with pytest.raises(ValueError):
        rebuild_interval({"LEADERBOARD_REBUILD_SECONDS": "0"})


def test_the_published_version_only_moves_forward(app):
    older = datetime(2026, 4, 1, 12, tzinfo=UTC)
    newer = older + timedelta(microseconds=1)
    with app.app_context():
        assert not boards.is_current(older)
        boards.publish_version(newer)
        boards.publish_version(older)  # a late hook of an earlier rebuild
        assert boards.is_current(newer) and not boards.is_current(older)

"""Leaderboards: rebuilt boards equal a direct aggregation of the gifts at every period
boundary and in several time zones; ties; the HTTP endpoint; profile ranks."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from flask import Flask
from sqlalchemy import func, select, update

from mylivelinks import create_app
from mylivelinks.extensions import db
from mylivelinks.jobs.leaderboards import rebuild_leaderboards
from mylivelinks.models import Gift, LeaderboardEntry
from mylivelinks.models.leaderboards import BOARDS, PERIODS
from tests.conftest import make_config
from tests.helpers import ApiClient
from tests.money import grant, send_gift

TIME_ZONES = ("UTC", "Asia/Kolkata", "America/New_York")
# Local wall-clock times the boards are rebuilt "as of".
SCENARIOS = (
    # Wednesday: the day and the month start at the same midnight; the week (from Monday
    # 30 March) spans the start of the month.
    (2026, 4, 1, 10, 0),
    # Monday at exactly midnight: the day and the week start at `now` itself.
    (2026, 4, 13, 0, 0),
    # Sunday: the last day of the week; in New York the clocks go forward at 02:00.
    (2026, 3, 8, 12, 0),
)
MICROSECOND = timedelta(microseconds=1)
COLUMNS = {"streamers": Gift.recipient_id, "gifters": Gift.sender_id}


def local_bounds(now: datetime) -> dict[str, tuple[datetime | None, datetime | None]]:
    """Each period's [start, end) around `now` (aware, in its zone), by wall-clock arithmetic."""
    day = now.replace(hour=0, minute=0, second=0, microsecond=0)
    week = day - timedelta(days=day.weekday())
    month = day.replace(day=1)
    next_month = (month + timedelta(days=32)).replace(day=1)
    return {
        "day": (day, day + timedelta(days=1)),
        "week": (week, week + timedelta(days=7)),
        "month": (month, next_month),
        "all_time": (None, None),
    }


def direct_aggregation(bounds) -> dict[tuple[str, str], list[tuple[int, uuid.UUID, int]]]:
    """(rank, profile, score) per board and period: sums straight from the gifts, ordered
    by score, then the earlier last gift, then profile id."""
    expected = {}
    for board, column in COLUMNS.items():
        for period, (start, end) in bounds.items():
            query = select(column, func.sum(Gift.coins), func.max(Gift.created_at)).group_by(column)
            if start is not None:
                query = query.where(Gift.created_at >= start, Gift.created_at < end)
            rows = sorted(db.session.execute(query), key=lambda r: (-r[1], r[2], r[0]))
            expected[(board, period)] = [
                (rank, profile_id, score) for rank, (profile_id, score, _) in enumerate(rows, 1)
            ]
    return expected


def stored_boards() -> dict[tuple[str, str], list[tuple[int, uuid.UUID, int]]]:
    """What the last rebuild stored, in the same shape."""
    stored: dict[tuple[str, str], list] = {(b, p): [] for b in BOARDS for p in PERIODS}
    entry = LeaderboardEntry
    rows = db.session.execute(
        select(entry.board, entry.period, entry.rank, entry.profile_id, entry.score).order_by(
            entry.board, entry.period, entry.rank
        )
    )
    for board, period, rank, profile_id, score in rows:
        stored[(board, period)].append((rank, profile_id, score))
    return stored


def stored_bounds() -> dict[tuple[str, str], set]:
    entry = LeaderboardEntry
    columns = (entry.board, entry.period, entry.period_start, entry.period_end)
    rows = db.session.execute(select(*columns))
    found: dict[tuple[str, str], set] = {}
    for board, period, start, end in rows:
        found.setdefault((board, period), set()).add((start, end))
    return found


def place_gift(api, app, sender, recipient, when: datetime, quantity: int = 1) -> int:
    """Send a real gift (Roses, one coin each) through the API, then date it `when`."""
    response = send_gift(api, sender, "Rose", quantity, recipient=recipient["user"]["username"])
    assert response.status_code == 201, response.get_json()
    gift_id = response.get_json()["gift"]["id"]
    with app.app_context():
        db.session.execute(update(Gift).where(Gift.id == gift_id).values(created_at=when))
        db.session.commit()
    return quantity


def gift_now(api, sender, recipient, quantity: int) -> None:
    """Send `quantity` Roses now."""
    response = send_gift(api, sender, "Rose", quantity, recipient=recipient["user"]["username"])
    assert response.status_code == 201, response.get_json()


def funded(api, app, count: int, coins: int = 10_000) -> list[dict]:
    people = [api.register() for _ in range(count)]
    for person in people:
        grant(app, person, coins)
    return people


@pytest.fixture(scope="module")
def zone_apps(server_urls, app) -> dict[str, Flask]:
    """An app per time zone of TIME_ZONES, on the test database."""
    return {
        zone: app
        if zone == "UTC"
        else create_app(make_config(server_urls, LEADERBOARD_TIMEZONE=zone))
        for zone in TIME_ZONES
    }


@pytest.mark.parametrize("zone", TIME_ZONES)
def test_boards_equal_a_direct_aggregation_at_every_period_boundary(zone, zone_apps, main_room):
    zone_app = zone_apps[zone]
    assert zone_app.config["LEADERBOARD_TIMEZONE"] == zone
    api = ApiClient(zone_app)
    gifters = funded(api, zone_app, 2)
    streamers = [api.register(), api.register()]
    nows = [datetime(*parts, tzinfo=ZoneInfo(zone)) for parts in SCENARIOS]
    # A gift just before, at, and just before the end of every period of every scenario.
    moments = sorted(
        {
            moment
            for now in nows
            for start, end in local_bounds(now).values()
            if start is not None
            for moment in (start - MICROSECOND, start, end - MICROSECOND, end)
        }
        | {nows[0] - timedelta(days=90)}
    )
    placed = []
    for index, moment in enumerate(moments):
        quantity = 1 + index % 5
        sender, recipient = gifters[index % 2], streamers[(index // 2) % 2]
        placed.append((moment, place_gift(api, zone_app, sender, recipient, moment, quantity)))

    for now in nows:
        with zone_app.app_context():
            summary = rebuild_leaderboards(now=now)
            bounds = local_bounds(now)
            assert stored_boards() == direct_aggregation(bounds)
            assert summary["entries"] == sum(map(len, stored_boards().values()))
            for (_board, period), found in stored_bounds().items():
                assert found == {bounds[period]}
            # Independently of SQL: each board's total is the coins placed in the period.
            for period, (start, end) in bounds.items():
                coins = sum(q for t, q in placed if start is None or start <= t < end)
                for board in BOARDS:
                    assert sum(s for _, _, s in stored_boards()[(board, period)]) == coins


def test_a_gift_at_exactly_midnight_belongs_to_the_new_day_and_monday_starts_the_week(
    api, app, main_room
):
    gifter, late = funded(api, app, 2)
    streamer = api.register()
    utc = ZoneInfo("UTC")
    monday = datetime(2026, 4, 13, tzinfo=utc)
    place_gift(api, app, gifter, streamer, monday, 3)  # exactly 00:00:00 on Monday
    place_gift(api, app, late, streamer, monday - MICROSECOND, 7)  # Sunday 23:59:59.999999
    with app.app_context():
        rebuild_leaderboards(now=monday + timedelta(hours=1))
        boards = stored_boards()
    gifter_id, late_id = (uuid.UUID(p["user"]["id"]) for p in (gifter, late))
    assert boards[("gifters", "day")] == [(1, gifter_id, 3)]
    assert boards[("gifters", "week")] == [(1, gifter_id, 3)]
    assert boards[("gifters", "month")] == [(1, late_id, 7), (2, gifter_id, 3)]
    assert boards[("streamers", "day")] == [(1, uuid.UUID(streamer["user"]["id"]), 3)]


def test_ties_go_to_who_reached_the_score_first_then_to_the_profile_id(api, app, main_room):
    first, second, third, fourth, fifth = funded(api, app, 5)
    streamer = api.register()
    t0 = datetime(2026, 4, 13, 9, tzinfo=ZoneInfo("UTC"))
    # first: 5 coins, the last of them at t0 + 3 s; second: 5 at t0 + 1 s; third and fourth
    # reach 5 at the same moment as first; fifth has fewer coins but the earliest gift.
    place_gift(api, app, first, streamer, t0, 2)
    place_gift(api, app, first, streamer, t0 + timedelta(seconds=3), 3)
    place_gift(api, app, second, streamer, t0 + timedelta(seconds=1), 5)
    place_gift(api, app, third, streamer, t0 + timedelta(seconds=3), 5)
    place_gift(api, app, fourth, streamer, t0 + timedelta(seconds=3), 5)
    place_gift(api, app, fifth, streamer, t0 - timedelta(seconds=1), 4)
    with app.app_context():
        rebuild_leaderboards(now=t0 + timedelta(hours=1))
        board = stored_boards()[("gifters", "day")]
    same_moment = sorted(uuid.UUID(p["user"]["id"]) for p in (first, third, fourth))
    expected = [uuid.UUID(second["user"]["id"]), *same_moment, uuid.UUID(fifth["user"]["id"])]
    assert [profile for _, profile, _ in board] == expected
    assert [rank for rank, _, _ in board] == [1, 2, 3, 4, 5]
    assert [score for _, _, score in board] == [5, 5, 5, 5, 4]


def test_a_rebuild_replaces_the_boards_and_is_repeatable(api, app, main_room):
    gifter, other = funded(api, app, 2)
    streamer = api.register()
    now = datetime(2026, 4, 15, 12, tzinfo=ZoneInfo("UTC"))
    place_gift(api, app, gifter, streamer, now - timedelta(hours=1), 2)
    with app.app_context():
        rebuild_leaderboards(now=now)
        first = stored_boards()
        rebuild_leaderboards(now=now)
        assert stored_boards() == first
        # A week later the day, week and month boards are empty; all time stays.
        rebuild_leaderboards(now=now + timedelta(days=20))
        later = stored_boards()
    assert all(later[(b, p)] == [] for b in BOARDS for p in ("day", "week", "month"))
    assert later[("gifters", "all_time")] == first[("gifters", "all_time")]
    place_gift(api, app, other, streamer, now, 9)
    with app.app_context():
        rebuild_leaderboards(now=now)
        assert [p for _, p, _ in stored_boards()[("gifters", "day")]] == [
            uuid.UUID(other["user"]["id"]),
            uuid.UUID(gifter["user"]["id"]),
        ]


BOARD_URL = "/api/v1/leaderboards"


def test_the_endpoint_before_the_first_rebuild_answers_an_empty_board(api):
    response = api.get(f"{BOARD_URL}/streamers")
    assert response.status_code == 200
    assert response.get_json() == {
        "board": "streamers",
        "period": "day",
        "period_start": None,
        "period_end": None,
        "computed_at": None,
        "items": [],
    }


def test_the_endpoint_shows_ranks_scores_and_profiles(api, app, main_room):
    gifters = funded(api, app, 3)
    streamer = api.register()
    for quantity, gifter in zip((3, 5, 1), gifters, strict=True):
        gift_now(api, gifter, streamer, quantity)
    with app.app_context():
        summary = rebuild_leaderboards()

    body = api.get(f"{BOARD_URL}/gifters").get_json()  # period day by default
    assert body["board"] == "gifters" and body["period"] == "day"
    assert body["computed_at"] is not None
    assert datetime.fromisoformat(body["computed_at"]) == datetime.fromisoformat(
        summary["computed_at"]
    )
    start, end = (datetime.fromisoformat(body[k]) for k in ("period_start", "period_end"))
    assert end - start == timedelta(days=1) and start <= datetime.now(start.tzinfo) < end
    assert [(i["rank"], i["score"], i["profile"]["username"]) for i in body["items"]] == [
        (1, 5, gifters[1]["user"]["username"]),
        (2, 3, gifters[0]["user"]["username"]),
        (3, 1, gifters[2]["user"]["username"]),
    ]
    assert set(body["items"][0]["profile"]) == {"id", "username", "display_name", "avatar_url"}

    limited = api.get(f"{BOARD_URL}/gifters?period=week&limit=2").get_json()
    assert limited["period"] == "week" and [i["rank"] for i in limited["items"]] == [1, 2]
    all_time = api.get(f"{BOARD_URL}/streamers?period=all_time").get_json()
    assert all_time["period_start"] is None and all_time["period_end"] is None
    assert [(i["rank"], i["score"]) for i in all_time["items"]] == [(1, 9)]

    # The next rebuild's board replaces the one read before.
    gift_now(api, gifters[2], streamer, 6)
    with app.app_context():
        rebuild_leaderboards()
    again = api.get(f"{BOARD_URL}/gifters").get_json()
    assert [(i["rank"], i["score"]) for i in again["items"]] == [(1, 7), (2, 5), (3, 3)]
    assert again["computed_at"] > body["computed_at"]


@pytest.mark.parametrize(
    ("path", "status", "field"),
    [
        ("/viewers", 404, None),
        ("/streamers?period=year", 422, "period"),
        ("/streamers?limit=0", 422, "limit"),
        ("/streamers?limit=101", 422, "limit"),
    ],
)
def test_the_endpoint_refuses_unknown_boards_and_bad_arguments(api, path, status, field):
    response = api.get(BOARD_URL + path)
    body = response.get_json()
    assert response.status_code == status
    assert body["code"] == status and body["status"] and body["message"]
    if field:
        assert field in body["errors"]


def test_profiles_show_their_current_ranks(api, app, main_room):
    big, small = funded(api, app, 2)
    streamer, bystander = api.register(), api.register()
    last_month = datetime.now(ZoneInfo("UTC")) - timedelta(days=40)
    place_gift(api, app, big, streamer, last_month, 8)
    gift_now(api, small, streamer, 2)
    gift_now(api, big, streamer, 1)
    with app.app_context():
        rebuild_leaderboards()

    def ranks(person):
        response = api.get(f"/api/v1/profiles/{person['user']['username']}")
        assert response.status_code == 200
        return response.get_json()["leaderboard_ranks"]

    nothing = {"day": None, "week": None, "month": None, "all_time": None}
    assert ranks(big) == {
        "streamers": nothing,
        "gifters": {"day": 2, "week": 2, "month": 2, "all_time": 1},
    }
    assert ranks(small)["gifters"] == {"day": 1, "week": 1, "month": 1, "all_time": 2}
    assert ranks(streamer) == {
        "streamers": {"day": 1, "week": 1, "month": 1, "all_time": 1},
        "gifters": nothing,
    }
    assert ranks(bystander) == {"streamers": nothing, "gifters": nothing}

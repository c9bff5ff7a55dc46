"""Schedules: validation, own lists, DST-correct occurrences, upcoming, kept occurrences."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select, text

from mylivelinks.extensions import db
from mylivelinks.models import Profile, Schedule, ScheduleOccurrence, Stream
from mylivelinks.services.schedules import planning
from mylivelinks.services.schedules.recurrence import Recurrence, occurrences, to_utc
from tests.helpers import ApiClient, run_concurrently

EVERY_DAY = frozenset(range(7))
BERLIN, NEW_YORK = "Europe/Berlin", "America/New_York"


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


def daily(zone: str, at: time, first: date, last: date) -> list[datetime]:
    rule = Recurrence(zone, at, first, last, EVERY_DAY)
    return list(occurrences(rule, utc(2000, 1, 1), utc(2100, 1, 1)))


# --- occurrence arithmetic -------------------------------------------------------------
# 2027: Europe springs forward on 28 March and falls back on 31 October; the United States
# on 14 March and 7 November, so for two weeks each time the offsets between them differ.


def test_a_berlin_morning_is_0800_utc_in_winter_and_0700_in_summer():
    spring = daily(BERLIN, time(9), date(2027, 3, 25), date(2027, 3, 31))
    assert [instant.hour for instant in spring] == [8, 8, 8, 7, 7, 7, 7]
    assert spring[3] == utc(2027, 3, 28, 7)  # the change day itself
    autumn = daily(BERLIN, time(9), date(2027, 10, 28), date(2027, 11, 3))
    assert [instant.hour for instant in autumn] == [7, 7, 7, 8, 8, 8, 8]


def test_a_new_york_morning_follows_the_us_changes_not_the_european_ones():
    spring = daily(NEW_YORK, time(9), date(2027, 3, 11), date(2027, 3, 31))
    hours = [instant.hour for instant in spring]
    assert hours[:3] == [14, 14, 14] and set(hours[3:]) == {13}  # from Sunday 14 March
    autumn = daily(NEW_YORK, time(9), date(2027, 10, 27), date(2027, 11, 10))
    hours = [instant.hour for instant in autumn]
    # Europe's change (31 October) moves nothing; the US one (7 November) does.
    assert hours[:11] == [13] * 11 and set(hours[11:]) == {14}


def test_a_local_time_skipped_in_spring_is_shifted_forward_by_the_gap():
    # 02:30 does not exist on the change days; it becomes 03:30 summer time.
    assert to_utc(date(2027, 3, 28), time(2, 30), BERLIN) == utc(2027, 3, 28, 1, 30)
    assert to_utc(date(2027, 3, 14), time(2, 30), NEW_YORK) == utc(2027, 3, 14, 7, 30)
    week = daily(BERLIN, time(2, 30), date(2027, 3, 26), date(2027, 3, 30))
    assert week == [
        utc(2027, 3, 26, 1, 30),
        utc(2027, 3, 27, 1, 30),
        utc(2027, 3, 28, 1, 30),
        utc(2027, 3, 29, 0, 30),
        utc(2027, 3, 30, 0, 30),
    ]


def test_a_local_time_repeated_in_autumn_means_the_first_one():
    assert to_utc(date(2027, 10, 31), time(2, 30), BERLIN) == utc(2027, 10, 31, 0, 30)
    assert to_utc(date(2027, 11, 7), time(1, 30), NEW_YORK) == utc(2027, 11, 7, 5, 30)
    week = daily(NEW_YORK, time(1, 30), date(2027, 11, 6), date(2027, 11, 8))
    assert week == [utc(2027, 11, 6, 5, 30), utc(2027, 11, 7, 5, 30), utc(2027, 11, 8, 6, 30)]


def test_weekly_days_and_the_date_range_are_honoured():
    # 0 is Monday: Mondays and Thursdays from Tuesday 2 March to Monday 15 March 2027.
    rule = Recurrence(BERLIN, time(20), date(2027, 3, 2), date(2027, 3, 15), frozenset({0, 3}))
    found = list(occurrences(rule, utc(2027, 1, 1), utc(2027, 12, 31)))
    assert [instant.date() for instant in found] == [
        date(2027, 3, 4),
        date(2027, 3, 8),
        date(2027, 3, 11),
        date(2027, 3, 15),
    ]


# --- creating, listing, deleting ------------------------------------------------------


def create(api, session, **body):
    return api.post("/api/v1/me/schedules", json=body, headers=api.auth(session))


def weekly(**overrides):
    return {
        "kind": "weekly",
        "days_of_week": [0, 3],
        "local_time": "20:00",
        "timezone": BERLIN,
        **overrides,
    }


def future_day(days: int = 3) -> str:
    return (datetime.now(UTC) + timedelta(days=days)).date().isoformat()


def test_creating_once_and_weekly_schedules(api):
    creator = api.register()
    once = create(
        api,
        creator,
        kind="once",
        date=future_day(),
        local_time="09:30",
        timezone=NEW_YORK,
        title="Launch",
        duration_minutes=90,
    )
    assert once.status_code == 201, once.get_json()
    body = once.get_json()
    assert body["kind"] == "once" and body["local_time"] == "09:30"
    assert body["date"] == future_day() and body["days_of_week"] is None
    assert body["title"] == "Launch" and body["duration_minutes"] == 90
    assert body["next_occurrence"].startswith(future_day())
    repeated = create(api, creator, **weekly(days_of_week=[3, 0], end_date=future_day(60)))
    assert repeated.status_code == 201, repeated.get_json()
    body = repeated.get_json()
    assert body["days_of_week"] == [0, 3] and body["date"] is None
    assert body["start_date"] is not None and body["end_date"] == future_day(60)


def test_the_time_zone_defaults_to_the_creators(api):
    creator = api.register()
    api.patch("/api/v1/me", json={"timezone": "Asia/Tokyo"}, headers=api.auth(creator))
    body = {"kind": "once", "date": future_day(), "local_time": "09:00"}
    created = create(api, creator, **body).get_json()
    assert created["timezone"] == "Asia/Tokyo"
    assert created["next_occurrence"].startswith(future_day() + "T00:00:00")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (weekly(timezone="Mars/Olympus"), "timezone"),
        (weekly(timezone="CET+1"), "timezone"),
        (weekly(local_time="9:00"), "local_time"),
        (weekly(local_time="24:00"), "local_time"),
        (weekly(local_time="09:00:00"), "local_time"),
        (weekly(days_of_week=[]), "days_of_week"),
        (weekly(days_of_week=[1, 1]), "days_of_week"),
        (weekly(days_of_week=[7]), "days_of_week.0"),
        (weekly(days_of_week=None), "days_of_week"),
        (weekly(date="2030-01-01"), "date"),
        (weekly(start_date="2030-02-01", end_date="2030-01-31"), "end_date"),
        (weekly(end_date="2020-01-01"), "end_date"),
        (weekly(start_date="2020-01-01", end_date="2020-02-01"), "end_date"),
        ({"kind": "once", "local_time": "09:00"}, "date"),
        ({"kind": "once", "date": "2020-01-01", "local_time": "09:00"}, "date"),
        ({"kind": "once", "date": future_day(), "local_time": "09:00", "days_of_week": [1]}, None),
        ({"kind": "daily", "local_time": "09:00"}, "kind"),
        ({"kind": "once", "date": "9999-12-30", "local_time": "12:00", "timezone": "UTC"}, "date"),
        ({"kind": "once", "date": "0001-01-01", "local_time": "12:00", "timezone": "UTC"}, "date"),
        (weekly(start_date="9999-12-30"), "start_date"),
        (weekly(end_date="9999-12-31"), "end_date"),
        (weekly(duration_minutes=0), "duration_minutes"),
        (weekly(title=""), "title"),
    ],
)
def test_invalid_schedules_are_422_and_store_nothing(api, app, body, field):
    creator = api.register()
    response = create(api, creator, **body)
    assert response.status_code == 422, response.get_json()
    errors = response.get_json()["errors"]
    assert field is None or field in errors, errors
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Schedule)) == 0


def test_a_once_schedule_earlier_today_is_in_the_past(api):
    creator = api.register()
    now = datetime.now(UTC)
    # A zone where it is not just past midnight, so a minute ago is still today there.
    zone = "UTC" if 1 <= now.hour <= 22 else "Etc/GMT+6"
    local = now.astimezone(ZoneInfo(zone))
    earlier = (local - timedelta(minutes=1)).strftime("%H:%M")
    body = {"kind": "once", "date": local.date().isoformat(), "local_time": earlier}
    response = create(api, creator, timezone=zone, **body)
    assert response.status_code == 422
    assert response.get_json()["errors"] == {"date": ["The scheduled time is in the past."]}


def test_a_creator_has_at_most_50_running_schedules(api, app):
    creator = api.register()
    with app.app_context():
        db.session.execute(
            text(
                "INSERT INTO schedules (id, creator_id, kind, timezone, local_time, start_date,"
                " end_date, days_of_week) SELECT gen_random_uuid(), :creator, 'weekly', 'UTC',"
                " TIME '12:00', DATE '2020-01-01', CASE WHEN g > 50 THEN DATE '2020-02-01' END,"
                " ARRAY[1]::smallint[] FROM generate_series(1, 60) AS g"
            ),
            {"creator": creator["user"]["id"]},
        )
        db.session.commit()
    response = create(api, creator, **weekly())
    assert response.status_code == 409  # the 10 over long ago do not count
    api.delete(f"/api/v1/me/schedules/{_any_running(app, creator)}", headers=api.auth(creator))
    assert create(api, creator, **weekly()).status_code == 201


def _any_running(app, session) -> uuid.UUID:
    with app.app_context():
        return db.session.scalar(
            select(Schedule.id).where(
                Schedule.creator_id == uuid.UUID(session["user"]["id"]),
                Schedule.end_date.is_(None),
            )
        )


def test_schedules_need_auth(api):
    assert api.post("/api/v1/me/schedules", json=weekly()).status_code == 401
    assert api.get("/api/v1/me/schedules").status_code == 401
    assert api.delete(f"/api/v1/me/schedules/{uuid.uuid4()}").status_code == 401


def test_own_schedules_paginate_newest_first(api):
    creator, other = api.register(), api.register()
    made = [create(api, creator, **weekly(title=f"show {i}")).get_json()["id"] for i in range(5)]
    create(api, other, **weekly())
    seen, cursor = [], None
    while True:
        query = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = api.get("/api/v1/me/schedules", query_string=query, headers=api.auth(creator))
        assert page.status_code == 200
        seen += [item["id"] for item in page.get_json()["items"]]
        cursor = page.get_json()["next_cursor"]
        if cursor is None:
            break
    assert seen == list(reversed(made))
    bad = api.get("/api/v1/me/schedules?cursor=nope", headers=api.auth(creator))
    assert bad.status_code == 422


def test_only_the_creator_deletes_a_schedule(api):
    creator, other = api.register(), api.register()
    schedule_id = create(api, creator, **weekly()).get_json()["id"]
    path = f"/api/v1/me/schedules/{schedule_id}"
    assert api.delete(path, headers=api.auth(other)).status_code == 404
    assert api.delete(path, headers=api.auth(creator)).status_code == 204
    assert api.delete(path, headers=api.auth(creator)).status_code == 404
    listed = api.get("/api/v1/me/schedules", headers=api.auth(creator)).get_json()
    assert listed["items"] == []


# --- upcoming ---------------------------------------------------------------------------


def add(app, username: str, now: datetime, **fields) -> uuid.UUID:
    """A schedule created through the service as if at `now`; its id."""
    with app.app_context():
        creator = db.session.scalar(select(Profile).where(Profile.username == username))
        schedule = planning.create_schedule(creator, now=now, **fields)
        db.session.commit()
        return schedule.id


def all_upcoming(app, now: datetime, limit: int) -> list[planning.UpcomingOccurrence]:
    items, cursor = [], None
    with app.app_context():
        while True:
            page = planning.upcoming(now, limit=limit, cursor=cursor)
            assert len(page.items) <= limit
            items += page.items
            cursor = page.next_cursor
            if cursor is None:
                return items


def test_upcoming_merges_creators_soonest_first_across_both_dst_changes(api, app):
    berlin, new_york = api.register(), api.register()
    now = utc(2027, 3, 9, 12)  # two weeks ahead cover both spring changes
    for session, zone in ((berlin, BERLIN), (new_york, NEW_YORK)):
        add(
            app,
            session["user"]["username"],
            now,
            kind="weekly",
            local_time=time(9),
            timezone=zone,
            days_of_week=list(range(7)),
        )
    items = all_upcoming(app, now, limit=4)
    starts = [item.starts_at for item in items]
    assert starts == sorted(starts) and len(set(starts)) == len(starts) == 28
    by_zone = {
        zone: [item.starts_at for item in items if item.schedule.timezone == zone]
        for zone in (BERLIN, NEW_YORK)
    }
    assert by_zone[BERLIN][0] == utc(2027, 3, 10, 8)
    assert by_zone[BERLIN][-1] == utc(2027, 3, 23, 8)  # Europe changes on the 28th
    assert by_zone[NEW_YORK][0] == utc(2027, 3, 9, 14)  # later today
    assert utc(2027, 3, 14, 13) in by_zone[NEW_YORK]  # US summer time from the 14th
    assert by_zone[NEW_YORK][-1] == utc(2027, 3, 22, 13)
    later = all_upcoming(app, utc(2027, 3, 23, 12), limit=100)
    assert utc(2027, 3, 28, 7) in [item.starts_at for item in later]


def test_upcoming_autumn_with_a_repeated_and_a_regular_time(api, app):
    creator = api.register()
    name, now = creator["user"]["username"], utc(2027, 10, 30, 0)
    add(
        app,
        name,
        now,
        kind="once",
        date=date(2027, 10, 31),
        local_time=time(2, 30),
        timezone=BERLIN,
    )
    add(
        app,
        name,
        now,
        kind="once",
        date=date(2027, 11, 7),
        local_time=time(1, 30),
        timezone=NEW_YORK,
    )
    add(
        app, name, now, kind="once", date=date(2027, 11, 1), local_time=time(2, 30), timezone=BERLIN
    )
    starts = [item.starts_at for item in all_upcoming(app, now, limit=2)]
    assert starts == [utc(2027, 10, 31, 0, 30), utc(2027, 11, 1, 1, 30), utc(2027, 11, 7, 5, 30)]


def test_upcoming_covers_14_days_and_the_start_window_behind(api, app):
    creator = api.register()
    name, now = creator["user"]["username"], utc(2027, 6, 1, 12)
    soon = add(
        app,
        name,
        now - timedelta(days=1),
        kind="once",
        date=date(2027, 6, 1),
        local_time=time(11, 45),
        timezone="UTC",
    )
    add(
        app,
        name,
        now - timedelta(days=1),
        kind="once",
        date=date(2027, 6, 1),
        local_time=time(11, 15),
        timezone="UTC",
    )
    add(app, name, now, kind="once", date=date(2027, 6, 15), local_time=time(11), timezone="UTC")
    add(app, name, now, kind="once", date=date(2027, 6, 15), local_time=time(13), timezone="UTC")
    items = all_upcoming(app, now, limit=10)
    assert [item.starts_at for item in items] == [utc(2027, 6, 1, 11, 45), utc(2027, 6, 15, 11)]
    assert items[0].schedule.id == soon and items[0].started_at is None


def test_upcoming_pages_are_stable_over_the_api(api):
    creators = [api.register() for _ in range(3)]
    for index, session in enumerate(creators):
        create(api, session, **weekly(days_of_week=[index, index + 2], title=f"t{index}"))
    create(api, creators[0], kind="once", date=future_day(2), local_time="12:00", timezone="UTC")
    full = api.get("/api/v1/schedules/upcoming?limit=100").get_json()
    assert full["next_cursor"] is None
    keys = [(item["starts_at"], item["schedule_id"]) for item in full["items"]]
    assert keys == sorted(keys) and len(keys) >= 13
    paged, cursor = [], None
    while True:
        query = {"limit": 3, **({"cursor": cursor} if cursor else {})}
        page = api.get("/api/v1/schedules/upcoming", query_string=query).get_json()
        paged += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert paged == full["items"]
    item = full["items"][0]
    assert item["creator"]["username"] in {s["user"]["username"] for s in creators}
    assert item["started"] is False and item["stream_id"] is None and item["live"] is False
    local = datetime.fromisoformat(item["local_starts_at"])
    assert local == datetime.fromisoformat(item["starts_at"])
    assert api.get("/api/v1/schedules/upcoming?limit=0").status_code == 422
    assert api.get("/api/v1/schedules/upcoming?cursor=x").status_code == 422


def test_upcoming_with_thousands_of_schedules(api, app):
    creator = api.register()
    now = utc(2027, 1, 4, 0)
    with app.app_context():
        db.session.execute(
            text(
                "INSERT INTO schedules (id, creator_id, kind, timezone, local_time, start_date,"
                " days_of_week) SELECT gen_random_uuid(), :creator, 'weekly', "
                " (ARRAY['UTC', 'Europe/Berlin', 'America/New_York'])[1 + g % 3],"
                " make_time(g % 24, g % 60, 0), DATE '2027-01-01', ARRAY[g % 7]::smallint[]"
                " FROM generate_series(1, 3000) AS g"
            ),
            {"creator": creator["user"]["id"]},
        )
        db.session.commit()
        page = planning.upcoming(now, limit=50, cursor=None)
        expected = []
        window = (now - timedelta(minutes=30), now + timedelta(days=14))
        for schedule in db.session.scalars(select(Schedule)):
            for instant in occurrences(planning.rule_of(schedule), *window):
                expected.append((instant, schedule.id))
    expected.sort()
    assert [(item.starts_at, item.schedule.id) for item in page.items] == expected[:50]


# --- kept occurrences -------------------------------------------------------------------


def go_live(api, session) -> str:
    response = api.post("/api/v1/rooms/main/live", json={}, headers=api.auth(session))
    assert response.status_code == 201, response.get_json()
    return response.get_json()["stream"]["id"]


def test_going_live_in_the_window_marks_the_nearest_occurrence(api, app, main_room):
    streamer = api.register()
    name, created = streamer["user"]["username"], utc(2027, 3, 1)
    # Mondays 20:00 Berlin: 19:00 UTC on 22 March, 18:00 UTC on 29 March (summer time).
    kept = add(
        app, name, created, kind="weekly", local_time=time(20), timezone=BERLIN, days_of_week=[0]
    )
    other = add(
        app, name, created, kind="weekly", local_time=time(23), timezone=BERLIN, days_of_week=[0]
    )
    stream_id = go_live(api, streamer)
    with app.app_context():
        stream = db.session.get(Stream, uuid.UUID(stream_id))
        assert planning.mark_schedule_started(stream, utc(2027, 3, 22, 18, 29)) == []
        assert planning.mark_schedule_started(stream, utc(2027, 3, 29, 18, 31)) == []
        marked = planning.mark_schedule_started(stream, utc(2027, 3, 29, 17, 30))
        assert marked == [(kept, utc(2027, 3, 29, 18))]
        again = planning.mark_schedule_started(stream, utc(2027, 3, 29, 18, 20))
        assert again == []
        db.session.commit()
        rows = db.session.scalars(select(ScheduleOccurrence)).all()
        assert [(row.schedule_id, row.occurs_at, str(row.stream_id)) for row in rows] == [
            (kept, utc(2027, 3, 29, 18), stream_id)
        ]
        assert rows[0].started_at == utc(2027, 3, 29, 17, 30)
    items = all_upcoming(app, utc(2027, 3, 29, 18, 10), limit=2)
    first = items[0]
    assert (first.schedule.id, first.starts_at) == (kept, utc(2027, 3, 29, 18))
    assert first.started_at is not None and str(first.stream_id) == stream_id and first.live
    assert items[1].schedule.id == other and items[1].started_at is None
    api.delete("/api/v1/rooms/main/live", headers=api.auth(streamer))
    assert not all_upcoming(app, utc(2027, 3, 29, 18, 10), limit=2)[0].live


def test_a_once_schedule_is_kept_from_either_side_of_its_time(api, app, main_room):
    streamer = api.register()
    name = streamer["user"]["username"]
    at = add(
        app,
        name,
        utc(2027, 5, 1),
        kind="once",
        date=date(2027, 5, 2),
        local_time=time(2, 30),
        timezone=NEW_YORK,
    )
    stream_id = go_live(api, streamer)
    with app.app_context():
        stream = db.session.get(Stream, uuid.UUID(stream_id))
        starts = utc(2027, 5, 2, 6, 30)
        assert planning.mark_schedule_started(stream, starts + timedelta(minutes=31)) == []
        assert planning.mark_schedule_started(stream, starts + timedelta(minutes=30)) == [
            (at, starts)
        ]


def test_a_creator_cancels_one_future_occurrence(api, app, main_room):
    creator, other = api.register(), api.register()
    schedule = create(api, creator, **weekly(days_of_week=list(range(7)), timezone="UTC"))
    schedule_id = schedule.get_json()["id"]
    listed = api.get("/api/v1/schedules/upcoming", query_string={"limit": 100}).get_json()
    mine = [o for o in listed["items"] if o["schedule_id"] == schedule_id]
    target = mine[1]["starts_at"]
    path = f"/api/v1/me/schedules/{schedule_id}/cancellations"

    assert api.post(path, json={"starts_at": target}, headers=api.auth(other)).status_code == 404
    off_grid = target.replace(":00", ":01", 1)
    assert (
        api.post(path, json={"starts_at": off_grid}, headers=api.auth(creator)).status_code == 422
    )
    past = (datetime.now(UTC) - timedelta(days=1)).replace(hour=20, minute=0, second=0)
    refused = api.post(path, json={"starts_at": past.isoformat()}, headers=api.auth(creator))
    assert refused.status_code == 422
    for _ in range(2):  # cancelling again gives the same answer
        done = api.post(path, json={"starts_at": target}, headers=api.auth(creator))
        assert done.status_code == 201 and done.get_json()["cancelled_at"]

    listed = api.get("/api/v1/schedules/upcoming", query_string={"limit": 100}).get_json()
    flags = {
        o["starts_at"]: o["cancelled"] for o in listed["items"] if o["schedule_id"] == schedule_id
    }
    assert flags[target] is True and list(flags.values()).count(True) == 1
    scheduled = api.get(
        "/api/v1/streams",
        query_string={"status": "scheduled", "q": creator["user"]["username"], "limit": 100},
    ).get_json()["items"]
    assert target not in [item["scheduled_for"] for item in scheduled]
    assert len(scheduled) == len(flags) - 1


@pytest.mark.real_session
def test_concurrent_creates_never_pass_the_limit(app):
    api = ApiClient(app)
    creator = api.register()
    with app.app_context():
        db.session.execute(
            text(
                "INSERT INTO schedules (id, creator_id, kind, timezone, local_time, start_date,"
                " days_of_week) SELECT gen_random_uuid(), :creator, 'weekly', 'UTC',"
                " TIME '12:00', DATE '2020-01-01', ARRAY[1]::smallint[]"
                " FROM generate_series(1, 48) AS g"
            ),
            {"creator": creator["user"]["id"]},
        )
        db.session.commit()
    statuses = run_concurrently(
        app,
        8,
        lambda client, _: client.post(
            "/api/v1/me/schedules", json=weekly(), headers=api.auth(creator)
        ),
    )
    assert sorted(statuses) == [201, 201] + [409] * 6

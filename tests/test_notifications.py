"""Go-live notifications: the batched fan-out to followers, exactly once, and reading them."""

from __future__ import annotations

import uuid
from datetime import datetime

from rq import Queue
from rq.job import Job
from sqlalchemy import func, select, text

from mylivelinks.events.streams import NOTIFICATION, read_events, user_stream_key
from mylivelinks.extensions import db, get_redis
from mylivelinks.jobs import DEFAULT_QUEUE
from mylivelinks.jobs.enqueue import enqueue_follower_notifications
from mylivelinks.jobs.notifications import notify_followers
from mylivelinks.models import Follow, Notification, Stream
from mylivelinks.services.notifications.inbox import notify_followers_after_commit
from mylivelinks.transaction import run_after_commit
from tests.money import run_jobs


def go_live(api, session, **body) -> str:
    response = api.post("/api/v1/rooms/main/live", json=body, headers=api.auth(session))
    assert response.status_code == 201, response.get_json()
    return response.get_json()["stream"]["id"]


def follow(api, fan, star) -> None:
    path = f"/api/v1/profiles/{star['user']['username']}/follow"
    assert api.post(path, headers=api.auth(fan)).status_code == 200


def add_followers(app, star_id: str, count: int, prefix: str) -> None:
    """`count` new profiles following `star_id`, inserted in bulk."""
    with app.app_context():
        db.session.execute(
            text(
                "INSERT INTO profiles (id, username) SELECT gen_random_uuid(), :prefix || g"
                " FROM generate_series(1, :count) AS g"
            ),
            {"prefix": prefix, "count": count},
        )
        db.session.execute(
            text(
                "INSERT INTO follows (follower_id, followee_id) SELECT id, :star FROM profiles"
                " WHERE starts_with(username, :prefix)"
            ),
            {"prefix": prefix, "star": star_id},
        )
        db.session.commit()


def notified(app, stream_id: str) -> tuple[int, int]:
    """(notifications of the stream, distinct recipients)."""
    with app.app_context():
        return db.session.execute(
            select(func.count(), func.count(Notification.recipient_id.distinct())).where(
                Notification.stream_id == uuid.UUID(stream_id)
            )
        ).one()


def private_events(app, user_id) -> list:
    with app.app_context():
        return list(read_events(user_stream_key(user_id), "0-0", None))


def fan_out(app, stream_id: str) -> None:
    with app.app_context():
        enqueue_follower_notifications(stream_id)
    run_jobs(app)


def test_ten_thousand_followers_are_each_notified_exactly_once(api, app, main_room):
    star = api.register()
    add_followers(app, star["user"]["id"], 10_000, "fan10k_")
    stream_id = go_live(api, star, title="Hello")
    fan_out(app, stream_id)
    assert notified(app, stream_id) == (10_000, 10_000)
    with app.app_context():
        fans = db.session.scalars(
            select(Follow.follower_id).where(Follow.followee_id == uuid.UUID(star["user"]["id"]))
        ).all()
        pipe = get_redis().pipeline(transaction=False)
        for fan in fans:
            pipe.xlen(user_stream_key(fan))
        assert set(pipe.execute()) == {1}
    events = private_events(app, fans[0])
    assert [event.type for event in events] == [NOTIFICATION]
    data = events[0].data
    assert data["kind"] == "went_live" and data["read_at"] is None
    assert data["data"]["stream_id"] == stream_id and data["data"]["room"] == "main"
    assert data["data"]["streamer"]["username"] == star["user"]["username"]
    assert data["data"]["box"] == 1 and data["data"]["title"] == "Hello"

    # The whole job chain again, then one batch from the middle again: nothing new.
    fan_out(app, stream_id)
    with app.app_context():
        middle = db.session.execute(
            select(Follow.created_at, Follow.follower_id)
            .where(Follow.followee_id == uuid.UUID(star["user"]["id"]))
            .order_by(Follow.created_at, Follow.follower_id)
            .offset(4_321)
            .limit(1)
        ).one()
        assert notify_followers(stream_id, [middle[0].isoformat(), str(middle[1])]) == 0
        pipe = get_redis().pipeline(transaction=False)
        for fan in fans:
            pipe.xlen(user_stream_key(fan))
        assert set(pipe.execute()) == {1}
    assert notified(app, stream_id) == (10_000, 10_000)


def test_the_fan_out_runs_one_job_per_batch(api, app, main_room, monkeypatch):
    monkeypatch.setitem(app.config, "NOTIFICATION_BATCH_SIZE", 3)
    star, outsider = api.register(), api.register()
    add_followers(app, star["user"]["id"], 7, "fan7_")
    stream_id = go_live(api, star)
    fan_out(app, stream_id)
    with app.app_context():
        queue = Queue(DEFAULT_QUEUE, connection=get_redis())
        finished = Job.fetch_many(queue.finished_job_registry.get_job_ids(), get_redis())
        batches = sorted(
            (job for job in finished if job.func_name.endswith("notify_followers")),
            key=lambda job: job.enqueued_at,
        )
        results = [job.return_value() for job in batches]
    assert results == [3, 3, 1]
    assert notified(app, stream_id) == (7, 7)
    assert private_events(app, outsider["user"]["id"]) == []


def test_going_live_enqueues_the_fan_out_only_once_committed(api, app, main_room):
    star, fan, loner = api.register(), api.register(), api.register()
    follow(api, fan, star)
    stream_id, lonely_id = go_live(api, star), go_live(api, loner)
    with app.app_context():
        queue = Queue(DEFAULT_QUEUE, connection=get_redis())
        queue.empty()
        notify_followers_after_commit(db.session.get(Stream, uuid.UUID(lonely_id)))
        run_after_commit()
        assert queue.count == 0  # no followers, no job
        notify_followers_after_commit(db.session.get(Stream, uuid.UUID(stream_id)))
        assert queue.count == 0
        db.session.commit()
        run_after_commit()
        assert queue.count == 1
    run_jobs(app)
    assert [event.type for event in private_events(app, fan["user"]["id"])] == [NOTIFICATION]
    assert NOTIFICATION not in [event.type for event in private_events(app, star["user"]["id"])]


def test_a_stream_that_ended_before_the_job_notifies_nobody(api, app, main_room):
    star, fan = api.register(), api.register()
    follow(api, fan, star)
    stream_id = go_live(api, star)
    assert api.delete("/api/v1/rooms/main/live", headers=api.auth(star)).status_code == 200
    fan_out(app, stream_id)
    assert notified(app, stream_id) == (0, 0)
    assert private_events(app, fan["user"]["id"]) == []


# --- reading and marking read ---------------------------------------------------------


def notifications_of(api, session, **query):
    response = api.get("/api/v1/me/notifications", query_string=query, headers=api.auth(session))
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def mark_read(api, session, **body):
    return api.post("/api/v1/me/notifications/read", json=body, headers=api.auth(session))


def live_then_end(api, app, star) -> str:
    stream_id = go_live(api, star)
    fan_out(app, stream_id)
    api.delete("/api/v1/rooms/main/live", headers=api.auth(star))
    return stream_id


def test_notifications_list_newest_first_and_mark_read(api, app, main_room):
    fan, other = api.register(), api.register()
    stars = [api.register() for _ in range(3)]
    for star in stars:
        follow(api, fan, star)
        follow(api, other, star)
    streams = [live_then_end(api, app, star) for star in stars]
    first = notifications_of(api, fan, limit=2)
    assert first["unread_count"] == 3 and first["next_cursor"]
    rest = notifications_of(api, fan, limit=2, cursor=first["next_cursor"])
    items = first["items"] + rest["items"]
    assert rest["next_cursor"] is None
    assert [item["data"]["stream_id"] for item in items] == list(reversed(streams))
    assert all(item["kind"] == "went_live" and item["read_at"] is None for item in items)

    marked = mark_read(api, fan, ids=[items[0]["id"]])
    assert marked.get_json() == {"marked": 1, "unread_count": 2}
    theirs = notifications_of(api, other)["items"][0]["id"]
    assert mark_read(api, fan, ids=[theirs]).get_json() == {"marked": 0, "unread_count": 2}
    created = datetime.fromisoformat(items[2]["created_at"])  # the oldest
    assert mark_read(api, fan, up_to=created.isoformat()).get_json() == {
        "marked": 1,
        "unread_count": 1,
    }
    after = notifications_of(api, fan)
    assert [item["read_at"] is not None for item in after["items"]] == [True, False, True]
    assert notifications_of(api, other)["unread_count"] == 3


def test_notification_requests_are_checked(api):
    fan = api.register()
    assert api.get("/api/v1/me/notifications").status_code == 401
    assert api.post("/api/v1/me/notifications/read", json={"ids": []}).status_code == 401
    for body in ({}, {"ids": [str(uuid.uuid4())], "up_to": "2027-01-01T00:00:00Z"}, {"ids": []}):
        response = mark_read(api, fan, **body)
        assert response.status_code == 422, body
    naive = mark_read(api, fan, up_to="2027-01-01T00:00:00")
    assert naive.status_code == 422
    assert notifications_of(api, fan) == {"items": [], "next_cursor": None, "unread_count": 0}


def test_going_live_notifies_followers_and_starts_the_scheduled_occurrence(api, app, main_room):
    from datetime import UTC, timedelta

    star, fan = api.register(), api.register()
    follow(api, fan, star)
    soon = datetime.now(UTC) + timedelta(minutes=10)
    schedule = api.post(
        "/api/v1/me/schedules",
        json={
            "kind": "once",
            "date": soon.date().isoformat(),
            "local_time": soon.strftime("%H:%M"),
            "timezone": "UTC",
            "title": "Soon",
        },
        headers=api.auth(star),
    )
    assert schedule.status_code == 201, schedule.get_json()
    stream_id = go_live(api, star)
    run_jobs(app)

    pushed = private_events(app, fan["user"]["id"])
    assert [event.type for event in pushed] == [NOTIFICATION]
    assert pushed[0].data["data"]["stream_id"] == stream_id
    listed = api.get("/api/v1/me/notifications", headers=api.auth(fan)).get_json()
    assert [n["kind"] for n in listed["items"]] == ["went_live"]
    upcoming = api.get("/api/v1/schedules/upcoming", query_string={"limit": 100}).get_json()
    (mine,) = [o for o in upcoming["items"] if o["schedule_id"] == schedule.get_json()["id"]]
    assert mine["started"] is True and mine["live"] is True and mine["stream_id"] == stream_id


def test_a_streamer_seated_from_the_queue_gets_a_stored_notification_of_the_same_shape(
    api, app, main_room
):
    seated_ones = [api.register() for _ in range(12)]
    for streamer in seated_ones:
        go_live(api, streamer)
    waiting, star, fan = api.register(), api.register(), api.register()
    queued = api.post("/api/v1/rooms/main/live", json={}, headers=api.auth(waiting))
    assert queued.get_json()["queued"] is True
    api.delete("/api/v1/rooms/main/live", headers=api.auth(seated_ones[4]))
    (seated,) = [e for e in private_events(app, waiting["user"]["id"]) if e.type == NOTIFICATION]

    listed = api.get("/api/v1/me/notifications", headers=api.auth(waiting)).get_json()
    (stored,) = listed["items"]
    assert stored["kind"] == "seated" and stored["read_at"] is None
    assert stored["data"] == {
        "room": "main",
        "position": 5,
        "stream_id": stored["data"]["stream_id"],
    }
    credentials = seated.data["data"].pop("credentials")
    assert seated.data == stored
    assert (credentials["role"], credentials["room"]) == ("publisher", "main")

    # A went_live notification reads the same: {id, kind, data, created_at, read_at}.
    api.delete("/api/v1/rooms/main/live", headers=api.auth(seated_ones[0]))
    follow(api, fan, star)
    go_live(api, star)
    run_jobs(app)
    (went_live,) = [e for e in private_events(app, fan["user"]["id"]) if e.type == NOTIFICATION]
    assert (
        set(went_live.data) == set(seated.data) == {"id", "kind", "data", "created_at", "read_at"}
    )

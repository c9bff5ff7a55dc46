"""One event vocabulary: the same fact reads the same whoever causes it."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from mylivelinks.events.streams import read_events, room_stream_key, user_stream_key
from mylivelinks.jobs.publishing import sweep_rooms
from tests.money import run_jobs

ROOM = "/api/v1/rooms/main"


def _room_events(app, *types: str):
    with app.app_context():
        return [e for e in read_events(room_stream_key("main"), "0-0", None) if e.type in types]


def test_a_viewer_who_times_out_leaves_like_one_who_closes_the_box(api, app, main_room):
    streamer, closer, silent = api.register(), api.register(), api.register()
    stream_id = api.post(f"{ROOM}/live", json={"position": 2}, headers=api.auth(streamer))
    stream_id = stream_id.get_json()["stream"]["id"]
    for viewer in (closer, silent):
        assert api.post(f"{ROOM}/boxes/2/viewers", headers=api.auth(viewer)).status_code == 200
    api.delete(f"{ROOM}/boxes/2/viewers", headers=api.auth(closer))
    closed = _room_events(app, "viewer:left", "viewer:count")
    with app.app_context():
        later = datetime.now(UTC) + timedelta(seconds=app.config["VIEWER_TIMEOUT_SECONDS"] + 5)
        assert sweep_rooms(now=later)["stale_viewers"] == 1
    swept = _room_events(app, "viewer:left", "viewer:count")[len(closed) :]
    assert [(e.type, e.data) for e in closed[-2:]] == [
        ("viewer:left", {"position": 2, "stream_id": stream_id, "viewer_id": closer["user"]["id"]}),
        ("viewer:count", {"position": 2, "stream_id": stream_id, "viewer_count": 1}),
    ]
    assert [(e.type, e.data) for e in swept] == [
        ("viewer:left", {"position": 2, "stream_id": stream_id, "viewer_id": silent["user"]["id"]}),
        ("viewer:count", {"position": 2, "stream_id": stream_id, "viewer_count": 0}),
    ]
    joined = _room_events(app, "viewer:joined")
    assert set(joined[0].data) == {"position", "stream_id", "viewer_id"}


RFC_3339 = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")


def test_credentials_in_events_carry_rfc_3339_timestamps_like_rest(api, app, main_room):
    streamer, viewer = api.register(), api.register()
    went_live = api.post(f"{ROOM}/live", json={}, headers=api.auth(streamer)).get_json()
    assert RFC_3339.match(went_live["credentials"]["expires_at"])
    api.post(f"{ROOM}/boxes/1/viewers", headers=api.auth(viewer))
    run_jobs(app)
    with app.app_context():
        private = read_events(user_stream_key(streamer["user"]["id"]), "0-0", None)
    (start,) = [e for e in private if e.type == "publish:start"]
    assert RFC_3339.match(start.data["credentials"]["expires_at"]), start.data

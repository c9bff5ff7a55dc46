"""One event vocabulary: the same fact reads the same whoever causes it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from mylivelinks.events.streams import read_events, room_stream_key
from mylivelinks.jobs.publishing import sweep_rooms

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

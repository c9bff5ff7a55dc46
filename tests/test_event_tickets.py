"""Event streams for browsers: logged-out visitors, guests, single-use event tickets."""

from __future__ import annotations

import json
import time
import uuid
from urllib.parse import parse_qs, urlsplit

import pytest

from mylivelinks.events import streams
from mylivelinks.events.listeners import listeners
from mylivelinks.events.streams import publish_user_event
from tests import test_sse
from tests.helpers import staff
from tests.test_sse import publish

# The real HTTP server and streaming client of the SSE tests.
server, clients, connect, room = test_sse.server, test_sse.clients, test_sse.connect, test_sse.room

TICKETS = "/api/v1/events/tickets"

pytestmark = pytest.mark.real_session


def ticket_for(api, session, room_slug: str | None = None) -> dict:
    """A fresh event ticket of `session` (for a room's events, or the private stream)."""
    body = {} if room_slug is None else {"room": room_slug}
    response = api.post(TICKETS, json=body, headers=api.auth(session))
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def open_url(connect, url: str, **query: str):
    """Open a ticket's URL (it starts with the API prefix the client adds itself)."""
    parts = urlsplit(url)
    params = {name: values[0] for name, values in parse_qs(parts.query).items()}
    return connect(parts.path.removeprefix("/api/v1"), **params, **query)


def guest(api) -> dict:
    return api.post("/api/v1/auth/guest").get_json()


def allow_guests(api, app, slug: str, allowed: bool) -> None:
    moderator = staff(api, app, "moderator")
    response = api.patch(
        f"/api/v1/rooms/{slug}/settings",
        json={"anonymous_viewing": allowed},
        headers=api.auth(moderator),
    )
    assert response.status_code == 200


def test_a_logged_out_visitor_follows_a_room_without_any_token(app, connect, room):
    visitor = connect(f"/rooms/{room}/events")
    assert visitor.response.status == 200
    visitor.start_id()
    event_id = publish(app, room, streams.CHAT_MESSAGE, {"body": "hello"})
    assert visitor.event() == {"id": event_id, "event": "chat:message", "data": {"body": "hello"}}
    with app.app_context():
        assert not [key for key in listeners().viewers if key[1] == room]


def test_a_guest_listens_only_where_guests_may_watch(app, api, connect, room):
    visitor = guest(api)
    refused = connect(f"/rooms/{room}/events", access_token=visitor["access_token"])
    assert refused.response.status == 403
    assert json.loads(refused.response.read())["code"] == 403
    assert api.post(TICKETS, json={"room": room}, headers=api.auth(visitor)).status_code == 403

    allow_guests(api, app, room, True)
    allowed = connect(f"/rooms/{room}/events", access_token=visitor["access_token"])
    assert allowed.response.status == 200
    by_ticket = open_url(connect, ticket_for(api, visitor, room)["url"])
    assert by_ticket.response.status == 200


def test_a_room_ticket_opens_that_room_once_and_keeps_its_holder_present(app, api, connect, room):
    session = api.register()
    issued = ticket_for(api, session, room)
    assert issued["url"].startswith(f"/api/v1/rooms/{room}/events?ticket=")
    assert session["access_token"] not in issued["url"]
    client = open_url(connect, issued["url"])
    assert client.response.status == 200
    client.start_id()
    with app.app_context():
        holder = (uuid.UUID(session["user"]["id"]), room)
        assert listeners().viewers.get(holder) == 1
    event_id = publish(app, room, streams.BOX_CLAIMED, {"position": 2})
    assert client.event()["id"] == event_id

    again = open_url(connect, issued["url"])
    assert again.response.status == 401
    assert again.response.getheader("WWW-Authenticate", "").startswith("Bearer")
    assert "already used" in json.loads(again.response.read())["message"]


def test_a_ticket_opens_only_the_stream_it_was_issued_for(app, api, connect, room):
    session = api.register()
    for_room = ticket_for(api, session, room)["ticket"]
    assert connect("/me/events", ticket=for_room).response.status == 401
    assert connect(f"/rooms/{room}/events", ticket=for_room).response.status == 401  # spent
    private = ticket_for(api, session)
    assert private["url"].startswith("/api/v1/me/events?ticket=")
    assert connect(f"/rooms/{room}/events", ticket=private["ticket"]).response.status == 401
    assert connect(f"/rooms/{room}/events", ticket="made-up").response.status == 401
    assert api.post(TICKETS, json={"room": "nowhere"}, headers=api.auth(session)).status_code == 404
    assert api.post(TICKETS, json={}).status_code == 401


def test_a_private_ticket_streams_its_holders_events(app, api, connect):
    session = api.register()
    client = open_url(connect, ticket_for(api, session)["url"])
    assert client.response.status == 200
    client.start_id()
    with app.app_context():
        event_id = publish_user_event(session["user"]["id"], streams.COINS_CREDITED, {"coins": 5})
    assert client.event() == {"id": event_id, "event": "coins:credited", "data": {"coins": 5}}


def test_an_expired_ticket_is_401(app, api, connect, room, monkeypatch):
    monkeypatch.setitem(app.config, "EVENT_TICKET_TTL_SECONDS", 1)
    issued = ticket_for(api, api.register(), room)
    time.sleep(1.5)
    assert open_url(connect, issued["url"]).response.status == 401


def test_a_new_ticket_with_last_event_id_resumes_exactly_where_the_last_one_stopped(
    app, api, connect, room
):
    session = api.register()
    first = open_url(connect, ticket_for(api, session, room)["url"])
    first.start_id()
    seen = publish(app, room, streams.CHAT_MESSAGE, {"n": 1})
    assert first.event()["id"] == seen
    first.close()
    missed = [publish(app, room, streams.CHAT_MESSAGE, {"n": n}) for n in (2, 3)]
    resumed = open_url(connect, ticket_for(api, session, room)["url"], last_event_id=seen)
    assert resumed.start_id() == seen
    assert [resumed.event()["id"] for _ in missed] == missed

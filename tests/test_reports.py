"""Reports: filed by users (duplicates merged), queued for moderators, resolved with an
outcome that lands in the audit trail."""

from __future__ import annotations

import uuid

import pytest

from tests.helpers import run_concurrently, staff

REPORTS = "/api/v1/reports"


def say(api, session, body):
    response = api.post("/api/v1/rooms/main/chat", json={"body": body}, headers=api.auth(session))
    assert response.status_code == 201
    return response.get_json()["id"]


def file(api, session, target_type, target_id, reason="rude"):
    return api.post(
        REPORTS,
        json={"target_type": target_type, "target_id": target_id, "reason": reason},
        headers=api.auth(session),
    )


def queue(api, session, **query):
    response = api.get(REPORTS, query_string=query, headers=api.auth(session))
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def test_moderators_see_open_reports_oldest_first_with_what_they_are_about(
    api, main_room, moderator
):
    first, second, author = api.register(), api.register(), api.register()
    message = say(api, author, "you are all losers")
    about_message = file(api, first, "message", message).get_json()
    about_user = file(api, second, "user", author["user"]["id"], "spam").get_json()

    listed = queue(api, moderator)
    assert [r["id"] for r in listed["items"]] == [about_message["id"], about_user["id"]]
    shown = listed["items"][0]
    assert shown["reporter"]["username"] == first["user"]["username"]
    assert shown["message"]["body"] == "you are all losers"
    assert shown["message"]["author"]["username"] == author["user"]["username"]
    assert (shown["message"]["room"], shown["message"]["deleted"], shown["user"]) == (
        "main",
        False,
        None,
    )
    assert listed["items"][1]["user"]["username"] == author["user"]["username"]
    assert listed["items"][1]["message"] is None
    page = queue(api, moderator, limit=1)
    assert len(page["items"]) == 1 and page["next_cursor"]
    rest = queue(api, moderator, limit=1, cursor=page["next_cursor"])
    assert [r["id"] for r in rest["items"]] == [about_user["id"]]

    assert api.get(REPORTS, headers=api.auth(first)).status_code == 403
    assert api.get(REPORTS).status_code == 401
    assert (
        api.get(REPORTS, query_string={"status": "maybe"}, headers=api.auth(moderator)).status_code
        == 422
    )


def test_the_same_reporter_reporting_the_same_target_again_gets_the_same_report(
    api, main_room, moderator
):
    reporter, other, author = api.register(), api.register(), api.register()
    message = say(api, author, "spam spam")
    filed = file(api, reporter, "message", message)
    again = file(api, reporter, "message", message, "really rude")
    assert (filed.status_code, again.status_code) == (201, 200)
    assert again.get_json()["id"] == filed.get_json()["id"]
    assert again.get_json()["reason"] == "rude"
    assert file(api, other, "message", message).status_code == 201
    assert len(queue(api, moderator)["items"]) == 2


def test_resolving_a_report_records_its_outcome_in_the_audit_trail(api, app, main_room, moderator):
    admin = staff(api, app, "admin")
    reporter, author = api.register(), api.register()
    message = say(api, author, "rude words")
    report_id = file(api, reporter, "message", message).get_json()["id"]
    resolve = f"{REPORTS}/{report_id}/resolve"

    assert (
        api.post(resolve, json={"outcome": "maybe"}, headers=api.auth(moderator)).status_code == 422
    )
    assert (
        api.post(resolve, json={"outcome": "actioned"}, headers=api.auth(reporter)).status_code
        == 403
    )
    done = api.post(
        resolve, json={"outcome": "actioned", "note": "timed out"}, headers=api.auth(moderator)
    )
    assert done.status_code == 200
    body = done.get_json()
    assert (body["status"], body["outcome"], body["resolution_note"]) == (
        "resolved",
        "actioned",
        "timed out",
    )
    assert body["resolved_by"] == moderator["user"]["id"] and body["resolved_at"]
    twice = api.post(resolve, json={"outcome": "dismissed"}, headers=api.auth(moderator))
    assert twice.status_code == 409
    missing = f"{REPORTS}/{uuid.uuid4()}/resolve"
    assert (
        api.post(missing, json={"outcome": "dismissed"}, headers=api.auth(moderator)).status_code
        == 404
    )

    assert queue(api, moderator)["items"] == []
    assert [r["id"] for r in queue(api, moderator, status="resolved")["items"]] == [report_id]
    trail = api.get("/api/v1/admin/moderation-actions", headers=api.auth(admin)).get_json()
    (entry,) = [a for a in trail["items"] if a["action"] == "resolve_report"]
    assert entry["moderator"] == moderator["user"]["username"]
    assert (entry["room"], entry["target"]) == ("main", author["user"]["username"])
    assert entry["details"]["outcome"] == "actioned" and entry["details"]["report_id"] == report_id
    # Resolved: a new report of the same target is a new one.
    assert file(api, reporter, "message", message).status_code == 201


@pytest.mark.real_session
def test_concurrent_identical_reports_are_one(api, app, main_room, moderator):
    reporter, author = api.register(), api.register()
    message = say(api, author, "spam")
    body = {"target_type": "message", "target_id": message, "reason": "spam"}
    statuses = run_concurrently(
        app, 6, lambda client, _: client.post(REPORTS, json=body, headers=api.auth(reporter))
    )
    assert sorted(statuses) == [200] * 5 + [201]
    assert len(queue(api, moderator)["items"]) == 1

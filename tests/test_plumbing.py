"""Error envelope, health, readiness, metrics, request ids, CORS."""

from __future__ import annotations

import io
import json
import logging

import pytest
from flask import Blueprint

from mylivelinks import create_app
from tests.conftest import make_config


def assert_envelope(response, code: int) -> dict:
    body = response.get_json()
    assert response.status_code == code
    assert body["code"] == code
    assert isinstance(body["status"], str) and body["status"]
    assert isinstance(body["message"], str) and body["message"]
    return body


def test_unknown_path_is_404_envelope(api):
    assert_envelope(api.get("/api/v1/does-not-exist"), 404)


def test_wrong_method_is_405_envelope_with_allow(api):
    response = api.delete("/api/v1/auth/register")
    assert_envelope(response, 405)
    assert "POST" in response.headers["Allow"]


def test_malformed_json_is_400_envelope(api):
    body = assert_envelope(
        api.post("/api/v1/auth/login", data="{", content_type="application/json"), 400
    )
    assert "errors" not in body


def test_unhandled_exception_is_500_envelope_and_logged(server_urls, caplog):
    app = create_app(make_config(server_urls))
    broken = Blueprint("broken", __name__)

    @broken.get("/boom")
    def boom():
        raise RuntimeError("kaput")

    app.register_blueprint(broken)
    with caplog.at_level(logging.ERROR):
        response = app.test_client().get("/boom")
    body = assert_envelope(response, 500)
    assert "kaput" not in body["message"]
    assert any("unhandled exception" in record.getMessage() for record in caplog.records)


def test_healthz(api):
    assert api.get("/healthz").get_json() == {"status": "ok"}


def test_readyz_checks_postgres_and_redis(api):
    response = api.get("/readyz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok", "checks": {"postgres": "ok", "redis": "ok"}}


@pytest.mark.real_session  # the rolled-back test session would hide the broken database URL
@pytest.mark.parametrize(
    ("override", "down"),
    [
        ({"REDIS_URL": "unix:///nonexistent/redis.sock"}, "redis"),
        ({"DATABASE_URL": "postgresql://nobody@/nowhere?host=/nonexistent"}, "postgres"),
    ],
)
def test_readyz_is_503_when_a_dependency_is_down(server_urls, override, down):
    broken = create_app(make_config({**server_urls, **override}))
    response = broken.test_client().get("/readyz")
    assert response.status_code == 503
    body = assert_envelope(response, 503)
    assert down in body["message"]
    assert body["checks"][down].startswith("error")
    up = ({"postgres", "redis"} - {down}).pop()
    assert body["checks"][up] == "ok"
    assert broken.test_client().get("/metrics").status_code == 200


def test_metrics_count_requests(api):
    api.get("/healthz")
    text = api.get("/metrics").get_data(as_text=True)
    assert 'mylivelinks_http_requests_total{endpoint="/healthz",method="GET",status="200"}' in text
    assert "mylivelinks_http_request_duration_seconds_bucket" in text


def test_request_id_is_echoed_or_generated(api):
    assert api.get("/healthz", headers={"X-Request-ID": "abc-123"}).headers["X-Request-ID"] == (
        "abc-123"
    )
    generated = api.get("/healthz", headers={"X-Request-ID": "bad id; with spaces"})
    assert generated.headers["X-Request-ID"] != "bad id; with spaces"
    assert len(generated.headers["X-Request-ID"]) == 32


def test_logs_are_json_with_the_request_id(api):
    handler = next(h for h in logging.getLogger().handlers if h.get_name() == "mylivelinks-json")
    stream = io.StringIO()
    previous = handler.setStream(stream)
    try:
        api.get("/healthz", headers={"X-Request-ID": "trace-me-42"})
    finally:
        handler.setStream(previous)
    lines = [line for line in stream.getvalue().splitlines() if "trace-me-42" in line]
    assert lines, "no log line carried the request id"
    record = json.loads(lines[-1])
    assert record["request_id"] == "trace-me-42"
    assert record["path"] == "/healthz" and record["status"] == 200


def test_cors_allows_only_configured_origins(server_urls):
    app = create_app(make_config(server_urls, CORS_ORIGINS="https://app.example.com"))
    client = app.test_client()
    allowed = client.get("/healthz", headers={"Origin": "https://app.example.com"})
    assert allowed.headers["Access-Control-Allow-Origin"] == "https://app.example.com"
    assert "X-Request-ID" in allowed.headers["Access-Control-Expose-Headers"]
    other = client.get("/healthz", headers={"Origin": "https://evil.example.com"})
    assert "Access-Control-Allow-Origin" not in other.headers


def test_after_commit_hooks_run_only_when_the_request_committed(server_urls):
    from mylivelinks.transaction import after_commit

    app = create_app(make_config(server_urls))
    ran: list[str] = []
    probe = Blueprint("probe", __name__)

    @probe.post("/ok")
    def succeed():
        after_commit(lambda: ran.append("ok"))
        return {"done": True}

    @probe.post("/fail")
    def fail():
        after_commit(lambda: ran.append("fail"))
        return {"code": 409, "status": "Conflict", "message": "no"}, 409

    @probe.post("/hook-raises")
    def hook_raises():
        after_commit(lambda: 1 / 0)
        after_commit(lambda: ran.append("after the broken hook"))
        return {"done": True}

    app.register_blueprint(probe)
    client = app.test_client()
    assert client.post("/ok").status_code == 200
    assert client.post("/fail").status_code == 409
    assert client.post("/hook-raises").status_code == 200
    assert ran == ["ok", "after the broken hook"]


@pytest.mark.real_session  # statements that commit as they run need a real transaction
def test_statements_that_commit_as_they_run_keep_their_writes_and_hooks(server_urls):
    from sqlalchemy import select

    from mylivelinks.extensions import db
    from mylivelinks.models.rooms import Room
    from mylivelinks.transaction import after_commit, commit_each_statement

    app = create_app(make_config(server_urls))
    ran: list[str] = []
    probe = Blueprint("probe", __name__)

    def write_then_fail(slug: str):
        db.session.add(Room(slug=slug, name=slug, kind="solo", box_count=1))
        db.session.flush()
        after_commit(lambda: ran.append(slug))
        return {"code": 409, "status": "Conflict", "message": "after the write"}, 409

    @probe.post("/each")
    def each():
        commit_each_statement()
        return write_then_fail("each")

    @probe.post("/together")
    def together():
        return write_then_fail("together")

    app.register_blueprint(probe)
    client = app.test_client()
    assert client.post("/each").status_code == 409
    assert client.post("/together").status_code == 409
    with app.app_context():
        written = select(Room.slug).where(Room.slug.in_(["each", "together"]))
        slugs = set(db.session.scalars(written))
    # The failure came after the statement had committed: the write and its hook stand.
    assert slugs == {"each"}
    assert ran == ["each"]

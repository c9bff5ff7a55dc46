"""A request with an Idempotency-Key killed before it committed."""

from __future__ import annotations

import contextlib
import signal
import threading
import uuid

import pytest
from sqlalchemy import text

from tests.processes import CONNECTION_ERRORS, Reply, wait_until

RETRY_BOUND = 10

# The stack's own database: the suite's per-test rolled-back session must stay out.
pytestmark = pytest.mark.real_session


def test_a_gift_killed_before_commit_is_booked_by_its_retry_within_seconds(stack, scene):
    from mylivelinks.extensions import db
    from mylivelinks.services.accounts.users import set_role

    fan, admin, streamer = stack.register(), stack.register(), stack.register()
    with stack.context():
        set_role(admin["user"]["username"], "admin")
        db.session.commit()
    grant = {"username": fan["user"]["username"], "coins": 1000, "reason": "fault test"}
    assert stack.call("POST", "/admin/adjustments", admin, grant).status == 201
    gift = min(stack.call("GET", "/gifts").body["items"], key=lambda g: g["coin_cost"])
    body = {"gift_type_id": gift["id"], "recipient": streamer["user"]["username"]}
    key = {"Idempotency-Key": str(uuid.uuid4())}

    def send() -> Reply:
        return stack.call("POST", "/gifts", fan, body, headers=dict(key), timeout=30)

    with stack.context():
        engine = db.engine
    with engine.connect() as holder:
        # The fan's wallet row locked elsewhere: the gift waits inside its transaction...
        holder.execute(
            text("SELECT 1 FROM ledger_accounts WHERE owner_id = :fan FOR UPDATE"),
            {"fan": fan["user"]["id"]},
        )
        first = threading.Thread(target=lambda: _ignore_errors(send), daemon=True)
        first.start()
        wait_until(lambda: _waiting_on_a_lock(holder), 10, "the gift waiting on the row lock")
        # ... when its process is killed.
        stack.web_worker().send_signal(signal.SIGKILL)
        holder.rollback()
    first.join(35)

    outcomes: list[int] = []

    def booked() -> bool:
        response = send()
        outcomes.append(response.status)
        return response.status == 201

    took = wait_until(booked, RETRY_BOUND, f"the retry booked ({_lock_note(stack, fan, key)})")
    print(f"\nrequest killed before commit: the retry booked it after {took:.1f} s")
    assert set(outcomes) <= {201, 409, 502, 503}
    replay = send()
    assert replay.status == 201
    assert replay.headers["idempotent-replayed"] == "true"
    wallet = stack.call("GET", "/me/wallet", fan).body
    assert wallet["coin_balance"] == 1000 - gift["coin_cost"]  # booked exactly once


def _ignore_errors(send) -> None:
    with contextlib.suppress(*CONNECTION_ERRORS):  # its process was killed
        send()


def _waiting_on_a_lock(holder) -> bool:
    waiting = holder.execute(
        text(
            "SELECT count(*) FROM pg_stat_activity "
            "WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
    ).scalar()
    return bool(waiting)


def _lock_note(stack, fan: dict, key: dict) -> str:
    """What the code before the fix left: its Redis lock's remaining time, if any."""
    pttl = stack.redis.pttl(f"idempotency:{fan['user']['id']}:{key['Idempotency-Key']}")
    return f"Redis in-progress lock PTTL {pttl} ms" if pttl > 0 else "no Redis lock"

"""Uniqueness and token rotation hold under real concurrent connections."""

from __future__ import annotations

from collections import Counter

import pytest
from sqlalchemy import func, select

from mylivelinks.extensions import db
from mylivelinks.models import Profile
from tests.helpers import run_concurrently

pytestmark = pytest.mark.real_session


def test_exactly_one_of_20_concurrent_registrations_of_a_name_succeeds(app):
    def register(client, index):
        return client.post(
            "/api/v1/auth/register",
            json={
                "username": "racer",
                "email": f"racer{index}@example.com",
                "password": "password1",
            },
            environ_base={"REMOTE_ADDR": f"10.0.1.{index}"},  # under the address's limit
        )

    statuses = run_concurrently(app, 20, register)
    assert Counter(statuses) == {201: 1, 409: 19}
    with app.app_context():
        count = db.session.scalar(
            select(func.count()).select_from(Profile).where(Profile.username == "racer")
        )
    assert count == 1


def test_a_refresh_token_is_spent_once_under_concurrency(app):
    client = app.test_client()
    session = client.post(
        "/api/v1/auth/register",
        json={"username": "spender", "email": "spender@example.com", "password": "password1"},
    ).get_json()

    def refresh(client, index):
        return client.post("/api/v1/auth/refresh", json={"refresh_token": session["refresh_token"]})

    statuses = run_concurrently(app, 10, refresh)
    assert Counter(statuses) == {200: 1, 401: 9}

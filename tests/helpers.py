"""Helpers shared by the tests."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from threading import Barrier

from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

_counter = itertools.count(1)
# 10.x.y.z, one per registration
_addresses = (f"10.{n >> 16 & 255}.{n >> 8 & 255}.{n & 255}" for n in itertools.count(1))


def unique_username(prefix: str = "user") -> str:
    """A fresh valid username."""
    return f"{prefix}_{next(_counter)}"


class ApiClient:
    """The Flask test client plus shortcuts for accounts and bearer headers."""

    def __init__(self, app: Flask):
        self.app = app
        self.client = app.test_client()

    def __getattr__(self, name):
        return getattr(self.client, name)

    @staticmethod
    def bearer(token: str) -> dict[str, str]:
        """Authorization header for `token`."""
        return {"Authorization": f"Bearer {token}"}

    def register(self, username: str | None = None, password: str = "correct horse") -> dict:
        """Register an account from an address of its own (registrations are rate-limited
        per address); returns the 201 body plus the password used."""
        username = username or unique_username()
        response = self.client.post(
            "/api/v1/auth/register",
            json={"username": username, "email": f"{username}@example.com", "password": password},
            environ_base={"REMOTE_ADDR": next(_addresses)},
        )
        assert response.status_code == 201, response.get_json()
        return {**response.get_json(), "password": password}

    def auth(self, session: dict) -> dict[str, str]:
        """Authorization header of a registered session."""
        return self.bearer(session["access_token"])


def run_concurrently(
    app: Flask, calls: int, request: Callable[[FlaskClient, int], TestResponse]
) -> list[int]:
    """Start `calls` requests at once, each on its own thread, client and DB connection."""
    barrier = Barrier(calls)

    def one(index: int) -> int:
        client = app.test_client()
        barrier.wait()
        return request(client, index).status_code

    with ThreadPoolExecutor(max_workers=calls) as pool:
        return list(pool.map(one, range(calls)))


def staff(api: ApiClient, app: Flask, role: str) -> dict:
    """Register someone and give them `role` (moderator or admin); their session."""
    from mylivelinks.extensions import db
    from mylivelinks.services.accounts.users import set_role

    session = api.register()
    with app.app_context():
        set_role(session["user"]["username"], role)
        db.session.commit()
    return session

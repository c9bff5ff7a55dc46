"""Pooled connections are tested on checkout only after sitting idle (real PostgreSQL)."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import NullPool

from mylivelinks import create_app
from mylivelinks.connection_checks import ping_after_idle
from mylivelinks.extensions import db
from tests.conftest import make_config


@pytest.fixture
def database_url(app) -> str:
    return app.config["SQLALCHEMY_DATABASE_URI"]


def _pooled_engine(url: str, idle_seconds: float):
    engine = create_engine(url, pool_size=1, max_overflow=0)
    ping_after_idle(engine, idle_seconds)
    return engine


def _backend_pid(engine) -> int:
    with engine.connect() as connection:
        return connection.scalar(text("SELECT pg_backend_pid()"))


def _kill_backend(url: str, pid: int) -> None:
    killer = create_engine(url, poolclass=NullPool)
    with killer.connect() as connection:
        # With a timeout, PostgreSQL waits until the backend has exited.
        gone = connection.scalar(text("SELECT pg_terminate_backend(:pid, 10000)"), {"pid": pid})
        assert gone
    killer.dispose()
    time.sleep(0.3)  # and the pooled connection has been idle longer than 0.2 s


@pytest.mark.parametrize("idle_seconds", [0, 0.2])
def test_a_connection_killed_while_idle_is_replaced_before_use(database_url, idle_seconds):
    engine = _pooled_engine(database_url, idle_seconds)
    first = _backend_pid(engine)
    _kill_backend(database_url, first)

    assert _backend_pid(engine) != first  # pinged, found dead, replaced: no error
    engine.dispose()


def test_a_connection_used_moments_ago_is_not_pinged(database_url):
    engine = _pooled_engine(database_url, idle_seconds=60)
    first = _backend_pid(engine)
    _kill_backend(database_url, first)

    # No ping within the window: the dead connection surfaces once, then the pool recovers.
    with pytest.raises(DBAPIError) as raised:
        _backend_pid(engine)
    assert raised.value.connection_invalidated
    assert _backend_pid(engine) != first
    engine.dispose()


def test_the_app_replaces_a_dead_pooled_connection(server_urls, database_url):
    one_connection = make_config(
        server_urls, DATABASE_POOL_SIZE="1", DATABASE_POOL_PING_IDLE_SECONDS="0"
    )
    app = create_app(one_connection)
    with app.app_context():
        engine = db.engine  # the session itself is this test's isolated one
    first = _backend_pid(engine)
    _kill_backend(database_url, first)

    assert _backend_pid(engine) != first
    engine.dispose()

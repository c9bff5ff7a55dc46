"""Pooled database connections are tested before use only after they sat idle.

SQLAlchemy's `pool_pre_ping` tests every checkout: one more round trip per transaction,
about a tenth of a gift's database work. A connection given back to the pool less than
`DATABASE_POOL_PING_IDLE_SECONDS` ago was working then, so it is used as it is; one idle
longer (the database may have restarted meanwhile) is pinged first and, when dead,
replaced before the request sees it (the pool's documented `DisconnectionError` hook).
A database that restarts within that window costs the first request on each stale
connection an error, after which SQLAlchemy refreshes the whole pool.
"""

from __future__ import annotations

import time

from flask import Flask
from sqlalchemy import event, exc
from sqlalchemy.engine import Engine

from mylivelinks.extensions import db

_RETURNED_AT = "returned_at"


def init_connection_checks(app: Flask) -> None:
    """Ping pooled connections idle for DATABASE_POOL_PING_IDLE_SECONDS or more on checkout."""
    with app.app_context():
        ping_after_idle(db.engine, app.config["DATABASE_POOL_PING_IDLE_SECONDS"])


def ping_after_idle(engine: Engine, idle_seconds: float) -> None:
    """Make `engine`'s pool test a connection on checkout once it has been idle that long."""

    @event.listens_for(engine, "checkin")
    def note_return(dbapi_connection, connection_record) -> None:
        connection_record.info[_RETURNED_AT] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def ping_if_idle(dbapi_connection, connection_record, connection_proxy) -> None:
        returned_at = connection_record.info.get(_RETURNED_AT)
        if returned_at is None or time.monotonic() - returned_at < idle_seconds:
            return  # new, or in use a moment ago
        try:
            engine.dialect.do_ping(dbapi_connection)
        except engine.dialect.loaded_dbapi.Error as error:
            raise exc.DisconnectionError(f"pooled connection is dead: {error}") from error

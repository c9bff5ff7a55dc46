"""Databases of their own, on the suite's PostgreSQL, for servers that must not share one.

A server whose cron sweeps and workers act on every stream in its database would act on
another server's streams too when both share one (with its own provider and its own
Redis presence), so such servers get a database of their own: `fresh_database` creates
it empty, `migrated_database` also builds it with the migrations and seeds the reference
data, and `drop_database` removes it.
"""

from __future__ import annotations

from pathlib import Path

import flask_migrate
from sqlalchemy import create_engine, make_url, text

from mylivelinks import create_app
from mylivelinks.extensions import db
from mylivelinks.seed import seed_reference_data
from tests.conftest import make_config

MIGRATIONS = Path(__file__).parent.parent / "migrations"


def _on_maintenance_database(server_url: str, statements: list[str]) -> None:
    admin_url = make_url(server_url).set(database="postgres")
    engine = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        for statement in statements:
            conn.execute(text(statement))
    engine.dispose()


def fresh_database(server_url: str, name: str) -> str:
    """An empty database `name` (dropped first if it exists) on `server_url`'s PostgreSQL;
    its URL."""
    _on_maintenance_database(
        server_url,
        [f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', f'CREATE DATABASE "{name}"'],
    )
    return make_url(server_url).set(database=name).render_as_string(hide_password=False)


def migrated_database(server_url: str, name: str, redis_url: str) -> str:
    """A fresh database `name` built by the migrations, with the reference data (room
    `main`, the gift catalog) committed; its URL."""
    url = fresh_database(server_url, name)
    app = create_app(make_config({"DATABASE_URL": url, "REDIS_URL": redis_url}))
    with app.app_context():
        flask_migrate.upgrade(directory=str(MIGRATIONS))
        list(seed_reference_data())
        db.session.commit()
        db.engine.dispose()
    return url


def drop_database(server_url: str, name: str) -> None:
    """Drop database `name` of `server_url`'s PostgreSQL, closing its connections."""
    _on_maintenance_database(server_url, [f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'])

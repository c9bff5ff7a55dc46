"""fetch_one runs Core statements on the driver, in the session's transaction, compiled once."""

from __future__ import annotations

import uuid
from typing import NamedTuple

import pytest
from sqlalchemy import String, bindparam, event, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.types import Uuid

from mylivelinks.driver_sql import _compiled, fetch_one
from mylivelinks.extensions import db
from mylivelinks.models import Profile

PROFILE_ID = bindparam("profile_id", type_=Uuid())


class Account(NamedTuple):
    username: str
    role: str


class Changed(NamedTuple):
    id: uuid.UUID


BY_ID = select(Profile.username, Profile.role).where(Profile.id == PROFILE_ID)
RENAME = (
    update(Profile)
    .where(Profile.id == PROFILE_ID)
    .values(display_name=bindparam("name", type_=String()))
    .returning(Profile.id)
)
TAKE_USERNAME = (
    update(Profile)
    .where(Profile.id == PROFILE_ID)
    .values(username=bindparam("username", type_=String()))
    .returning(Profile.id)
)


def test_a_core_statement_sees_the_sessions_own_writes_and_rolls_back_with_it(app):
    with app.app_context():
        profile = Profile(id=uuid.uuid4(), username="driver_fan", email="driver@example.test")
        db.session.add(profile)
        db.session.flush()
        row = fetch_one(BY_ID, {"profile_id": profile.id}, Account)
        assert (row.username, row.role) == ("driver_fan", "user")
        fetch_one(RENAME, {"name": "Driver", "profile_id": profile.id}, Changed)
        assert db.session.scalar(select(Profile.display_name).where(Profile.id == profile.id)) == (
            "Driver"
        )
        db.session.rollback()
        assert fetch_one(BY_ID, {"profile_id": profile.id}, Account) is None


def test_driver_errors_arrive_as_sqlalchemy_errors(app):
    with app.app_context():
        profile = Profile(id=uuid.uuid4(), username="driver_twin", email="twin@example.test")
        other = Profile(id=uuid.uuid4(), username="driver_other", email="other@example.test")
        db.session.add_all([profile, other])
        db.session.flush()
        with pytest.raises(IntegrityError):  # usernames are unique
            fetch_one(TAKE_USERNAME, {"profile_id": other.id, "username": "driver_twin"}, Changed)
        db.session.rollback()
        assert fetch_one(BY_ID, {"profile_id": profile.id}, Account) is None


def test_statements_skip_sqlalchemys_execution_layer_and_compile_once(app):
    # What the module is kept for (bench/README.md): were fetch_one to go through
    # Session.execute, or compile per call, this fails.
    statements: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany) -> None:
        statements.append(statement)

    with app.app_context():
        profile = Profile(id=uuid.uuid4(), username="driver_fast", email="fast@example.test")
        db.session.add(profile)
        db.session.flush()
        _compiled.cache_clear()
        event.listen(db.engine, "before_cursor_execute", record)
        try:
            rows = [fetch_one(BY_ID, {"profile_id": profile.id}, Account) for _ in range(3)]
        finally:
            event.remove(db.engine, "before_cursor_execute", record)
        assert rows == [Account("driver_fast", "user")] * 3
        assert statements == []
        assert (_compiled.cache_info().misses, _compiled.cache_info().hits) == (1, 2)
        sql, _, _ = _compiled(BY_ID)
        assert b"$1" in sql and b"%(" not in sql  # PostgreSQL's own placeholders

"""fetch_one runs Core statements and driver SQL in the session's transaction."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import bindparam, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.types import Uuid

from mylivelinks.driver_sql import fetch_one
from mylivelinks.extensions import db
from mylivelinks.models import Profile

BY_ID = select(Profile.username, Profile.role).where(
    Profile.id == bindparam("profile_id", type_=Uuid())
)


def test_a_core_statement_sees_the_sessions_own_writes_and_rolls_back_with_it(app):
    with app.app_context():
        profile = Profile(id=uuid.uuid4(), username="driver_fan", email="driver@example.test")
        db.session.add(profile)
        db.session.flush()
        row = fetch_one(BY_ID, {"profile_id": profile.id})
        assert (row.username, row.role) == ("driver_fan", "user")
        fetch_one(
            "UPDATE profiles SET display_name = %(name)s WHERE id = %(id)s RETURNING id",
            {"name": "Driver", "id": profile.id},
        )
        assert db.session.scalar(select(Profile.display_name).where(Profile.id == profile.id)) == (
            "Driver"
        )
        db.session.rollback()
        assert fetch_one(BY_ID, {"profile_id": profile.id}) is None


def test_driver_errors_arrive_as_sqlalchemy_errors(app):
    with app.app_context():
        profile = Profile(id=uuid.uuid4(), username="driver_twin", email="twin@example.test")
        db.session.add(profile)
        db.session.flush()
        with pytest.raises(IntegrityError):
            fetch_one(
                "INSERT INTO profiles (id, username, email) VALUES (%(id)s, 'other', 'o@x.test') "
                "RETURNING id",
                {"id": profile.id},
            )
        db.session.rollback()
        assert fetch_one(BY_ID, {"profile_id": profile.id}) is None

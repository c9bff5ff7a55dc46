"""Operator commands: creating an admin, changing roles, seeding."""

from __future__ import annotations

from sqlalchemy import func, select

from mylivelinks.extensions import db
from mylivelinks.models import GiftType, Profile
from tests.helpers import staff


def test_create_admin_then_log_in_as_admin(app, api):
    runner = app.test_cli_runner()
    result = runner.invoke(
        args=[
            "users",
            "create-admin",
            "--username",
            "boss",
            "--email",
            "boss@example.com",
            "--password",
            "password1",
        ]
    )
    assert result.exit_code == 0, result.output
    session = api.post("/api/v1/auth/login", json={"login": "boss", "password": "password1"})
    assert session.status_code == 200
    assert session.get_json()["user"]["role"] == "admin"


def test_create_admin_refuses_bad_input_and_duplicates(app, api):
    runner = app.test_cli_runner()
    short = runner.invoke(
        args=[
            "users",
            "create-admin",
            "--username",
            "boss2",
            "--email",
            "b2@example.com",
            "--password",
            "short",
        ]
    )
    assert short.exit_code != 0
    api.register("taken_name")
    taken = runner.invoke(
        args=[
            "users",
            "create-admin",
            "--username",
            "taken_name",
            "--email",
            "t@example.com",
            "--password",
            "password1",
        ]
    )
    assert taken.exit_code != 0 and "taken" in taken.output
    reserved = runner.invoke(
        args=[
            "users",
            "create-admin",
            "--username",
            "admin",
            "--email",
            "a@example.com",
            "--password",
            "password1",
        ]
    )
    assert reserved.exit_code != 0 and "reserved" in reserved.output
    with app.app_context():
        admins = db.session.scalar(select(func.count()).where(Profile.role == "admin"))
    assert admins == 0


def test_set_role(app, api):
    api.register("future_mod")
    result = app.test_cli_runner().invoke(args=["users", "set-role", "future_mod", "moderator"])
    assert result.exit_code == 0, result.output
    with app.app_context():
        role = db.session.scalar(select(Profile.role).where(Profile.username == "future_mod"))
    assert role == "moderator"
    missing = app.test_cli_runner().invoke(args=["users", "set-role", "nobody_here", "admin"])
    assert missing.exit_code != 0


def test_seed_command_is_idempotent(app):
    runner = app.test_cli_runner()
    first = runner.invoke(args=["seed"])
    second = runner.invoke(args=["seed"])
    assert first.exit_code == 0 and second.exit_code == 0, first.output + second.output
    assert "(0 added)" in second.output
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(GiftType)) == 7


def test_ledger_adjust_grants_coins_through_the_ledger_with_a_reason(app, api):
    fan, boss = api.register(), staff(api, app, "admin")
    runner = app.test_cli_runner()
    name, by = fan["user"]["username"], boss["user"]["username"]
    granted = runner.invoke(
        args=["ledger", "adjust", name, "--coins", "500", "--reason", "x", "--by", by]
    )
    assert granted.exit_code != 0 and "3 characters" in granted.output
    granted = runner.invoke(
        args=[
            "ledger",
            "adjust",
            name,
            "--coins",
            "500",
            "--reason",
            "development coins",
            "--by",
            by,
        ]
    )
    assert granted.exit_code == 0, granted.output
    assert "balance 500" in granted.output
    wallet = api.get("/api/v1/me/wallet", headers=api.auth(fan)).get_json()
    assert wallet["coin_balance"] == 500
    (entry,) = api.get("/api/v1/me/ledger", headers=api.auth(fan)).get_json()["items"]
    assert entry["kind"] == "adjustment" and entry["details"]["reason"] == "development coins"
    assert entry["details"]["admin_id"] == boss["user"]["id"]

    too_much = runner.invoke(
        args=["ledger", "adjust", name, "--coins", "-501", "--reason", "oops", "--by", by]
    )
    assert too_much.exit_code != 0 and "fewer than 501" in too_much.output
    not_admin = runner.invoke(
        args=["ledger", "adjust", name, "--coins", "5", "--reason", "why not", "--by", name]
    )
    assert not_admin.exit_code != 0 and "not an admin" in not_admin.output
    zero = runner.invoke(
        args=["ledger", "adjust", name, "--coins", "0", "--reason", "nothing", "--by", by]
    )
    assert zero.exit_code != 0
    removed = runner.invoke(
        args=["ledger", "adjust", name, "--coins", "-200", "--reason", "took back", "--by", by]
    )
    assert removed.exit_code == 0 and "balance 300" in removed.output, removed.output

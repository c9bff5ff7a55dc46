"""Shortcuts of the browser tests: roles and coins, booked as the services book them."""

from __future__ import annotations

from flask import Flask

from mylivelinks.extensions import db
from mylivelinks.services.accounts.users import set_role
from tests.money import grant


def make_moderator(app: Flask, session: dict) -> dict:
    """Give a registered user the moderator role; their session (the role is read at login)."""
    with app.app_context():
        set_role(session["user"]["username"], "moderator")
        db.session.commit()
    return session


def give_coins(app: Flask, session: dict, coins: int) -> None:
    """An admin adjustment of `coins` to a registered user."""
    grant(app, session, coins)

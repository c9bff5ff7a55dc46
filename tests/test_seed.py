"""Reference data: the group room `main`, its boxes and the gift catalog."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from mylivelinks.extensions import db
from mylivelinks.models import Box, GiftType, Room
from mylivelinks.seed import seed_reference_data

EXPECTED_GIFTS = [
    ("Rose", "🌹", 1, "float", "common", 1),
    ("Heart", "❤️", 2, "float", "common", 2),
    ("Star", "⭐", 5, "burst", "rare", 3),
    ("Diamond", "💎", 10, "burst", "epic", 4),
    ("Rocket", "🚀", 20, "fireworks", "epic", 5),
    ("Crown", "👑", 50, "fireworks", "legendary", 6),
    ("Mansion", "🏰", 100, "confetti", "legendary", 7),
]


def _seed() -> list[str]:
    return list(seed_reference_data())


def _gifts() -> list[tuple]:
    return [
        (g.name, g.emoji, g.coin_cost, g.animation, g.rarity, g.sort_order)
        for g in db.session.scalars(select(GiftType).order_by(GiftType.sort_order))
    ]


def _main_room() -> Room:
    return db.session.scalars(select(Room).where(Room.slug == "main")).one()


def test_seed_creates_main_room_with_twelve_boxes_and_the_gift_catalog(app):
    """The first run creates `main`, its 12 boxes and the 7 gifts of SPEC §5."""
    with app.app_context():
        lines = _seed()

        room = _main_room()
        assert (room.name, room.kind, room.box_count, room.owner_id) == (
            "Main room",
            "group",
            12,
            None,
        )
        positions = db.session.scalars(
            select(Box.position).where(Box.room_id == room.id).order_by(Box.position)
        ).all()
        assert positions == list(range(1, 13))
        assert _gifts() == EXPECTED_GIFTS
        assert all(db.session.scalars(select(GiftType.active)))
        assert lines == [
            "rooms: main with 12 boxes (12 added)",
            "gift_types: 7 gifts (7 added)",
            "ledger: platform accounts (0 added)",  # the migration created them
        ]


def test_seed_twice_adds_nothing_and_keeps_edited_rows(app):
    """A second run inserts no rows and leaves an admin's edit of a gift alone."""
    with app.app_context():
        _seed()
        db.session.execute(update(GiftType).where(GiftType.name == "Rose").values(coin_cost=3))

        lines = _seed()

        assert lines == [
            "rooms: main with 12 boxes (0 added)",
            "gift_types: 7 gifts (0 added)",
            "ledger: platform accounts (0 added)",
        ]
        assert db.session.scalar(select(func.count()).select_from(Room)) == 1
        assert db.session.scalar(select(func.count()).select_from(Box)) == 12
        rose_cost = db.session.scalar(select(GiftType.coin_cost).where(GiftType.name == "Rose"))
        assert rose_cost == 3
        assert _gifts()[1:] == EXPECTED_GIFTS[1:]


def test_database_refuses_box_position_13(app):
    """Box positions are limited to 1..12 by the database itself."""
    with app.app_context():
        _seed()
        room_id = _main_room().id
        with pytest.raises(IntegrityError), db.session.begin_nested():
            db.session.add(Box(room_id=room_id, position=13))
            db.session.flush()
        # The savepoint was rolled back; the test transaction is still usable.
        assert db.session.scalar(select(func.count()).select_from(Box)) == 12


def test_database_refuses_gift_costing_zero_coins(app):
    """A gift must cost at least one coin."""
    with app.app_context():
        with pytest.raises(IntegrityError), db.session.begin_nested():
            db.session.add(
                GiftType(
                    name="Free hug",
                    emoji="🤗",
                    coin_cost=0,
                    animation="float",
                    rarity="common",
                    sort_order=8,
                )
            )
            db.session.flush()
        assert db.session.scalar(select(func.count()).select_from(GiftType)) == 0

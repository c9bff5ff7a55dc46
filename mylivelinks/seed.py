"""Reference data every installation needs; safe to run again and again."""

from __future__ import annotations

from collections.abc import Iterator

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert

from mylivelinks.extensions import db
from mylivelinks.ledger.accounts import open_platform_accounts
from mylivelinks.models import Box, GiftType, Room
from mylivelinks.models.rooms import RoomKind

MAIN_ROOM = {"slug": "main", "name": "Main room", "kind": RoomKind.GROUP, "box_count": 12}

# SPEC §5, in display order; admins may edit these rows afterwards.
GIFT_CATALOG = (
    ("Rose", "🌹", 1, "float", "common"),
    ("Heart", "❤️", 2, "float", "common"),
    ("Star", "⭐", 5, "burst", "rare"),
    ("Diamond", "💎", 10, "burst", "epic"),
    ("Rocket", "🚀", 20, "fireworks", "epic"),
    ("Crown", "👑", 50, "fireworks", "legendary"),
    ("Mansion", "🏰", 100, "confetti", "legendary"),
)


def seed_reference_data() -> Iterator[str]:
    """Seed every reference table that exists; yields one line of progress per table."""
    # Inserts only (ON CONFLICT DO NOTHING): existing rows are never overwritten. Coin packs
    # are configuration, not rows. The caller commits.
    yield _seed_main_room()
    yield _seed_gift_catalog()
    yield f"ledger: platform accounts ({open_platform_accounts()} added)"


def _seed_main_room() -> str:
    """Create the group room `main` and any of its boxes that are missing."""
    db.session.execute(
        insert(Room).values(**MAIN_ROOM).on_conflict_do_nothing(index_elements=["slug"])
    )
    room_id, box_count = db.session.execute(
        select(Room.id, Room.box_count).where(Room.slug == MAIN_ROOM["slug"])
    ).one()
    added = db.session.scalars(
        insert(Box)
        .values([{"room_id": room_id, "position": p} for p in range(1, box_count + 1)])
        .on_conflict_do_nothing(index_elements=["room_id", "position"])
        .returning(Box.id)
    ).all()
    total = db.session.scalar(select(func.count()).select_from(Box).where(Box.room_id == room_id))
    return f"rooms: {MAIN_ROOM['slug']} with {total} boxes ({len(added)} added)"


def _seed_gift_catalog() -> str:
    """Insert the gifts of the catalog that do not exist yet, matched by name."""
    rows = [
        {
            "name": name,
            "emoji": emoji,
            "coin_cost": cost,
            "animation": animation,
            "rarity": rarity,
            "sort_order": order,
        }
        for order, (name, emoji, cost, animation, rarity) in enumerate(GIFT_CATALOG, start=1)
    ]
    added = db.session.scalars(
        insert(GiftType)
        .values(rows)
        .on_conflict_do_nothing(index_elements=["name"])
        .returning(GiftType.id)
    ).all()
    total = db.session.scalar(select(func.count()).select_from(GiftType))
    return f"gift_types: {total} gifts ({len(added)} added)"

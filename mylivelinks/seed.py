"""Reference data every installation needs; safe to run again and again."""

from __future__ import annotations

from collections.abc import Iterator


def seed_reference_data() -> Iterator[str]:
    """Seed every reference table that exists; yields one line of progress per table."""
    # Rooms, boxes and the gift catalog arrive with their own migrations; each adds its
    # seeding step here. Coin packs are configuration, not rows.
    yield "reference data: nothing to seed yet"

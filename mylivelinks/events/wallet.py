"""What a buyer is told when a purchase's coins land (after the booking committed)."""

from __future__ import annotations

import uuid
from typing import Any

from mylivelinks.events.streams import COINS_CREDITED, publish_user_event


def coins_credited(profile_id: uuid.UUID, payload: dict[str, Any]) -> None:
    """`coins:credited` to the buyer: the purchase, its pack and the coins just credited."""
    publish_user_event(profile_id, COINS_CREDITED, payload)

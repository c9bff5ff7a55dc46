"""SQLAlchemy models, one module per aggregate; importing this registers them all."""

from mylivelinks.models.auth import RefreshToken
from mylivelinks.models.base import Base
from mylivelinks.models.chat import ChatMessage, Report
from mylivelinks.models.follows import Follow
from mylivelinks.models.gifts import Gift, GiftType
from mylivelinks.models.leaderboards import Leaderboard, LeaderboardEntry
from mylivelinks.models.ledger import (
    LedgerAccount,
    LedgerEntry,
    LedgerTransaction,
    ReconciliationRun,
)
from mylivelinks.models.media import MediaEventRecord
from mylivelinks.models.moderation import ModerationAction, RoomBan
from mylivelinks.models.notifications import Notification
from mylivelinks.models.payments import (
    CoinPurchase,
    IdempotencyRecord,
    PaymentEvent,
    StoreSyncMark,
)
from mylivelinks.models.profiles import ROLES, Profile, ProfileLink
from mylivelinks.models.rooms import Box, Room
from mylivelinks.models.schedules import Schedule, ScheduleOccurrence
from mylivelinks.models.streams import (
    BoxViewer,
    EndedReason,
    RoomQueueEntry,
    Stream,
    StreamStatus,
    ViewerSession,
)

__all__ = [
    "ROLES",
    "Base",
    "Box",
    "BoxViewer",
    "ChatMessage",
    "CoinPurchase",
    "EndedReason",
    "Follow",
    "Gift",
    "GiftType",
    "IdempotencyRecord",
    "Leaderboard",
    "LeaderboardEntry",
    "LedgerAccount",
    "LedgerEntry",
    "LedgerTransaction",
    "MediaEventRecord",
    "ModerationAction",
    "Notification",
    "PaymentEvent",
    "Profile",
    "ProfileLink",
    "ReconciliationRun",
    "RefreshToken",
    "Report",
    "Room",
    "RoomBan",
    "RoomQueueEntry",
    "Schedule",
    "ScheduleOccurrence",
    "StoreSyncMark",
    "Stream",
    "StreamStatus",
    "ViewerSession",
]

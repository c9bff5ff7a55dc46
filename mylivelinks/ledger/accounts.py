"""Ledger accounts: deterministic ids, so no lookup is needed to name one."""

from __future__ import annotations

import functools
import uuid
import zlib
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert

from mylivelinks.extensions import db
from mylivelinks.models.ledger import (
    PLATFORM_ACCOUNT_KINDS,
    REVENUE_SHARDS,
    USER_ACCOUNT_KINDS,
    AccountKind,
    LedgerAccount,
)

_NAMESPACE = uuid.UUID("6f1d3c2a-5b7e-4e8f-9a0b-1c2d3e4f5a6b")


def _shards(kind: str) -> int:
    return REVENUE_SHARDS if kind == AccountKind.PLATFORM_REVENUE else 1


@functools.cache  # a few dozen platform accounts
def platform_account_id(kind: str, shard: int = 0) -> uuid.UUID:
    """The id of a platform account (created by migration 0003)."""
    if kind not in PLATFORM_ACCOUNT_KINDS:
        raise ValueError(f"{kind} is not a platform account kind")
    if not 0 <= shard < _shards(kind):
        raise ValueError(f"{kind} has no shard {shard}")
    return uuid.uuid5(_NAMESPACE, f"platform/{kind}" + (f"/{shard}" if shard else ""))


def revenue_account_id(source_ref: str) -> uuid.UUID:
    """The platform revenue shard that a transfer with this source_ref pays into."""
    return platform_account_id(
        AccountKind.PLATFORM_REVENUE, zlib.crc32(source_ref.encode()) % REVENUE_SHARDS
    )


def open_platform_accounts() -> int:
    """Create any missing platform account (migration 0003 creates them); returns how many."""
    rows = [
        {"id": platform_account_id(kind, shard), "kind": kind, "shard": shard}
        for kind in PLATFORM_ACCOUNT_KINDS
        for shard in range(_shards(kind))
    ]
    created = db.session.execute(
        insert(LedgerAccount)
        .values(rows)
        .on_conflict_do_nothing(index_elements=["id"])
        .returning(LedgerAccount.id)
    ).all()
    return len(created)


def user_account_id(profile_id: uuid.UUID, kind: str) -> uuid.UUID:
    """The id of one of a user's accounts (whether or not it exists yet)."""
    if kind not in USER_ACCOUNT_KINDS:
        raise ValueError(f"{kind} is not a user account kind")
    return uuid.uuid5(_NAMESPACE, f"{profile_id}/{kind}")


@dataclass(frozen=True)
class UserAccounts:
    """The three accounts of a user."""

    coins: uuid.UUID
    earnings: uuid.UUID
    debt: uuid.UUID


@functools.lru_cache(maxsize=65536)  # SHA-1 three times per user, on every coin movement
def user_accounts(profile_id: uuid.UUID) -> UserAccounts:
    """The ids of a user's accounts, without touching the database."""
    return UserAccounts(
        coins=user_account_id(profile_id, AccountKind.USER_COINS),
        earnings=user_account_id(profile_id, AccountKind.USER_EARNINGS),
        debt=user_account_id(profile_id, AccountKind.USER_DEBT),
    )


def open_user_accounts(profile_id: uuid.UUID) -> UserAccounts:
    """Make sure the user's accounts exist (one idempotent statement) and return their ids."""
    accounts = user_accounts(profile_id)
    db.session.execute(
        insert(LedgerAccount)
        .values(
            [
                {"id": user_account_id(profile_id, kind), "owner_id": profile_id, "kind": kind}
                for kind in USER_ACCOUNT_KINDS
            ]
        )
        # No conflict target: two transactions inserting the same accounts at once may meet
        # on (owner_id, kind) before the id, and a named target ignores only its own index.
        .on_conflict_do_nothing()
    )
    return accounts


def balances(account_ids: list[uuid.UUID]) -> dict[uuid.UUID, int]:
    """Cached balances of the given accounts (0 for accounts not opened yet)."""
    rows = db.session.execute(
        select(LedgerAccount.id, LedgerAccount.balance).where(LedgerAccount.id.in_(account_ids))
    ).all()
    found = {row.id: row.balance for row in rows}
    return {account_id: found.get(account_id, 0) for account_id in account_ids}


def locked_balance(account_id: uuid.UUID) -> int:
    """The balance of an account, locking its row until the transaction ends."""
    stmt = select(LedgerAccount.balance).where(LedgerAccount.id == account_id).with_for_update()
    return db.session.scalar(stmt) or 0

"""`transfer`: the one function that moves value."""

from __future__ import annotations

import hashlib
import uuid
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, or_, select, update
from sqlalchemy.dialects.postgresql import insert

from mylivelinks.extensions import db
from mylivelinks.ledger.errors import InsufficientFunds, ReplayMismatch, UnbalancedTransfer
from mylivelinks.models.ledger import (
    USER_COINS,
    USER_DEBT,
    USER_EARNINGS,
    LedgerAccount,
    LedgerEntry,
    LedgerTransaction,
)

_NEVER_NEGATIVE = (USER_COINS, USER_EARNINGS)


@dataclass(frozen=True)
class Posting:
    """`amount` centicoins added to (positive) or taken from (negative) an account."""

    account_id: uuid.UUID
    amount: int


@dataclass(frozen=True)
class TransferResult:
    """The transaction written, or the one found when this was a replay."""

    transaction_id: uuid.UUID
    replayed: bool


def _merge(postings: Iterable[Posting]) -> list[Posting]:
    totals: dict[uuid.UUID, int] = defaultdict(int)
    for posting in postings:
        if not isinstance(posting.amount, int) or isinstance(posting.amount, bool):
            raise UnbalancedTransfer("Ledger amounts are whole centicoins.")
        totals[posting.account_id] += posting.amount
    # Sorted by account id: concurrent transfers lock rows in one order and cannot deadlock.
    return [Posting(a, amount) for a, amount in sorted(totals.items()) if amount != 0]


def _fingerprint(postings: list[Posting]) -> str:
    canonical = ";".join(f"{p.account_id}:{p.amount}" for p in postings)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _within_bounds(amount: int):
    # Conditional update: the row changes only if the new balance respects the account's bound.
    new_balance = LedgerAccount.balance + amount
    return or_(
        and_(LedgerAccount.kind.in_(_NEVER_NEGATIVE), new_balance >= 0),
        and_(LedgerAccount.kind == USER_DEBT, new_balance <= 0),
        LedgerAccount.kind.not_in((*_NEVER_NEGATIVE, USER_DEBT)),
    )


def transfer(
    postings: Iterable[Posting],
    *,
    kind: str,
    source_ref: str,
    details: dict[str, Any] | None = None,
) -> TransferResult:
    """Book one balanced transaction; a replay of (kind, source_ref) is a no-op.

    Raises UnbalancedTransfer, InsufficientFunds (nothing written) or ReplayMismatch.
    Flushes only; the caller's boundary commits.
    """
    merged = _merge(postings)
    if len(merged) < 2 or sum(p.amount for p in merged) != 0:
        raise UnbalancedTransfer("A transfer needs two or more postings that sum to zero.")
    fingerprint = _fingerprint(merged)
    # A savepoint: a refused transfer leaves the caller's transaction usable.
    with db.session.begin_nested():
        transaction_id = db.session.execute(
            insert(LedgerTransaction)
            .values(
                id=uuid.uuid4(),
                kind=kind,
                source_ref=source_ref,
                fingerprint=fingerprint,
                details=details or {},
            )
            .on_conflict_do_nothing(index_elements=["kind", "source_ref"])
            .returning(LedgerTransaction.id)
        ).scalar()
        if transaction_id is None:
            return _replay(kind, source_ref, fingerprint)
        for posting in merged:
            updated = db.session.execute(
                update(LedgerAccount)
                .where(LedgerAccount.id == posting.account_id, _within_bounds(posting.amount))
                .values(balance=LedgerAccount.balance + posting.amount)
                .returning(LedgerAccount.id)
            ).scalar()
            if updated is None:
                _refuse(posting)
        db.session.execute(
            insert(LedgerEntry),
            [
                {"transaction_id": transaction_id, "account_id": p.account_id, "amount": p.amount}
                for p in merged
            ],
        )
    return TransferResult(transaction_id=transaction_id, replayed=False)


def _refuse(posting: Posting) -> None:
    exists = db.session.scalar(
        select(LedgerAccount.id).where(LedgerAccount.id == posting.account_id)
    )
    if exists is None:
        raise LookupError(f"ledger account {posting.account_id} does not exist")
    raise InsufficientFunds("Not enough funds for this transfer.", field=str(posting.account_id))


def booked(kind: str, source_ref: str) -> TransferResult | None:
    """The transaction already booked under (kind, source_ref), if any."""
    transaction_id = db.session.scalar(
        select(LedgerTransaction.id).where(
            LedgerTransaction.kind == kind, LedgerTransaction.source_ref == source_ref
        )
    )
    return TransferResult(transaction_id, replayed=True) if transaction_id else None


def _replay(kind: str, source_ref: str, fingerprint: str) -> TransferResult:
    existing = db.session.execute(
        select(LedgerTransaction.id, LedgerTransaction.fingerprint).where(
            LedgerTransaction.kind == kind, LedgerTransaction.source_ref == source_ref
        )
    ).one()
    if existing.fingerprint != fingerprint:
        raise ReplayMismatch(f"{kind} {source_ref} was already booked with other amounts.")
    return TransferResult(transaction_id=existing.id, replayed=True)

"""The one way value moves: a balanced `Transfer`, booked once under (kind, source_ref).

`book(transfer)` books a transfer alone. A caller whose rows go with the booking (a gift:
its row, counters and chat line) writes them in the same statement: it builds the
statement around `guarded_transfer(...)`, whose `booked` part calls the ledger only when
the caller's conditions hold, and runs it with `book_with`. The ledger binds its own
parameters (`ledger_…`) from the Transfer; the caller binds the rest.

Either way the booking is one call of the `ledger_transfer` database function
(migrations 0003 and 0013): each balance changes by a conditional UPDATE that refuses to
take a guarded account past its bound (coins and earnings below zero, debt above zero),
in account order, and the entries are written, all in one round trip.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, NamedTuple, Protocol, TypeVar

from psycopg.errors import NumericValueOutOfRange
from sqlalchemy import BigInteger, ColumnElement, Exists, Select, Text, bindparam, select, true
from sqlalchemy import func as sql
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.exc import DataError
from sqlalchemy.sql.selectable import CTE
from sqlalchemy.types import Uuid

from mylivelinks.driver_sql import fetch_one
from mylivelinks.extensions import db
from mylivelinks.ledger.errors import (
    AccountNotOpened,
    AmountOutOfRange,
    InsufficientFunds,
    ReplayMismatch,
    SpendingFrozen,
    UnbalancedTransfer,
)
from mylivelinks.models.ledger import LedgerTransaction


class TransferKind(StrEnum):
    """Why value moved; with the source reference, what makes a booking unique."""

    GIFT = "gift"
    PURCHASE = "purchase"
    PURCHASE_REVERSAL = "purchase_reversal"
    PURCHASE_RESTORE = "purchase_restore"  # a reversal undone (the store reversed its refund)
    ADJUSTMENT = "adjustment"


class Outcome(StrEnum):
    """What `ledger_transfer` answered (an unopened account comes as `missing:<id>`)."""

    BOOKED = "booked"
    REPLAYED = "replayed"
    MISMATCH = "mismatch"
    FROZEN = "frozen"
    INSUFFICIENT = "insufficient"
    MISSING = "missing"


@dataclass(frozen=True)
class Posting:
    """`amount` centicoins added to (positive) or taken from (negative) an account."""

    account_id: uuid.UUID
    amount: int


@dataclass(frozen=True)
class Transfer:
    """A checked transfer: postings merged per account, sorted by account, summing to zero."""

    postings: tuple[Posting, ...]
    kind: TransferKind
    source_ref: str
    fingerprint: str
    details: Mapping[str, Any] = field(default_factory=dict)
    # A debt account that must owe nothing for the transfer to book (spending is frozen).
    unless_frozen: uuid.UUID | None = None

    @classmethod
    def of(
        cls,
        postings: Iterable[Posting],
        *,
        kind: TransferKind,
        source_ref: str,
        details: Mapping[str, Any] | None = None,
        unless_frozen: uuid.UUID | None = None,
        intent: str | None = None,
    ) -> Transfer:
        """The transfer of `postings`; UnbalancedTransfer unless they balance over 2+ accounts.

        `intent` replaces the postings in the replay fingerprint when the split depends on
        balances (debt repaid first, ...)."""
        merged = _merge(postings)
        if len(merged) < 2 or sum(p.amount for p in merged) != 0:
            raise UnbalancedTransfer("A transfer needs two or more postings that sum to zero.")
        canonical = intent or ";".join(f"{p.account_id}:{p.amount}" for p in merged)
        return cls(
            postings=merged,
            kind=kind,
            source_ref=source_ref,
            fingerprint=intent_fingerprint(canonical),
            details=details or {},
            unless_frozen=unless_frozen,
        )

    def parameters(self) -> dict[str, Any]:
        """The values of the ledger's bind parameters (`ledger_…`) for this transfer."""
        return {
            "ledger_kind": str(self.kind),
            "ledger_source_ref": self.source_ref,
            "ledger_fingerprint": self.fingerprint,
            "ledger_details": json.dumps(self.details),
            # PostgreSQL's text form of an array, cast by the statement: a Python list would
            # have psycopg work out its element type again at every execution.
            "ledger_accounts": _array_literal(p.account_id for p in self.postings),
            "ledger_amounts": _array_literal(p.amount for p in self.postings),
            "ledger_unfrozen": str(self.unless_frozen) if self.unless_frozen else None,
        }


@dataclass(frozen=True)
class Booking:
    """A transfer booked now, or found booked before (`replayed`, with no balances)."""

    transaction_id: uuid.UUID
    replayed: bool
    # Each posted account's balance as this booking left it.
    balances: Mapping[uuid.UUID, int] = field(default_factory=dict)


class BookedRow(Protocol):
    """A row of a statement that called the ledger: what `ledger_transfer` returned."""

    @property
    def transaction_id(self) -> uuid.UUID | None: ...
    @property
    def outcome(self) -> str | None: ...
    @property
    def balances(self) -> list[int] | None: ...


RowT = TypeVar("RowT", bound=BookedRow)


def intent_fingerprint(intent: str) -> str:
    """The fingerprint stored with a transaction; replays must present the same one."""
    return hashlib.sha256(intent.encode()).hexdigest()


def _merge(postings: Iterable[Posting]) -> tuple[Posting, ...]:
    totals: dict[uuid.UUID, int] = defaultdict(int)
    for posting in postings:
        if not isinstance(posting.amount, int) or isinstance(posting.amount, bool):
            raise UnbalancedTransfer("Ledger amounts are whole centicoins.")
        totals[posting.account_id] += posting.amount
    # Sorted by account id: concurrent transfers lock rows in one order and cannot deadlock.
    return tuple(Posting(a, amount) for a, amount in sorted(totals.items()) if amount != 0)


def _array_literal(values: Iterable[uuid.UUID | int]) -> str:
    return "{" + ",".join(map(str, values)) + "}"


def _ledger_param(name: str, type_: Any) -> Any:
    return bindparam(f"ledger_{name}", type_=type_)


@dataclass(frozen=True)
class TransferCall:
    """`ledger_transfer` inside a caller's statement, called only when its guard holds."""

    # One row (transaction_id, outcome, balances) when the guard held, none otherwise.
    booked: CTE

    @property
    def succeeded(self) -> Exists:
        """True once the transfer booked (not replayed, refused or skipped)."""
        return select(self.booked.c.outcome).where(self.booked.c.outcome == Outcome.BOOKED).exists()


def guarded_transfer(*guard: ColumnElement[bool]) -> TransferCall:
    """The ledger's part of a caller's statement: the transfer is booked only if every
    condition of `guard` holds (they may name the caller's FROM items and parameters)."""
    # The accounts pass through the guard, so the function is called once per row it
    # yields (a LATERAL reference): never when the guard fails.
    guarded = (
        select(
            _ledger_param("accounts", ARRAY(Uuid())).label("accounts"),
            _ledger_param("amounts", ARRAY(BigInteger())).label("amounts"),
        )
        .where(*guard)
        .cte("ledger_guard")
    )
    call = _function(guarded.c.accounts, guarded.c.amounts).lateral()
    booked = (
        select(call.c.transaction_id, call.c.outcome, call.c.balances)
        .select_from(guarded.join(call, true()))
        .cte("ledger_booked")
    )
    return TransferCall(booked)


def _function(accounts: Any, amounts: Any) -> Any:
    return sql.ledger_transfer(
        _ledger_param("kind", Text()),
        _ledger_param("source_ref", Text()),
        _ledger_param("fingerprint", Text()),
        _ledger_param("details", JSONB()),
        accounts,
        amounts,
        _ledger_param("unfrozen", Uuid()),
    ).table_valued("transaction_id", "outcome", "balances")


class _TransferRow(NamedTuple):
    transaction_id: uuid.UUID | None
    outcome: str | None
    balances: list[int] | None


def _alone() -> Select[Any]:
    call = _function(
        _ledger_param("accounts", ARRAY(Uuid())), _ledger_param("amounts", ARRAY(BigInteger()))
    )
    return select(call.c.transaction_id, call.c.outcome, call.c.balances).select_from(call)


_ALONE = _alone()


def book(transfer: Transfer) -> Booking:
    """Book one balanced transaction; a replay of (kind, source_ref) finds the first.

    Raises InsufficientFunds, SpendingFrozen, ReplayMismatch or AmountOutOfRange (nothing
    written in each case), AccountNotOpened when a credited account does not exist.
    Never commits."""
    booking, _ = book_with(transfer, _ALONE, {}, _TransferRow)
    assert booking is not None  # the statement has no guard: it always calls the ledger
    return booking


def book_with(
    transfer: Transfer, statement: Select[Any], params: Mapping[str, Any], row_type: type[RowT]
) -> tuple[Booking | None, RowT | None]:
    """Run a caller's statement built around `guarded_transfer` with the caller's `params`:
    the booking (None when the guard failed and nothing was booked) and the statement's row
    as `row_type`. The statement must write nothing of its own unless the transfer
    `succeeded`. Raises what `book` raises; never commits."""
    if any(name.startswith("ledger_") for name in params):
        raise ValueError("ledger_… parameters are the ledger's own")
    try:
        row = fetch_one(statement, {**params, **transfer.parameters()}, row_type)
    except DataError as exc:
        if not isinstance(exc.orig, NumericValueOutOfRange):
            raise  # another data error (text the database cannot store) is not about amounts
        # A balance would pass BIGINT.
        raise AmountOutOfRange("The amount would take a balance out of range.") from exc
    if row is None or row.outcome is None:
        return None, row
    return _booking(transfer, row.transaction_id, row.outcome, row.balances), row


def _booking(
    transfer: Transfer,
    transaction_id: uuid.UUID | None,
    answer: str,
    balances: Sequence[int] | None,
) -> Booking:
    """What `ledger_transfer` answered, as a Booking or the ledger error it means."""
    outcome, _, account = answer.partition(":")
    if outcome == Outcome.BOOKED and transaction_id is not None:
        accounts = (p.account_id for p in transfer.postings)
        return Booking(
            transaction_id,
            replayed=False,
            balances=dict(zip(accounts, balances or (), strict=True)),
        )
    if outcome == Outcome.REPLAYED and transaction_id is not None:
        return Booking(transaction_id, replayed=True)
    if outcome == Outcome.MISMATCH:
        raise ReplayMismatch(
            f"{transfer.kind} {transfer.source_ref} was already booked with other amounts."
        )
    if outcome == Outcome.FROZEN:
        raise SpendingFrozen("Spending is frozen until the coins owed after a refund are repaid.")
    debited = {str(p.account_id) for p in transfer.postings if p.amount < 0}
    if outcome == Outcome.INSUFFICIENT or account in debited:
        # An account never opened holds nothing to take.
        raise InsufficientFunds("Not enough funds for this transfer.", field=account)
    raise AccountNotOpened(f"ledger account {account} does not exist")


def booked(kind: TransferKind, source_ref: str, intent: str) -> Booking | None:
    """The transaction already booked under (kind, source_ref), if any; ReplayMismatch
    when it was booked with another intent."""
    found = db.session.execute(
        select(LedgerTransaction.id, LedgerTransaction.fingerprint).where(
            LedgerTransaction.kind == str(kind), LedgerTransaction.source_ref == source_ref
        )
    ).one_or_none()
    if found is None:
        return None
    if found.fingerprint != intent_fingerprint(intent):
        raise ReplayMismatch(f"{kind} {source_ref} was already booked with other amounts.")
    return Booking(found.id, replayed=True)

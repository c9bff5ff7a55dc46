"""`transfer`: the one function that moves value."""

from __future__ import annotations

import hashlib
import json
import uuid
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import BigInteger, Text, bindparam, func, select
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.exc import DataError
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
    return intent_fingerprint(canonical)


def intent_fingerprint(intent: str) -> str:
    """The fingerprint stored with a transaction; replays must present the same one."""
    return hashlib.sha256(intent.encode()).hexdigest()


@dataclass(frozen=True)
class PreparedTransfer:
    """A transfer checked and ready to book: its merged postings and `ledger_transfer`'s
    arguments (by the names `transfer_function` binds)."""

    postings: list[Posting]
    kind: str
    source_ref: str
    params: dict[str, Any]

    def result(self, transaction_id: uuid.UUID | None, outcome: str) -> TransferResult:
        """What `ledger_transfer` answered, as a TransferResult or the ledger error it means."""
        outcome, _, account = outcome.partition(":")
        if outcome == "booked":
            return TransferResult(transaction_id=transaction_id, replayed=False)
        if outcome == "replayed":
            return TransferResult(transaction_id=transaction_id, replayed=True)
        if outcome == "mismatch":
            raise ReplayMismatch(
                f"{self.kind} {self.source_ref} was already booked with other amounts."
            )
        if outcome == "frozen":
            raise SpendingFrozen(
                "Spending is frozen until the coins owed after a refund are repaid."
            )
        debited = {str(p.account_id) for p in self.postings if p.amount < 0}
        if outcome == "insufficient" or account in debited:
            # An account never opened holds nothing to take.
            raise InsufficientFunds("Not enough funds for this transfer.", field=account)
        raise AccountNotOpened(f"ledger account {account} does not exist")

    def balance_after(self, balances: list[int], account_id: uuid.UUID) -> int:
        """An account's balance as this transfer left it, from `ledger_transfer`'s balances."""
        index = next(i for i, p in enumerate(self.postings) if p.account_id == account_id)
        return balances[index]


def prepare_transfer(
    postings: Iterable[Posting],
    *,
    kind: str,
    source_ref: str,
    details: dict[str, Any] | None = None,
    unless_frozen: uuid.UUID | None = None,
    intent: str | None = None,
) -> PreparedTransfer:
    """Merge and check the postings of a transfer (see `transfer`); nothing is written."""
    merged = _merge(postings)
    if len(merged) < 2 or sum(p.amount for p in merged) != 0:
        raise UnbalancedTransfer("A transfer needs two or more postings that sum to zero.")
    fingerprint = intent_fingerprint(intent) if intent else _fingerprint(merged)
    params = {
        "kind": kind,
        "source_ref": source_ref,
        "fingerprint": fingerprint,
        "details": json.dumps(details or {}),
        "accounts": _array_literal(p.account_id for p in merged),
        "amounts": _array_literal(p.amount for p in merged),
        "unfrozen": str(unless_frozen) if unless_frozen else None,
    }
    return PreparedTransfer(merged, kind, source_ref, params)


def _array_literal(values: Iterable[uuid.UUID | int]) -> str:
    # PostgreSQL's text form of an array, which the statement casts to uuid[] or bigint[].
    # UUIDs and integers need no quoting; a Python list would have psycopg work out its
    # element type again at every execution (about 60 µs of a gift's CPU).
    return "{" + ",".join(map(str, values)) + "}"


_TRANSFER_ARGUMENTS = {
    "kind": Text(),
    "source_ref": Text(),
    "fingerprint": Text(),
    "details": JSONB(),
    "accounts": ARRAY(Uuid()),
    "amounts": ARRAY(BigInteger()),
    "unfrozen": Uuid(),
}


def transfer_function(**arguments: Any):
    """`ledger_transfer(…)` as a table (transaction_id, outcome, balances), for statements
    that book a transfer and write what goes with it; each argument is bound by its name
    unless given here as an expression (a column of an earlier FROM item, say)."""
    call = func.ledger_transfer(
        *(
            arguments[name] if name in arguments else bindparam(name, type_=type_)
            for name, type_ in _TRANSFER_ARGUMENTS.items()
        )
    )
    return call.table_valued("transaction_id", "outcome", "balances")


def _transfer_statement():
    booked_call = transfer_function()
    return select(booked_call.c.transaction_id, booked_call.c.outcome).select_from(booked_call)


_TRANSFER_STATEMENT = _transfer_statement()


def book(
    prepared: PreparedTransfer, statement=None, **params: Any
) -> tuple[TransferResult | None, Any]:
    """Book `prepared` (alone, or inside `statement`, whose row carries `transaction_id`
    and `outcome` and which must write nothing unless the outcome is booked); the result
    and the statement's row. A statement that did not call the transfer (no row, or a NULL
    outcome) gives (None, row). Raises what `transfer` raises; never commits."""
    try:
        row = fetch_one(
            _TRANSFER_STATEMENT if statement is None else statement, {**prepared.params, **params}
        )
    except DataError as exc:  # numeric_value_out_of_range: a balance would pass BIGINT
        raise AmountOutOfRange("The amount would take a balance out of range.") from exc
    if row is None or row.outcome is None:
        return None, row
    return prepared.result(row.transaction_id, row.outcome), row


def transfer(
    postings: Iterable[Posting],
    *,
    kind: str,
    source_ref: str,
    details: dict[str, Any] | None = None,
    unless_frozen: uuid.UUID | None = None,
    intent: str | None = None,
) -> TransferResult:
    """Book one balanced transaction; a replay of (kind, source_ref) is a no-op.

    Each balance changes by a conditional UPDATE that refuses to take a guarded account
    past its bound (coins and earnings below zero, debt above zero), all in one round trip
    (the `ledger_transfer` database function of migrations 0003 and 0013). `unless_frozen`
    names a debt account that must owe nothing. `intent` replaces the postings in the replay
    fingerprint when the split depends on balances (debt repaid first, ...). Raises
    UnbalancedTransfer, InsufficientFunds, SpendingFrozen, ReplayMismatch or
    AmountOutOfRange (nothing written in each case), AccountNotOpened when a credited
    account does not exist. Never commits.
    """
    prepared = prepare_transfer(
        postings,
        kind=kind,
        source_ref=source_ref,
        details=details,
        unless_frozen=unless_frozen,
        intent=intent,
    )
    return book(prepared)[0]


def booked(kind: str, source_ref: str, intent: str) -> TransferResult | None:
    """The transaction already booked under (kind, source_ref), if any; ReplayMismatch
    when it was booked with another intent."""
    found = db.session.execute(
        select(LedgerTransaction.id, LedgerTransaction.fingerprint).where(
            LedgerTransaction.kind == kind, LedgerTransaction.source_ref == source_ref
        )
    ).one_or_none()
    if found is None:
        return None
    if found.fingerprint != intent_fingerprint(intent):
        raise ReplayMismatch(f"{kind} {source_ref} was already booked with other amounts.")
    return TransferResult(found.id, replayed=True)

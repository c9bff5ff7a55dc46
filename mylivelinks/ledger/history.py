"""A user's ledger entries, newest first."""

from __future__ import annotations

import uuid

from sqlalchemy import select

from mylivelinks.ledger.accounts import user_accounts
from mylivelinks.models.ledger import LedgerAccount, LedgerEntry, LedgerTransaction
from mylivelinks.pagination import Page, keyset_page

_ACCOUNT_NAMES = {"user_coins": "coins", "user_earnings": "earnings", "user_debt": "debt"}


def user_entries(profile_id: uuid.UUID, *, limit: int, cursor: str | None) -> Page:
    """Entries of the user's accounts; rows carry the entry, its transaction and account."""
    accounts = user_accounts(profile_id)
    stmt = (
        select(
            LedgerEntry.id.label("entry_id"),
            LedgerEntry.transaction_id,
            LedgerTransaction.kind,
            LedgerAccount.kind.label("account_kind"),
            LedgerEntry.amount.label("amount_centicoins"),
            LedgerTransaction.details,
            LedgerEntry.created_at,
        )
        .join(LedgerTransaction, LedgerTransaction.id == LedgerEntry.transaction_id)
        .join(LedgerAccount, LedgerAccount.id == LedgerEntry.account_id)
        .where(LedgerEntry.account_id.in_([accounts.coins, accounts.earnings, accounts.debt]))
    )
    page = keyset_page(
        stmt,
        [LedgerEntry.id],
        limit=limit,
        cursor=cursor,
        cursor_of=lambda row: (row.entry_id,),
        kinds=(int,),
    )
    items = [{**row._asdict(), "account": _ACCOUNT_NAMES[row.account_kind]} for row in page.items]
    return Page(items=items, next_cursor=page.next_cursor)

"""What users hold and how coins enter, leave and move between their accounts.

Every function here books through `ledger.booking` (`spending` only builds the transfer:
the gift books it in its own statement).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from mylivelinks.ledger.accounts import (
    balances,
    locked_balance,
    open_user_accounts,
    platform_account_id,
    user_accounts,
)
from mylivelinks.ledger.booking import Booking, Posting, Transfer, TransferKind, book, booked
from mylivelinks.models.ledger import CENTICOINS_PER_COIN, AccountKind


@dataclass(frozen=True)
class Wallet:
    """A user's balances as the API shows them."""

    coin_balance: int
    earnings_balance_centicoins: int
    debt_coins: int

    @property
    def frozen(self) -> bool:
        """Spending is frozen while the user owes coins."""
        return self.debt_coins > 0

    @classmethod
    def from_balances(cls, coins: int, earnings: int, debt: int) -> Wallet:
        """The wallet of the three accounts' balances (centicoins; debt is negative)."""
        return cls(
            coin_balance=coins // CENTICOINS_PER_COIN,
            earnings_balance_centicoins=earnings,
            debt_coins=-debt // CENTICOINS_PER_COIN,
        )


def wallet(profile_id: uuid.UUID) -> Wallet:
    """The user's wallet, from the cached balances."""
    accounts = user_accounts(profile_id)
    found = balances([accounts.coins, accounts.earnings, accounts.debt])
    return Wallet.from_balances(
        found[accounts.coins], found[accounts.earnings], found[accounts.debt]
    )


def credit_coins(
    profile_id: uuid.UUID,
    coins: int,
    *,
    source_kind: str,
    kind: TransferKind,
    source_ref: str,
    details: dict[str, Any] | None = None,
) -> Booking:
    """Give the user `coins` from a platform account; any debt is paid off first."""
    accounts = open_user_accounts(profile_id)
    amount = coins * CENTICOINS_PER_COIN
    # Lock order everywhere: debt, then coins. The lock also serialises this user's credits,
    # so a replay finds the first booking before computing a (different) split.
    owed = -locked_balance(accounts.debt)
    intent = f"credit {profile_id} {amount} from {source_kind}"
    if replay := booked(kind, source_ref, intent):
        return replay
    to_debt = min(owed, amount)
    return book(
        Transfer.of(
            [
                Posting(platform_account_id(source_kind), -amount),
                Posting(accounts.debt, to_debt),
                Posting(accounts.coins, amount - to_debt),
            ],
            kind=kind,
            source_ref=source_ref,
            details=details,
            intent=intent,
        )
    )


def take_back_coins(
    profile_id: uuid.UUID,
    coins: int,
    *,
    kind: TransferKind,
    source_ref: str,
    details: dict[str, Any] | None = None,
) -> Booking:
    """Reverse `coins` (refund, chargeback): take what remains, book the rest as debt."""
    accounts = open_user_accounts(profile_id)
    amount = coins * CENTICOINS_PER_COIN
    locked_balance(accounts.debt)
    intent = f"take back {profile_id} {amount}"
    if replay := booked(kind, source_ref, intent):
        return replay
    available = locked_balance(accounts.coins)
    taken = min(available, amount)
    return book(
        Transfer.of(
            [
                Posting(platform_account_id(AccountKind.REVERSALS_CLEARING), amount),
                Posting(accounts.coins, -taken),
                Posting(accounts.debt, -(amount - taken)),
            ],
            kind=kind,
            source_ref=source_ref,
            details=details,
            intent=intent,
        )
    )


def spending(
    profile_id: uuid.UUID,
    coins: int,
    *,
    recipients: list[Posting],
    kind: TransferKind,
    source_ref: str,
    details: dict[str, Any] | None = None,
) -> Transfer:
    """The transfer of `coins` from the user's spendable balance to `recipients` (which sum
    to it), refused while the user owes coins (SpendingFrozen) or is short
    (InsufficientFunds) when booked; checked here, not booked."""
    accounts = user_accounts(profile_id)
    return Transfer.of(
        [Posting(accounts.coins, -coins * CENTICOINS_PER_COIN), *recipients],
        kind=kind,
        source_ref=source_ref,
        details=details,
        unless_frozen=accounts.debt,
    )


def adjust_coins(
    profile_id: uuid.UUID, coins: int, *, source_ref: str, reason: str, admin_id: uuid.UUID
) -> Booking:
    """An admin grant (positive, pays debt first) or removal (negative) of coins."""
    details = {"reason": reason, "admin_id": str(admin_id)}
    if coins > 0:
        return credit_coins(
            profile_id,
            coins,
            source_kind=AccountKind.ADJUSTMENTS,
            kind=TransferKind.ADJUSTMENT,
            source_ref=source_ref,
            details=details,
        )
    accounts = open_user_accounts(profile_id)
    amount = -coins * CENTICOINS_PER_COIN
    return book(
        Transfer.of(
            [
                Posting(accounts.coins, -amount),
                Posting(platform_account_id(AccountKind.ADJUSTMENTS), amount),
            ],
            kind=TransferKind.ADJUSTMENT,
            source_ref=source_ref,
            details=details,
        )
    )

"""Errors of the ledger, mapped to HTTP codes like every service error."""

from __future__ import annotations

from mylivelinks.services.errors import Conflict, Forbidden, InvalidInput, ServiceError


class InsufficientFunds(ServiceError):
    """A debit would take a guarded account past its bound (coins below zero, ...)."""

    status = 402


class SpendingFrozen(Forbidden):
    """The user owes coins after a refund or chargeback; spending waits until it is settled."""


class ReplayMismatch(Conflict):
    """The same (kind, source_ref) was already booked with other postings."""


class AmountOutOfRange(InvalidInput):
    """A balance would leave the BIGINT range."""


class UnbalancedTransfer(InvalidInput):
    """Postings that do not sum to zero, or fewer than two accounts."""


class AccountNotOpened(LookupError):
    """A transfer credits an account that was never opened (nothing was written)."""

"""Ledger upkeep: reconciliation and expiry of idempotency records."""

from __future__ import annotations

from mylivelinks.idempotency import purge_expired_records
from mylivelinks.jobs.context import job
from mylivelinks.ledger.reconciliation import reconcile


@job
def reconcile_ledger() -> bool:
    """Reconcile the ledger; True when every balance matched."""
    return reconcile().ok


@job
def purge_idempotency_records() -> int:
    """Forget stored responses older than the idempotency window."""
    return purge_expired_records()

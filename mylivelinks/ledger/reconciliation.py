"""Reconciliation: every cached balance against the sum of its entries, and conservation."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from sqlalchemy import select, text

from mylivelinks.extensions import db
from mylivelinks.models.ledger import ReconciliationRun

log = logging.getLogger(__name__)

# One statement, so the whole check sees one snapshot of the ledger.
_RECONCILE_SQL = text(
    """
    WITH sums AS (
        SELECT account_id, SUM(amount) AS total, COUNT(*) AS n
        FROM ledger_entries GROUP BY account_id
    ), checked AS (
        SELECT a.id, a.kind, a.owner_id, a.balance,
               COALESCE(s.total, 0) AS entries_sum, COALESCE(s.n, 0) AS n
        FROM ledger_accounts a LEFT JOIN sums s ON s.account_id = a.id
    ), unbalanced AS (
        SELECT transaction_id FROM ledger_entries
        GROUP BY transaction_id HAVING SUM(amount) <> 0 LIMIT 100
    )
    SELECT
        (SELECT COUNT(*) FROM checked) AS accounts_checked,
        (SELECT COALESCE(SUM(n), 0) FROM checked) AS entries_checked,
        (SELECT COALESCE(SUM(entries_sum), 0) FROM checked) AS entries_total,
        (SELECT COALESCE(SUM(balance), 0) FROM checked) AS balances_total,
        (SELECT COALESCE(json_agg(json_build_object(
                'account_id', id, 'kind', kind, 'owner_id', owner_id,
                'balance', balance, 'entries_sum', entries_sum)), '[]'::json)
         FROM checked WHERE balance <> entries_sum) AS mismatches,
        (SELECT COALESCE(json_agg(transaction_id), '[]'::json) FROM unbalanced) AS unbalanced
    """
)


def reconcile() -> ReconciliationRun:
    """Check the ledger, store the result and log an error on any mismatch."""
    started = datetime.now(UTC)
    row = db.session.execute(_RECONCILE_SQL).one()
    entries_total, balances_total = int(row.entries_total), int(row.balances_total)  # numeric
    mismatches = list(row.mismatches)
    mismatches += [
        {"transaction_id": t, "problem": "entries do not sum to zero"} for t in row.unbalanced
    ]
    if entries_total != 0 or balances_total != 0:
        mismatches.append(
            {
                "problem": "value not conserved",
                "entries_total": entries_total,
                "balances_total": balances_total,
            }
        )
    run = ReconciliationRun(
        started_at=started,
        finished_at=datetime.now(UTC),
        accounts_checked=row.accounts_checked,
        entries_checked=int(row.entries_checked),
        entries_total=entries_total,
        balances_total=balances_total,
        mismatches=mismatches,
        ok=not mismatches,
    )
    db.session.add(run)
    db.session.flush()
    if mismatches:
        log.error("ledger reconciliation found mismatches", extra={"mismatches": mismatches[:20]})
    else:
        log.info("ledger reconciled", extra={"accounts": run.accounts_checked})
    return run


def latest_run() -> ReconciliationRun | None:
    """The most recent reconciliation, if one ran."""
    return db.session.scalar(
        select(ReconciliationRun).order_by(ReconciliationRun.finished_at.desc()).limit(1)
    )

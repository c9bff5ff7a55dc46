"""ledger_transfer also returns the booked accounts' new balances

The gift books its transfer and writes its rows in one statement; the statement's own
reads see the balances as they were when it started, so the function hands back the
balances it set (in the order of p_accounts; NULL when nothing was booked).

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-22 07:30:00.000000

"""
import importlib.util
from pathlib import Path

from alembic import op

# revision identifiers, used by Alembic.
revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None

SIGNATURE = "ledger_transfer(text, text, text, jsonb, uuid[], bigint[], uuid)"

TRANSFER_FUNCTION = """
CREATE FUNCTION ledger_transfer(
    p_kind text, p_source_ref text, p_fingerprint text, p_details jsonb,
    p_accounts uuid[], p_amounts bigint[], p_unfrozen uuid DEFAULT NULL
) RETURNS TABLE (transaction_id uuid, outcome text, balances bigint[]) LANGUAGE plpgsql AS $$
DECLARE
    tx uuid;
    booked_fingerprint text;
    debt bigint;
    applied int := 0;
    new_balance bigint;
    new_balances bigint[] := '{}';
BEGIN
    PERFORM pg_advisory_xact_lock(hashtextextended(p_kind || '/' || p_source_ref, 0));
    SELECT t.id, t.fingerprint INTO tx, booked_fingerprint
    FROM ledger_transactions t WHERE t.kind = p_kind AND t.source_ref = p_source_ref;
    IF tx IS NOT NULL THEN
        RETURN QUERY SELECT tx, CASE WHEN booked_fingerprint = p_fingerprint
                                     THEN 'replayed' ELSE 'mismatch' END, NULL::bigint[];
        RETURN;
    END IF;
    IF p_unfrozen IS NOT NULL THEN
        -- A shared lock: a reversal that would freeze the account waits for this transfer.
        SELECT balance INTO debt FROM ledger_accounts WHERE id = p_unfrozen FOR SHARE;
        IF debt < 0 THEN
            RETURN QUERY SELECT NULL::uuid, 'frozen', NULL::bigint[];
            RETURN;
        END IF;
    END IF;
    FOR i IN 1 .. array_length(p_accounts, 1) LOOP
        UPDATE ledger_accounts a SET balance = a.balance + p_amounts[i]
        WHERE a.id = p_accounts[i]
          AND CASE
                WHEN a.kind IN ('user_coins', 'user_earnings')
                    THEN a.balance + p_amounts[i] >= 0
                WHEN a.kind = 'user_debt' THEN a.balance + p_amounts[i] <= 0
                ELSE true
              END
        RETURNING a.balance INTO new_balance;
        IF NOT FOUND THEN
            PERFORM ledger_undo(p_accounts, p_amounts, applied);
            RETURN QUERY SELECT NULL::uuid,
                CASE WHEN EXISTS (SELECT 1 FROM ledger_accounts WHERE id = p_accounts[i])
                     THEN 'insufficient:' ELSE 'missing:' END || p_accounts[i]::text,
                NULL::bigint[];
            RETURN;
        END IF;
        applied := i;
        new_balances := new_balances || new_balance;
    END LOOP;
    -- The advisory lock makes a conflict here impossible; the unique key still guards it.
    INSERT INTO ledger_transactions (id, kind, source_ref, fingerprint, details)
    VALUES (gen_random_uuid(), p_kind, p_source_ref, p_fingerprint, p_details)
    RETURNING id INTO tx;
    INSERT INTO ledger_entries (transaction_id, account_id, amount)
    SELECT tx, u.account_id, u.amount FROM unnest(p_accounts, p_amounts) AS u(account_id, amount);
    RETURN QUERY SELECT tx, 'booked', new_balances;
END $$
"""


def upgrade():
    # The result columns change, which CREATE OR REPLACE cannot do.
    op.execute(f"DROP FUNCTION {SIGNATURE}")
    op.execute(TRANSFER_FUNCTION)


def downgrade():
    path = Path(__file__).with_name("0003_ledger_and_payments.py")
    spec = importlib.util.spec_from_file_location("migration_0003", path)
    previous = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(previous)
    op.execute(f"DROP FUNCTION {SIGNATURE}")
    op.execute(previous.TRANSFER_FUNCTION)

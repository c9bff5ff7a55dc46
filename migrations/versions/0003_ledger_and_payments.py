"""ledger and payments: accounts, transactions, immutable entries, purchases, webhooks

The ledger's guarantees live in the database too: entries and transactions cannot be
updated or deleted, every transaction's entries must sum to zero when it commits, and the
platform accounts exist with fixed ids (see mylivelinks.ledger.accounts).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-21 22:58:44.690650

"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

import uuid

# The platform accounts, with the ids mylivelinks.ledger.accounts.platform_account_id gives;
# platform revenue is spread over 16 shards.
_NAMESPACE = uuid.UUID("6f1d3c2a-5b7e-4e8f-9a0b-1c2d3e4f5a6b")
PLATFORM_ACCOUNTS = [
    {
        "id": uuid.uuid5(_NAMESPACE, f"platform/{kind}" + (f"/{shard}" if shard else "")),
        "kind": kind,
        "shard": shard,
    }
    for kind, shards in (
        ("platform_revenue", 16),
        ("purchases_clearing", 1),
        ("reversals_clearing", 1),
        ("adjustments", 1),
    )
    for shard in range(shards)
]

IMMUTABLE_FUNCTION = """
CREATE FUNCTION ledger_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'ledger rows are immutable: % on % refused', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'restrict_violation',
              HINT = 'Reverse a mistake with a new transaction.';
END $$
"""

BALANCED_FUNCTION = """
CREATE FUNCTION ledger_check_balanced() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    total numeric;
BEGIN
    SELECT SUM(amount) INTO total FROM ledger_entries WHERE transaction_id = NEW.transaction_id;
    IF total <> 0 THEN
        RAISE EXCEPTION 'ledger transaction % does not balance (sum %)', NEW.transaction_id, total
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NULL;
END $$
"""

# The body of mylivelinks.ledger.transfers.transfer, in one round trip: replay detection on
# (kind, source_ref) under a transaction-scoped advisory lock (so a concurrent duplicate
# waits and then replays), conditional balance updates in the caller's (account id) order,
# the transaction and its entries. A refused update is undone by compensating the updates
# made before it, so nothing remains and no subtransaction is needed.
TRANSFER_FUNCTION = """
CREATE FUNCTION ledger_transfer(
    p_kind text, p_source_ref text, p_fingerprint text, p_details jsonb,
    p_accounts uuid[], p_amounts bigint[], p_unfrozen uuid DEFAULT NULL
) RETURNS TABLE (transaction_id uuid, outcome text) LANGUAGE plpgsql AS $$
DECLARE
    tx uuid;
    booked_fingerprint text;
    debt bigint;
    applied int := 0;
BEGIN
    PERFORM pg_advisory_xact_lock(hashtextextended(p_kind || '/' || p_source_ref, 0));
    SELECT t.id, t.fingerprint INTO tx, booked_fingerprint
    FROM ledger_transactions t WHERE t.kind = p_kind AND t.source_ref = p_source_ref;
    IF tx IS NOT NULL THEN
        RETURN QUERY SELECT tx, CASE WHEN booked_fingerprint = p_fingerprint
                                     THEN 'replayed' ELSE 'mismatch' END;
        RETURN;
    END IF;
    IF p_unfrozen IS NOT NULL THEN
        -- A shared lock: a reversal that would freeze the account waits for this transfer.
        SELECT balance INTO debt FROM ledger_accounts WHERE id = p_unfrozen FOR SHARE;
        IF debt < 0 THEN
            RETURN QUERY SELECT NULL::uuid, 'frozen';
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
              END;
        IF NOT FOUND THEN
            PERFORM ledger_undo(p_accounts, p_amounts, applied);
            RETURN QUERY SELECT NULL::uuid,
                CASE WHEN EXISTS (SELECT 1 FROM ledger_accounts WHERE id = p_accounts[i])
                     THEN 'insufficient:' ELSE 'missing:' END || p_accounts[i]::text;
            RETURN;
        END IF;
        applied := i;
    END LOOP;
    -- The advisory lock makes a conflict here impossible; the unique key still guards it.
    INSERT INTO ledger_transactions (id, kind, source_ref, fingerprint, details)
    VALUES (gen_random_uuid(), p_kind, p_source_ref, p_fingerprint, p_details)
    RETURNING id INTO tx;
    INSERT INTO ledger_entries (transaction_id, account_id, amount)
    SELECT tx, u.account_id, u.amount FROM unnest(p_accounts, p_amounts) AS u(account_id, amount);
    RETURN QUERY SELECT tx, 'booked';
END $$
"""

UNDO_FUNCTION = """
CREATE FUNCTION ledger_undo(p_accounts uuid[], p_amounts bigint[], p_count int)
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    FOR i IN 1 .. p_count LOOP
        UPDATE ledger_accounts SET balance = balance - p_amounts[i] WHERE id = p_accounts[i];
    END LOOP;
END $$
"""

# revision identifiers, used by Alembic.
revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade():
    # ### commands auto generated by Alembic - please adjust! ###
    op.create_table('ledger_reconciliation_runs',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('accounts_checked', sa.Integer(), nullable=False),
    sa.Column('entries_checked', sa.BigInteger(), nullable=False),
    sa.Column('entries_total', sa.BigInteger(), nullable=False),
    sa.Column('balances_total', sa.BigInteger(), nullable=False),
    sa.Column('mismatches', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('ok', sa.Boolean(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ledger_reconciliation_runs'))
    )
    op.create_table('ledger_transactions',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('kind', sa.String(length=40), nullable=False),
    sa.Column('source_ref', sa.String(length=200), nullable=False),
    sa.Column('fingerprint', sa.String(length=64), nullable=False),
    sa.Column('details', postgresql.JSONB(astext_type=sa.Text()), server_default='{}', nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('clock_timestamp()'), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ledger_transactions')),
    sa.UniqueConstraint('kind', 'source_ref', name=op.f('uq_ledger_transactions_kind'))
    )
    op.create_table('payment_events',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('provider', sa.String(length=16), nullable=False),
    sa.Column('event_id', sa.String(length=255), nullable=False),
    sa.Column('event_type', sa.String(length=100), nullable=False),
    sa.Column('payment_ref', sa.String(length=255), nullable=True),
    sa.Column('raw_body', sa.LargeBinary(), nullable=False),
    sa.Column('payload', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('attempts', sa.Integer(), server_default='0', nullable=False),
    sa.Column('status', sa.String(length=16), server_default='received', nullable=False),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('received_at', sa.DateTime(timezone=True), server_default=sa.text('clock_timestamp()'), nullable=False),
    sa.Column('processed_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("status IN ('received', 'deferred', 'processed', 'ignored', 'failed')", name=op.f('ck_payment_events_status')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_payment_events')),
    sa.UniqueConstraint('provider', 'event_id', name=op.f('uq_payment_events_provider'))
    )
    with op.batch_alter_table('payment_events', schema=None) as batch_op:
        batch_op.create_index('ix_payment_events_payment_ref', ['provider', 'payment_ref'], unique=False)
        batch_op.create_index('ix_payment_events_unprocessed', ['received_at'], unique=False, postgresql_where=sa.text("status IN ('received', 'deferred')"))

    op.create_table('coin_purchases',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('profile_id', sa.Uuid(), nullable=False),
    sa.Column('provider', sa.String(length=16), nullable=False),
    sa.Column('platform', sa.String(length=16), nullable=False),
    sa.Column('pack_id', sa.String(length=64), nullable=False),
    sa.Column('coins', sa.BigInteger(), nullable=False),
    sa.Column('price_cents', sa.BigInteger(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('status', sa.String(length=24), server_default='pending', nullable=False),
    sa.Column('provider_session_id', sa.String(length=255), nullable=True),
    sa.Column('provider_payment_id', sa.String(length=255), nullable=True),
    sa.Column('checkout_url', sa.Text(), nullable=True),
    sa.Column('paid_cents', sa.BigInteger(), nullable=True),
    sa.Column('paid_currency', sa.String(length=3), nullable=True),
    sa.Column('refunded_cents', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('dispute', sa.String(length=8), server_default='none', nullable=False),
    sa.Column('flagged_reason', sa.Text(), nullable=True),
    sa.Column('coins_credited', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('coins_reversed', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('clock_timestamp()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("dispute IN ('none', 'open', 'won', 'lost')", name=op.f('ck_coin_purchases_dispute')),
    sa.CheckConstraint("status IN ('pending', 'confirmed', 'refunded', 'partially_refunded', 'disputed', 'chargeback', 'flagged')", name=op.f('ck_coin_purchases_status')),
    sa.CheckConstraint('coins > 0 AND price_cents > 0', name=op.f('ck_coin_purchases_positive_pack')),
    sa.CheckConstraint('coins_reversed >= 0 AND coins_reversed <= coins_credited', name=op.f('ck_coin_purchases_reversal_bounds')),
    sa.CheckConstraint('refunded_cents >= 0', name=op.f('ck_coin_purchases_refunded_nonnegative')),
    sa.ForeignKeyConstraint(['profile_id'], ['profiles.id'], name=op.f('fk_coin_purchases_profile_id_profiles'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_coin_purchases')),
    sa.UniqueConstraint('provider', 'provider_payment_id', name='uq_coin_purchases_provider_payment'),
    sa.UniqueConstraint('provider', 'provider_session_id', name='uq_coin_purchases_provider_session')
    )
    with op.batch_alter_table('coin_purchases', schema=None) as batch_op:
        batch_op.create_index('ix_coin_purchases_profile_recent', ['profile_id', 'created_at', 'id'], unique=False)

    op.create_table('idempotency_records',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('profile_id', sa.Uuid(), nullable=False),
    sa.Column('key', sa.String(length=255), nullable=False),
    sa.Column('fingerprint', sa.String(length=64), nullable=False),
    sa.Column('status_code', sa.Integer(), nullable=False),
    sa.Column('body', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('clock_timestamp()'), nullable=False),
    sa.ForeignKeyConstraint(['profile_id'], ['profiles.id'], name=op.f('fk_idempotency_records_profile_id_profiles'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_idempotency_records')),
    sa.UniqueConstraint('profile_id', 'key', name=op.f('uq_idempotency_records_profile_id'))
    )
    with op.batch_alter_table('idempotency_records', schema=None) as batch_op:
        batch_op.create_index('ix_idempotency_records_created_at', ['created_at'], unique=False)

    op.create_table('ledger_accounts',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('owner_id', sa.Uuid(), nullable=True),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('shard', sa.SmallInteger(), server_default='0', nullable=False),
    sa.Column('unit', sa.String(length=16), server_default='centicoin', nullable=False),
    sa.Column('balance', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('clock_timestamp()'), nullable=False),
    sa.CheckConstraint("(owner_id IS NULL) = (kind NOT IN ('user_coins', 'user_earnings', 'user_debt'))", name=op.f('ck_ledger_accounts_owner_matches_kind')),
    sa.CheckConstraint("kind <> 'user_debt' OR balance <= 0", name=op.f('ck_ledger_accounts_debt_nonpositive')),
    sa.CheckConstraint("kind IN ('user_coins', 'user_earnings', 'user_debt', 'platform_revenue', 'purchases_clearing', 'reversals_clearing', 'adjustments')", name=op.f('ck_ledger_accounts_kind')),
    sa.CheckConstraint("kind NOT IN ('user_coins', 'user_earnings') OR balance >= 0", name=op.f('ck_ledger_accounts_nonnegative')),
    sa.CheckConstraint("unit = 'centicoin'", name=op.f('ck_ledger_accounts_unit')),
    sa.CheckConstraint('shard >= 0', name=op.f('ck_ledger_accounts_shard_nonnegative')),
    sa.ForeignKeyConstraint(['owner_id'], ['profiles.id'], name=op.f('fk_ledger_accounts_owner_id_profiles'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ledger_accounts'))
    )
    with op.batch_alter_table('ledger_accounts', schema=None) as batch_op:
        batch_op.create_index('uq_ledger_accounts_owner_kind', ['owner_id', 'kind'], unique=True)
        batch_op.create_index('uq_ledger_accounts_platform_kind_shard', ['kind', 'shard'], unique=True, postgresql_where=sa.text('owner_id IS NULL'))

    op.create_table('ledger_entries',
    sa.Column('id', sa.BigInteger(), sa.Identity(always=True), nullable=False),
    sa.Column('transaction_id', sa.Uuid(), nullable=False),
    sa.Column('account_id', sa.Uuid(), nullable=False),
    sa.Column('amount', sa.BigInteger(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('clock_timestamp()'), nullable=False),
    sa.CheckConstraint('amount <> 0', name=op.f('ck_ledger_entries_nonzero')),
    sa.ForeignKeyConstraint(['account_id'], ['ledger_accounts.id'], name=op.f('fk_ledger_entries_account_id_ledger_accounts'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['transaction_id'], ['ledger_transactions.id'], name=op.f('fk_ledger_entries_transaction_id_ledger_transactions'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ledger_entries'))
    )
    with op.batch_alter_table('ledger_entries', schema=None) as batch_op:
        batch_op.create_index('ix_ledger_entries_account_recent', ['account_id', 'id'], unique=False)
        batch_op.create_index(batch_op.f('ix_ledger_entries_transaction_id'), ['transaction_id'], unique=False)

    # ### end Alembic commands ###
    op.execute(IMMUTABLE_FUNCTION)
    for table in ("ledger_entries", "ledger_transactions"):
        op.execute(
            f"CREATE TRIGGER {table}_immutable BEFORE UPDATE OR DELETE OR TRUNCATE ON {table} "
            "FOR EACH STATEMENT EXECUTE FUNCTION ledger_refuse_change()"
        )
    op.execute(BALANCED_FUNCTION)
    op.execute(UNDO_FUNCTION)
    op.execute(TRANSFER_FUNCTION)
    op.execute(
        "CREATE CONSTRAINT TRIGGER ledger_transaction_balanced AFTER INSERT ON ledger_entries "
        "DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION ledger_check_balanced()"
    )
    accounts = sa.table(
        "ledger_accounts",
        sa.column("id", sa.Uuid()),
        sa.column("kind", sa.String()),
        sa.column("shard", sa.SmallInteger()),
    )
    op.bulk_insert(accounts, PLATFORM_ACCOUNTS)


def downgrade():
    op.execute("DROP TRIGGER ledger_transaction_balanced ON ledger_entries")
    op.execute("DROP TRIGGER ledger_entries_immutable ON ledger_entries")
    op.execute("DROP TRIGGER ledger_transactions_immutable ON ledger_transactions")
    op.execute("DROP FUNCTION ledger_check_balanced()")
    op.execute("DROP FUNCTION ledger_transfer(text, text, text, jsonb, uuid[], bigint[], uuid)")
    op.execute("DROP FUNCTION ledger_undo(uuid[], bigint[], int)")
    op.execute("DROP FUNCTION ledger_refuse_change()")
    # ### commands auto generated by Alembic - please adjust! ###
    with op.batch_alter_table('ledger_entries', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_ledger_entries_transaction_id'))
        batch_op.drop_index('ix_ledger_entries_account_recent')

    op.drop_table('ledger_entries')
    with op.batch_alter_table('ledger_accounts', schema=None) as batch_op:
        batch_op.drop_index('uq_ledger_accounts_platform_kind_shard', postgresql_where=sa.text('owner_id IS NULL'))
        batch_op.drop_index('uq_ledger_accounts_owner_kind')

    op.drop_table('ledger_accounts')
    with op.batch_alter_table('idempotency_records', schema=None) as batch_op:
        batch_op.drop_index('ix_idempotency_records_created_at')

    op.drop_table('idempotency_records')
    with op.batch_alter_table('coin_purchases', schema=None) as batch_op:
        batch_op.drop_index('ix_coin_purchases_profile_recent')

    op.drop_table('coin_purchases')
    with op.batch_alter_table('payment_events', schema=None) as batch_op:
        batch_op.drop_index('ix_payment_events_unprocessed', postgresql_where=sa.text("status IN ('received', 'deferred')"))
        batch_op.drop_index('ix_payment_events_payment_ref')

    op.drop_table('payment_events')
    op.drop_table('ledger_transactions')
    op.drop_table('ledger_reconciliation_runs')
    # ### end Alembic commands ###

"""App Store and Google Play purchases: restored coins, store records, longer references

Apple can reverse a refund (coins given back: `coins_restored`, ordered by the store's time
in `refund_reported_at`); Google expects each purchase consumed (`store_finished_at`,
swept until set); Google's notifications name only a purchase token, so the job
stores what the Play Developer API answered about it (`store_record`), and purchase tokens
(kept as the purchase's `provider_session_id` and the events' `payment_ref`) have no
documented length limit.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-07 02:30:00.000000

"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

# revision identifiers, used by Alembic.
revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('coin_purchases') as batch_op:
        batch_op.add_column(
            sa.Column('coins_restored', sa.BigInteger(), server_default='0', nullable=False)
        )
        batch_op.add_column(
            sa.Column('refund_reported_at', sa.DateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(
            sa.Column('store_finished_at', sa.DateTime(timezone=True), nullable=True)
        )
        batch_op.alter_column(
            'provider_session_id', type_=sa.Text(), existing_type=sa.String(length=255)
        )
        batch_op.create_check_constraint(
            op.f('ck_coin_purchases_restored_nonnegative'), 'coins_restored >= 0'
        )
    with op.batch_alter_table('payment_events') as batch_op:
        batch_op.add_column(
            sa.Column('store_record', postgresql.JSONB(astext_type=sa.Text()), nullable=True)
        )
        batch_op.alter_column('payment_ref', type_=sa.Text(), existing_type=sa.String(length=255))


def downgrade():
    with op.batch_alter_table('payment_events') as batch_op:
        batch_op.alter_column('payment_ref', type_=sa.String(length=255), existing_type=sa.Text())
        batch_op.drop_column('store_record')
    with op.batch_alter_table('coin_purchases') as batch_op:
        batch_op.drop_constraint(op.f('ck_coin_purchases_restored_nonnegative'), type_='check')
        batch_op.alter_column(
            'provider_session_id', type_=sa.String(length=255), existing_type=sa.Text()
        )
        batch_op.drop_column('store_finished_at')
        batch_op.drop_column('refund_reported_at')
        batch_op.drop_column('coins_restored')

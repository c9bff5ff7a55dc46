"""seated notifications are stored like went_live ones

A streamer seated from the queue was told by a private event of its own shape, stored
nowhere; it is now a notification of kind `seated`.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07 02:30:00.000000

"""
from alembic import op

# revision identifiers, used by Alembic.
revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade():
    op.drop_constraint(op.f('ck_notifications_kind'), 'notifications', type_='check')
    op.create_check_constraint(
        op.f('ck_notifications_kind'), 'notifications', "kind IN ('went_live', 'seated')"
    )


def downgrade():
    op.execute("DELETE FROM notifications WHERE kind = 'seated'")
    op.drop_constraint(op.f('ck_notifications_kind'), 'notifications', type_='check')
    op.create_check_constraint(
        op.f('ck_notifications_kind'), 'notifications', "kind IN ('went_live')"
    )

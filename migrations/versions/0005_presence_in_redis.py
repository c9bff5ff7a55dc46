"""heartbeats move to Redis presence: drop the heartbeat columns

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-22 09:10:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade():
    op.drop_index('ix_box_viewers_heartbeat', table_name='box_viewers')
    op.drop_column('box_viewers', 'last_heartbeat_at')
    op.drop_column('streams', 'last_heartbeat_at')


def downgrade():
    # Rows get "now" as their last heartbeat: the sweep judges them from the next one on.
    op.add_column('streams', sa.Column('last_heartbeat_at', sa.DateTime(timezone=True), nullable=True))
    op.add_column(
        'box_viewers',
        sa.Column('last_heartbeat_at', sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    )
    op.alter_column('box_viewers', 'last_heartbeat_at', server_default=None)
    op.create_index('ix_box_viewers_heartbeat', 'box_viewers', ['last_heartbeat_at'], unique=False)

"""media events: the vendor's sequence and whether the participant could publish

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-07 02:30:00.000000

"""
from alembic import op
import sqlalchemy as sa

# revision identifiers, used by Alembic.
revision = '0018'
down_revision = '0017'
branch_labels = None
depends_on = None


def upgrade():
    op.add_column('media_events', sa.Column('sequence', sa.BigInteger(), nullable=True))
    op.add_column('media_events', sa.Column('can_publish', sa.Boolean(), nullable=True))


def downgrade():
    op.drop_column('media_events', 'can_publish')
    op.drop_column('media_events', 'sequence')

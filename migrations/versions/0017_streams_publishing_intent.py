"""streams.publishing_intent: the publish state a sync is applying at the provider

Written and committed before the provider call and cleared when its outcome is recorded,
so a worker that dies in between leaves a mark: the provider may hold either state, and
the sweep has the sync assert the derived one again.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-07 02:30:00.000000

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0017'
down_revision = '0016'
branch_labels = None
depends_on = None


def upgrade():
    op.add_column('streams', sa.Column('publishing_intent', sa.Boolean(), nullable=True))


def downgrade():
    op.drop_column('streams', 'publishing_intent')

"""store sync marks: how far the poll of Google's voided purchases has read

Refunds and chargebacks Google Play notifies by Pub/Sub are also read from the Voided
Purchases API on a schedule, so a notification that never arrives still takes the coins
back. The poll resumes from the end of the last window it read whole, kept here (in the
database, beside the money, rather than in Redis) so a restart or a missed run loses
nothing.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-07 05:10:00.000000

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "store_sync_marks",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("synced_until", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_store_sync_marks")),
    )


def downgrade():
    op.drop_table("store_sync_marks")

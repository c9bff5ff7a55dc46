"""reports are resolved by moderators with an outcome; one open report per reporter and target

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-07 02:40:00.000000

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('reports', schema=None) as batch_op:
        batch_op.add_column(sa.Column('outcome', sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column('resolution_note', sa.String(length=500), nullable=True))
        batch_op.add_column(sa.Column('resolved_by', sa.Uuid(), nullable=True))
        batch_op.add_column(
            sa.Column('resolved_at', sa.DateTime(timezone=True), nullable=True)
        )
        batch_op.create_foreign_key(
            batch_op.f('fk_reports_resolved_by_profiles'),
            'profiles',
            ['resolved_by'],
            ['id'],
            ondelete='SET NULL',
        )
        batch_op.drop_index('ix_reports_open', postgresql_where=sa.text("status = 'open'"))
        batch_op.create_index('ix_reports_queue', ['status', 'created_at', 'id'], unique=False)
    # Nothing closed a report before: any 'closed' one was never decided on.
    op.execute("UPDATE reports SET status = 'open' WHERE status = 'closed'")
    # Duplicates already filed: the reporter's first report of a target stands.
    op.execute(
        "DELETE FROM reports r USING reports earlier "
        "WHERE r.reporter_id = earlier.reporter_id AND r.target_type = earlier.target_type "
        "AND r.target_id = earlier.target_id "
        "AND (earlier.created_at, earlier.id) < (r.created_at, r.id)"
    )
    op.drop_constraint(op.f('ck_reports_status'), 'reports', type_='check')
    op.create_check_constraint(op.f('ck_reports_status'), 'reports', "status IN ('open', 'resolved')")
    op.create_check_constraint(
        op.f('ck_reports_outcome'), 'reports', "outcome IN ('dismissed', 'actioned')"
    )
    op.create_check_constraint(
        op.f('ck_reports_outcome_when_resolved'),
        'reports',
        "(status = 'open') = (outcome IS NULL)",
    )
    op.create_index(
        'uq_reports_open_reporter_target',
        'reports',
        ['reporter_id', 'target_type', 'target_id'],
        unique=True,
        postgresql_where=sa.text("status = 'open'"),
    )


def downgrade():
    op.drop_index('uq_reports_open_reporter_target', table_name='reports')
    op.drop_constraint(op.f('ck_reports_outcome_when_resolved'), 'reports', type_='check')
    op.drop_constraint(op.f('ck_reports_outcome'), 'reports', type_='check')
    op.drop_constraint(op.f('ck_reports_status'), 'reports', type_='check')
    op.execute("UPDATE reports SET status = 'closed' WHERE status = 'resolved'")
    op.create_check_constraint(op.f('ck_reports_status'), 'reports', "status IN ('open', 'closed')")
    with op.batch_alter_table('reports', schema=None) as batch_op:
        batch_op.drop_index('ix_reports_queue')
        batch_op.create_index(
            'ix_reports_open', ['created_at'], unique=False, postgresql_where=sa.text("status = 'open'")
        )
        batch_op.drop_constraint(batch_op.f('fk_reports_resolved_by_profiles'), type_='foreignkey')
        batch_op.drop_column('resolved_at')
        batch_op.drop_column('resolved_by')
        batch_op.drop_column('resolution_note')
        batch_op.drop_column('outcome')

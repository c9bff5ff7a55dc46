"""stream stats, viewer sessions and anonymous viewing

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-22 03:30:00.000000

"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

# revision identifiers, used by Alembic.
revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade():
    op.add_column('streams', sa.Column('peak_viewers', sa.Integer(), server_default='0', nullable=False))
    op.add_column('streams', sa.Column('total_views', sa.Integer(), nullable=True))
    op.add_column('streams', sa.Column('unique_viewers', sa.Integer(), nullable=True))
    op.add_column('streams', sa.Column('average_watch_seconds', sa.Integer(), nullable=True))
    op.add_column('streams', sa.Column('chat_messages', sa.Integer(), nullable=True))
    op.create_table('viewer_sessions',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('stream_id', sa.Uuid(), nullable=False),
    sa.Column('viewer_id', sa.Uuid(), nullable=True),
    sa.Column('joined_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('left_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('watch_seconds', sa.Integer(), nullable=True),
    sa.Column('messages_sent', sa.Integer(), nullable=True),
    sa.Column('gifts_sent', sa.Integer(), nullable=True),
    sa.Column('gift_coins_sent', sa.BigInteger(), nullable=True),
    sa.ForeignKeyConstraint(['stream_id'], ['streams.id'], name=op.f('fk_viewer_sessions_stream_id_streams'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['viewer_id'], ['profiles.id'], name=op.f('fk_viewer_sessions_viewer_id_profiles'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_viewer_sessions'))
    )
    op.create_index('ix_viewer_sessions_viewer', 'viewer_sessions', ['viewer_id', 'joined_at'], unique=False)
    op.create_index('uq_viewer_sessions_open', 'viewer_sessions', ['stream_id', 'viewer_id'], unique=True, postgresql_where=sa.text('left_at IS NULL'))
    op.add_column('rooms', sa.Column('anonymous_viewing', sa.Boolean(), server_default=sa.text('false'), nullable=False))
    op.drop_constraint(op.f('ck_profiles_role'), 'profiles', type_='check')
    op.create_check_constraint(op.f('ck_profiles_role'), 'profiles', "role IN ('user', 'moderator', 'admin', 'guest')")


def downgrade():
    op.execute("DELETE FROM profiles WHERE role = 'guest'")
    op.drop_constraint(op.f('ck_profiles_role'), 'profiles', type_='check')
    op.create_check_constraint(op.f('ck_profiles_role'), 'profiles', "role IN ('user', 'moderator', 'admin')")
    op.drop_column('rooms', 'anonymous_viewing')
    op.drop_index('uq_viewer_sessions_open', table_name='viewer_sessions', postgresql_where=sa.text('left_at IS NULL'))
    op.drop_index('ix_viewer_sessions_viewer', table_name='viewer_sessions')
    op.drop_table('viewer_sessions')
    op.drop_column('streams', 'chat_messages')
    op.drop_column('streams', 'average_watch_seconds')
    op.drop_column('streams', 'unique_viewers')
    op.drop_column('streams', 'total_views')
    op.drop_column('streams', 'peak_viewers')

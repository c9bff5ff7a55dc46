"""rooms, boxes and gift types

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-21 22:30:12.343052

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade():
    # Schema only: the rows (room `main`, its boxes, the gift catalog) come from `flask seed`.
    op.create_table('rooms',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('slug', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('box_count', sa.Integer(), nullable=False),
    sa.Column('owner_id', sa.Uuid(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('clock_timestamp()'), nullable=False),
    sa.CheckConstraint("kind IN ('group', 'solo')", name=op.f('ck_rooms_kind')),
    sa.CheckConstraint('box_count BETWEEN 1 AND 12', name=op.f('ck_rooms_box_count_range')),
    sa.CheckConstraint('slug = lower(slug)', name=op.f('ck_rooms_slug_lowercase')),
    sa.ForeignKeyConstraint(['owner_id'], ['profiles.id'], name=op.f('fk_rooms_owner_id_profiles'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_rooms')),
    sa.UniqueConstraint('slug', name=op.f('uq_rooms_slug'))
    )
    op.create_table('boxes',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('room_id', sa.Uuid(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.CheckConstraint('position BETWEEN 1 AND 12', name=op.f('ck_boxes_position_range')),
    sa.ForeignKeyConstraint(['room_id'], ['rooms.id'], name=op.f('fk_boxes_room_id_rooms'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_boxes')),
    sa.UniqueConstraint('room_id', 'position', name=op.f('uq_boxes_room_id'))
    )
    op.create_table('gift_types',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('name', sa.String(length=50), nullable=False),
    sa.Column('emoji', sa.String(length=16), nullable=False),
    sa.Column('coin_cost', sa.BigInteger(), nullable=False),
    sa.Column('animation', sa.String(length=16), nullable=False),
    sa.Column('rarity', sa.String(length=16), nullable=False),
    sa.Column('sort_order', sa.Integer(), nullable=False),
    sa.Column('active', sa.Boolean(), server_default=sa.text('true'), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('clock_timestamp()'), nullable=False),
    sa.CheckConstraint('coin_cost > 0', name=op.f('ck_gift_types_coin_cost_positive')),
    sa.CheckConstraint("animation IN ('float', 'burst', 'fireworks', 'confetti')", name=op.f('ck_gift_types_animation')),
    sa.CheckConstraint("rarity IN ('common', 'rare', 'epic', 'legendary')", name=op.f('ck_gift_types_rarity')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_gift_types')),
    sa.UniqueConstraint('name', name=op.f('uq_gift_types_name'))
    )


def downgrade():
    op.drop_table('gift_types')
    op.drop_table('boxes')
    op.drop_table('rooms')

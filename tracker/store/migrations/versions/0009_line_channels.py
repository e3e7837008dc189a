"""LINE channels: an organisation's own official account (organisations.line_channel), and each
channel's monthly quota and consumption as last read from LINE (line_quota)

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0009'
down_revision: str | None = '0008'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('organisations', schema=None) as batch_op:
        batch_op.add_column(sa.Column('line_channel', sa.JSON(), nullable=True))
    op.create_table('line_quota',
    sa.Column('channel', sa.String(length=64), nullable=False),
    sa.Column('quota', sa.Integer(), nullable=True),
    sa.Column('used', sa.Integer(), nullable=False),
    sa.Column('checked_at', sa.DateTime(), nullable=False),
    sa.Column('alerted_month', sa.String(length=7), nullable=False),
    sa.PrimaryKeyConstraint('channel', name=op.f('pk_line_quota'))
    )


def downgrade() -> None:
    op.drop_table('line_quota')
    with op.batch_alter_table('organisations', schema=None) as batch_op:
        batch_op.drop_column('line_channel')

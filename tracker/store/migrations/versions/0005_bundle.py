"""outbox.bundle_key: the one message a day's reminders for a person and channel went out in

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0005'
down_revision: str | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.add_column(sa.Column('bundle_key', sa.String(length=200), nullable=True))
        batch_op.create_index(batch_op.f('ix_outbox_bundle_key'), ['bundle_key'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_outbox_bundle_key'))
        batch_op.drop_column('bundle_key')

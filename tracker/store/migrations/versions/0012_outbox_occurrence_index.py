"""outbox: no index of its own on occurrence_id

Every row a planning run inserts (~110,000 at national scale) paid for an entry in `ix_outbox_occurrence`
(~0.1 s of the run on PostgreSQL). The unique key `key_digest` begins with the occurrence id (4 bytes,
big-endian; see tracker.store.outbox_keys), so the reminders of one occurrence are already one range of
that index, and the few queries by occurrence read them there (`outbox_keys.of_occurrences`).

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-27
"""

from collections.abc import Sequence

from alembic import op

revision: str = '0012'
down_revision: str | None = '0011'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_index('ix_outbox_occurrence', table_name='outbox')


def downgrade() -> None:
    op.create_index('ix_outbox_occurrence', 'outbox', ['occurrence_id'], unique=False)

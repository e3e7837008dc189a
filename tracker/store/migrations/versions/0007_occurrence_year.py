"""occurrences (org_id, fiscal_year): the planner's rollover check reads one index entry per organisation

Every planning run asks which organisations have no occurrence of the current fiscal year yet
(tracker.store.rollover). With only the org_id index, from the second fiscal year on each organisation's
older occurrences were read first: about 0.3 s per sweep at national scale.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-27
"""

from collections.abc import Sequence

from alembic import op

revision: str = '0007'
down_revision: str | None = '0006'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index('ix_occurrences_org_year', 'occurrences', ['org_id', 'fiscal_year'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_occurrences_org_year', table_name='occurrences')

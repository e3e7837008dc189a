"""outbox: indexes for dispatching a national day

A claim takes the earliest due rows first, ties broken by id (the order planning wrote them in). With
`ix_outbox_claim` on (status, next_attempt_at) only, PostgreSQL read every due row and sorted them for
each claim of 200: ~75 ms with the 109,900 reminders of a heavy national day, and ~550 claims to send
them. On (status, next_attempt_at, id) a claim reads its rows in index order and stops at the batch.

A claim is widened to the whole day of each person it touched, and a person already sent a message
today waits: both looked the person's rows up by organisation alone (`ix_outbox_org_id`), reading
every reminder they ever had (~600 a year): 0.5 s of a 0.7 s claim with 3,000,000 rows sent before.
`ix_outbox_person` (org_id, destination, status, sent_at) replaces it: still the organisation's rows
for its pages, and a person's rows of one status and day as one range.

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-27
"""

from collections.abc import Sequence

from alembic import op

revision: str = '0013'
down_revision: str | None = '0012'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_index('ix_outbox_claim', table_name='outbox')
    op.create_index('ix_outbox_claim', 'outbox', ['status', 'next_attempt_at', 'id'], unique=False)
    op.drop_index('ix_outbox_org_id', table_name='outbox')
    op.create_index('ix_outbox_person', 'outbox', ['org_id', 'destination', 'status', 'sent_at'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_outbox_person', table_name='outbox')
    op.create_index('ix_outbox_org_id', 'outbox', ['org_id'], unique=False)
    op.drop_index('ix_outbox_claim', table_name='outbox')
    op.create_index('ix_outbox_claim', 'outbox', ['status', 'next_attempt_at'], unique=False)

"""outbox: no foreign keys, a 16-byte unique key; plan_recipients (the planner's recipient cache)

At national scale a planning run inserts ~110,000 outbox rows. On PostgreSQL the two foreign-key checks
per row were 47 % of the insert and the unique index of the text key most of the rest: the outbox keeps
its readable `key` (no longer indexed) and is made unique by `key_digest` (tracker.store.outbox_keys:
the occurrence id, 4 bytes, then 12 bytes of the key's SHA-256); the bundle key's index leaves out the
rows not bundled yet (all of those a planning run adds);
nothing deletes organisations or occurrences, and reminders whose occurrence is gone are cancelled by the
planner and at send time. `plan_recipients` keeps each organisation's recipients between planning runs
(`organisations.recipients_cached` says whether they are current).

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-27
"""

import hashlib
import re
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0011'
down_revision: str | None = '0010'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# tracker.store.outbox_keys, frozen here: a reminder's key starts with "occ:<occurrence id>:".
OCCURRENCE = re.compile(r"occ:([0-9]+):")
DIGEST = ("int4send(COALESCE(substring(key from '^occ:([0-9]+):')::integer, 0))"
          " || substring(sha256(convert_to(key, 'UTF8')) from 1 for 12)")


def _digest(key: str) -> bytes:
    found = OCCURRENCE.match(key)
    return int(found.group(1) if found else 0).to_bytes(4, "big") + hashlib.sha256(key.encode()).digest()[:12]


def _fill_digests() -> None:
    bind = op.get_bind()
    if bind.dialect.name == 'postgresql':
        op.execute(f"UPDATE outbox SET key_digest = {DIGEST}")
        return
    rows = bind.exec_driver_sql("SELECT id, key FROM outbox").all()
    if rows:
        bind.exec_driver_sql("UPDATE outbox SET key_digest = ? WHERE id = ?",
                             [(_digest(key), id_) for id_, key in rows])


def _keeping_attempts(change) -> None:  # type: ignore[no-untyped-def]
    """Run `change` (which may rebuild the outbox table): SQLite rebuilds a table by dropping it, and with
    foreign keys on, dropping the outbox would delete every delivery attempt (ON DELETE CASCADE); the
    pragma cannot be turned off inside the migration's transaction, so the attempts are kept aside."""
    sqlite = op.get_bind().dialect.name == 'sqlite'
    if sqlite:
        op.execute("CREATE TEMP TABLE keep_attempts AS SELECT * FROM delivery_attempts")
    change()
    if sqlite:
        op.execute("INSERT INTO delivery_attempts SELECT * FROM keep_attempts WHERE id NOT IN"
                   " (SELECT id FROM delivery_attempts)")
        op.execute("DROP TABLE keep_attempts")


def upgrade() -> None:
    op.add_column('outbox', sa.Column('key_digest', sa.LargeBinary(length=16), nullable=True))
    _fill_digests()

    def change() -> None:
        with op.batch_alter_table('outbox', schema=None) as batch_op:
            batch_op.alter_column('key_digest', existing_type=sa.LargeBinary(length=16), nullable=False)
            batch_op.drop_constraint('fk_outbox_org_id_organisations', type_='foreignkey')
            batch_op.drop_constraint('fk_outbox_occurrence_id_occurrences', type_='foreignkey')
            batch_op.drop_constraint('uq_outbox_key', type_='unique')
            batch_op.create_unique_constraint(batch_op.f('uq_outbox_key_digest'), ['key_digest'])
            batch_op.drop_index('ix_outbox_bundle_key')
            batch_op.create_index('ix_outbox_bundle_key', ['bundle_key'], unique=False,
                                  postgresql_where=sa.text('bundle_key IS NOT NULL'),
                                  sqlite_where=sa.text('bundle_key IS NOT NULL'))
    _keeping_attempts(change)

    with op.batch_alter_table('organisations', schema=None) as batch_op:
        batch_op.add_column(sa.Column('recipients_cached', sa.Boolean(), server_default=sa.false(), nullable=False))
    op.create_table('plan_recipients',
    sa.Column('org_id', sa.Integer(), nullable=False),
    sa.Column('unit_code', sa.String(length=64), nullable=False),
    sa.Column('audience', sa.String(length=16), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('destination', sa.String(length=512), nullable=False),
    sa.Column('who', sa.String(length=64), nullable=False),
    sa.ForeignKeyConstraint(['org_id'], ['organisations.id'], name=op.f('fk_plan_recipients_org_id_organisations'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('org_id', 'unit_code', 'audience', 'seq', name=op.f('pk_plan_recipients'))
    )


def downgrade() -> None:
    op.drop_table('plan_recipients')
    with op.batch_alter_table('organisations', schema=None) as batch_op:
        batch_op.drop_column('recipients_cached')
    # Rows whose parent is gone would violate the foreign keys restored below.
    op.execute("DELETE FROM outbox WHERE org_id NOT IN (SELECT id FROM organisations) OR (occurrence_id IS NOT"
               " NULL AND occurrence_id NOT IN (SELECT id FROM occurrences))")

    def change() -> None:
        with op.batch_alter_table('outbox', schema=None) as batch_op:
            batch_op.drop_index('ix_outbox_bundle_key')
            batch_op.create_index('ix_outbox_bundle_key', ['bundle_key'], unique=False)
            batch_op.drop_constraint('uq_outbox_key_digest', type_='unique')
            batch_op.create_unique_constraint('uq_outbox_key', ['key'])
            batch_op.create_foreign_key('fk_outbox_occurrence_id_occurrences', 'occurrences', ['occurrence_id'],
                                        ['id'], ondelete='CASCADE')
            batch_op.create_foreign_key('fk_outbox_org_id_organisations', 'organisations', ['org_id'], ['id'],
                                        ondelete='CASCADE')
            batch_op.drop_column('key_digest')
    _keeping_attempts(change)

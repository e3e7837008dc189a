"""LINE connection: bindings of contacts to chats, one-time connect codes, webhook events seen

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0004'
down_revision: str | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('line_bindings',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('org_id', sa.Integer(), nullable=False),
    sa.Column('contact', sa.String(length=255), nullable=False),
    sa.Column('channel', sa.String(length=64), nullable=False),
    sa.Column('chat_kind', sa.String(length=8), nullable=False),
    sa.Column('chat_id', sa.String(length=33), nullable=False),
    sa.Column('bound_at', sa.DateTime(), nullable=False),
    sa.Column('disabled_at', sa.DateTime(), nullable=True),
    sa.Column('disabled_reason', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['org_id'], ['organisations.id'], name=op.f('fk_line_bindings_org_id_organisations'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_line_bindings')),
    sa.UniqueConstraint('org_id', 'contact', name=op.f('uq_line_bindings_org_id_contact'))
    )
    with op.batch_alter_table('line_bindings', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_line_bindings_chat_id'), ['chat_id'], unique=False)

    op.create_table('line_connect_codes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('org_id', sa.Integer(), nullable=False),
    sa.Column('contact', sa.String(length=255), nullable=False),
    sa.Column('code_hash', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('expires_at', sa.DateTime(), nullable=False),
    sa.Column('used_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['org_id'], ['organisations.id'], name=op.f('fk_line_connect_codes_org_id_organisations'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_line_connect_codes')),
    sa.UniqueConstraint('code_hash', name=op.f('uq_line_connect_codes_code_hash'))
    )
    with op.batch_alter_table('line_connect_codes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_line_connect_codes_org_id'), ['org_id'], unique=False)

    op.create_table('line_webhook_events',
    sa.Column('event_id', sa.String(length=64), nullable=False),
    sa.Column('channel', sa.String(length=64), nullable=False),
    sa.Column('type', sa.String(length=32), nullable=False),
    sa.Column('received_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('event_id', name=op.f('pk_line_webhook_events'))
    )


def downgrade() -> None:
    op.drop_table('line_webhook_events')
    with op.batch_alter_table('line_connect_codes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_line_connect_codes_org_id'))
    op.drop_table('line_connect_codes')
    with op.batch_alter_table('line_bindings', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_line_bindings_chat_id'))
    op.drop_table('line_bindings')

"""contact_addresses (each contact's destinations, indexed) and signin_requests (sign-in asks per client)

Signing in looked a person up by reading every contact in the country and comparing the JSON lists in
Python (about 2 s per request at national scale, on every signed-in page). The addresses are copied
here, normalised (`models.address_key`), and indexed. Existing contacts are copied by this migration.
`signin_requests` counts sign-in link requests per client (hashed address) for the per-client limit.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-27
"""

import json
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0010'
down_revision: str | None = '0009'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _key(destination: str) -> str:
    # models.address_key as of this revision (a migration must not change when the model does)
    return destination.lower() if destination.lower().startswith("mailto:") else destination


def upgrade() -> None:
    op.create_table('contact_addresses',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('contact_id', sa.Integer(), nullable=False),
    sa.Column('address', sa.String(length=512), nullable=False),
    sa.ForeignKeyConstraint(['contact_id'], ['contacts.id'], name=op.f('fk_contact_addresses_contact_id_contacts'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_contact_addresses'))
    )
    with op.batch_alter_table('contact_addresses', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_contact_addresses_address'), ['address'], unique=False)
        batch_op.create_index(batch_op.f('ix_contact_addresses_contact_id'), ['contact_id'], unique=False)
    op.create_table('signin_requests',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('client', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_signin_requests'))
    )
    with op.batch_alter_table('signin_requests', schema=None) as batch_op:
        batch_op.create_index('ix_signin_requests_client_created', ['client', 'created_at'], unique=False)

    conn = op.get_bind()
    contacts = sa.table('contacts', sa.column('id', sa.Integer()), sa.column('destinations', sa.JSON()))
    addresses = sa.table('contact_addresses', sa.column('contact_id', sa.Integer()), sa.column('address', sa.String()))
    rows = []
    for contact_id, destinations in conn.execute(sa.select(contacts.c.id, contacts.c.destinations)):
        if isinstance(destinations, str):
            destinations = json.loads(destinations)
        for address in dict.fromkeys(_key(str(d)) for d in destinations or []):
            rows.append({"contact_id": contact_id, "address": address})
    if rows:
        op.bulk_insert(addresses, rows)


def downgrade() -> None:
    with op.batch_alter_table('signin_requests', schema=None) as batch_op:
        batch_op.drop_index('ix_signin_requests_client_created')
    op.drop_table('signin_requests')
    with op.batch_alter_table('contact_addresses', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_contact_addresses_contact_id'))
        batch_op.drop_index(batch_op.f('ix_contact_addresses_address'))
    op.drop_table('contact_addresses')

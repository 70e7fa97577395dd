"""The profile store of the Conversation Memory stand-in, and Studio Flow Executions.

``profile_addresses`` (an address key linked to a profile, GROUP_BY_PROFILE)
becomes ``profiles`` + ``profile_identifiers``: a bare number is the ``phone``
identifier, a ``CHANNEL:address`` key the identifier named after its channel
(``VOICE`` numbers are ``phone`` too). Traits, memories and Studio executions
are new.

Revision ID: 0002_memory_studio
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = '0002_memory_studio'
down_revision = '0001'
branch_labels = None
depends_on = None

_addresses = sa.table(
    'profile_addresses',
    sa.column('account_sid', sa.String),
    sa.column('address', sa.String),
    sa.column('profile_id', sa.String),
    sa.column('created_ms', sa.BigInteger),
)
_profiles = sa.table(
    'profiles',
    sa.column('id', sa.String),
    sa.column('account_sid', sa.String),
    sa.column('created_ms', sa.BigInteger),
    sa.column('updated_ms', sa.BigInteger),
)
_identifiers = sa.table(
    'profile_identifiers',
    sa.column('account_sid', sa.String),
    sa.column('id_type', sa.String),
    sa.column('value', sa.String),
    sa.column('profile_id', sa.String),
    sa.column('created_ms', sa.BigInteger),
)


def _identifier(key: str) -> tuple[str, str]:
    channel, sep, address = key.partition(':')
    if not sep or channel == 'VOICE':
        return 'phone', address if sep else key
    return channel.lower(), address


def _copy_addresses_to_identifiers() -> None:
    bind = op.get_bind()
    rows = bind.execute(sa.select(_addresses).order_by(_addresses.c.created_ms)).all()
    profiles: dict[str, tuple[str, int]] = {}
    identifiers: dict[tuple[str, str, str], dict[str, object]] = {}
    for row in rows:
        profiles.setdefault(row.profile_id, (row.account_sid, row.created_ms))
        id_type, value = _identifier(row.address)
        identifiers.setdefault(
            (row.account_sid, id_type, value),
            {'account_sid': row.account_sid, 'id_type': id_type, 'value': value,
             'profile_id': row.profile_id, 'created_ms': row.created_ms},
        )
    if profiles:
        bind.execute(_profiles.insert(), [
            {'id': pid, 'account_sid': account, 'created_ms': ms, 'updated_ms': ms}
            for pid, (account, ms) in profiles.items()
        ])
    if identifiers:
        bind.execute(_identifiers.insert(), list(identifiers.values()))


def _copy_identifiers_to_addresses() -> None:
    bind = op.get_bind()
    rows = bind.execute(sa.select(_identifiers)).all()
    if rows:
        bind.execute(_addresses.insert(), [
            {'account_sid': r.account_sid, 'profile_id': r.profile_id, 'created_ms': r.created_ms,
             'address': r.value if r.id_type == 'phone' else f'{r.id_type.upper()}:{r.value}'}
            for r in rows
        ])


def upgrade() -> None:
    op.create_table('profiles',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('account_sid', sa.String(length=34), nullable=False),
    sa.Column('created_ms', sa.BigInteger(), nullable=False),
    sa.Column('updated_ms', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_profiles'))
    )
    with op.batch_alter_table('profiles', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_profiles_account_sid_id'), ['account_sid', 'id'], unique=False)

    op.create_table('studio_executions',
    sa.Column('sid', sa.String(length=34), nullable=False),
    sa.Column('account_sid', sa.String(length=34), nullable=False),
    sa.Column('flow_sid', sa.String(length=34), nullable=False),
    sa.Column('contact_address', sa.String(length=256), nullable=False),
    sa.Column('from_address', sa.String(length=256), nullable=False),
    sa.Column('parameters', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.Column('conversation_id', sa.String(length=64), nullable=True),
    sa.Column('created_ms', sa.BigInteger(), nullable=False),
    sa.Column('updated_ms', sa.BigInteger(), nullable=False),
    sa.Column('ends_ms', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('sid', name=op.f('pk_studio_executions'))
    )
    with op.batch_alter_table('studio_executions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_studio_executions_account_sid_flow_sid_sid'), ['account_sid', 'flow_sid', 'sid'], unique=False)
        batch_op.create_index(batch_op.f('ix_studio_executions_account_sid_sid'), ['account_sid', 'sid'], unique=False)

    op.create_table('profile_identifiers',
    sa.Column('account_sid', sa.String(length=34), nullable=False),
    sa.Column('id_type', sa.String(length=32), nullable=False),
    sa.Column('value', sa.String(length=256), nullable=False),
    sa.Column('profile_id', sa.String(length=64), nullable=False),
    sa.Column('created_ms', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['profile_id'], ['profiles.id'], name=op.f('fk_profile_identifiers_profile_id_profiles'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('account_sid', 'id_type', 'value', name=op.f('pk_profile_identifiers'))
    )
    with op.batch_alter_table('profile_identifiers', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_profile_identifiers_profile_id'), ['profile_id'], unique=False)

    op.create_table('profile_memories',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('profile_id', sa.String(length=64), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('content', sa.Text(), nullable=False),
    sa.Column('source', sa.String(length=100), nullable=True),
    sa.Column('conversation_ids', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('occurred_ms', sa.BigInteger(), nullable=False),
    sa.Column('created_ms', sa.BigInteger(), nullable=False),
    sa.Column('updated_ms', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['profile_id'], ['profiles.id'], name=op.f('fk_profile_memories_profile_id_profiles'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_profile_memories'))
    )
    with op.batch_alter_table('profile_memories', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_profile_memories_profile_id_kind_id'), ['profile_id', 'kind', 'id'], unique=False)

    op.create_table('profile_traits',
    sa.Column('profile_id', sa.String(length=64), nullable=False),
    sa.Column('trait_group', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('value', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('updated_ms', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['profile_id'], ['profiles.id'], name=op.f('fk_profile_traits_profile_id_profiles'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('profile_id', 'trait_group', 'name', name=op.f('pk_profile_traits'))
    )
    _copy_addresses_to_identifiers()
    with op.batch_alter_table('profile_addresses', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_profile_addresses_profile_id'))

    op.drop_table('profile_addresses')


def downgrade() -> None:
    op.create_table('profile_addresses',
    sa.Column('account_sid', sa.VARCHAR(length=34), nullable=False),
    sa.Column('address', sa.VARCHAR(length=256), nullable=False),
    sa.Column('profile_id', sa.VARCHAR(length=64), nullable=False),
    sa.Column('created_ms', sa.BIGINT(), nullable=False),
    sa.PrimaryKeyConstraint('account_sid', 'address', name=op.f('pk_profile_addresses'))
    )
    with op.batch_alter_table('profile_addresses', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_profile_addresses_profile_id'), ['profile_id'], unique=False)

    _copy_identifiers_to_addresses()
    op.drop_table('profile_traits')
    with op.batch_alter_table('profile_memories', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_profile_memories_profile_id_kind_id'))

    op.drop_table('profile_memories')
    with op.batch_alter_table('profile_identifiers', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_profile_identifiers_profile_id'))

    op.drop_table('profile_identifiers')
    with op.batch_alter_table('studio_executions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_studio_executions_account_sid_sid'))
        batch_op.drop_index(batch_op.f('ix_studio_executions_account_sid_flow_sid_sid'))

    op.drop_table('studio_executions')
    with op.batch_alter_table('profiles', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_profiles_account_sid_id'))

    op.drop_table('profiles')

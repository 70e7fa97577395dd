"""Providers per account, provider send attempts, accepted provider signatures.

Revision ID: 0005_providers
Revises: 0004_console
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql
revision = '0005_providers'
down_revision = '0004_console'
branch_labels = None
depends_on = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql')


def upgrade() -> None:
    op.create_table('account_providers',
    sa.Column('account_sid', sa.String(length=34), nullable=False),
    sa.Column('provider', sa.String(length=32), nullable=False),
    sa.Column('channels', _JSON, nullable=False),
    sa.Column('options', _JSON, nullable=False),
    sa.Column('secret_enc', sa.LargeBinary(), nullable=True),
    sa.Column('updated_ms', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['account_sid'], ['accounts.sid'], name=op.f('fk_account_providers_account_sid_accounts'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('account_sid', 'provider', name=op.f('pk_account_providers'))
    )
    op.create_table('provider_attempts',
    sa.Column('idempotency_key', sa.String(length=64), nullable=False),
    sa.Column('started_ms', sa.BigInteger(), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('idempotency_key', name=op.f('pk_provider_attempts'))
    )
    with op.batch_alter_table('provider_attempts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_provider_attempts_started_ms'), ['started_ms'], unique=False)

    op.create_table('provider_signatures',
    sa.Column('signature', sa.String(length=80), nullable=False),
    sa.Column('expires_ms', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('signature', name=op.f('pk_provider_signatures'))
    )
    with op.batch_alter_table('provider_signatures', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_provider_signatures_expires_ms'), ['expires_ms'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('provider_signatures', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_provider_signatures_expires_ms'))
    op.drop_table('provider_signatures')
    with op.batch_alter_table('provider_attempts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_provider_attempts_started_ms'))
    op.drop_table('provider_attempts')
    op.drop_table('account_providers')

"""Initial schema: every table of store/tables.py as of release 0.1.

Revision ID: 0001
Revises: 
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql
revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('accounts',
    sa.Column('sid', sa.String(length=34), nullable=False),
    sa.Column('auth_token_enc', sa.LargeBinary(), nullable=False),
    sa.Column('created_ms', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('sid', name=op.f('pk_accounts'))
    )
    op.create_table('configurations',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('account_sid', sa.String(length=34), nullable=False),
    sa.Column('display_name', sa.String(length=32), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('grouping_type', sa.String(length=64), nullable=False),
    sa.Column('memory_store_id', sa.String(length=64), nullable=False),
    sa.Column('settings', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('created_ms', sa.BigInteger(), nullable=False),
    sa.Column('updated_ms', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_configurations')),
    sa.UniqueConstraint('account_sid', 'display_name', name=op.f('uq_configurations_account_sid_display_name'))
    )
    with op.batch_alter_table('configurations', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_configurations_account_sid_id'), ['account_sid', 'id'], unique=False)

    op.create_table('conversations',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('account_sid', sa.String(length=34), nullable=False),
    sa.Column('configuration_id', sa.String(length=64), nullable=False),
    sa.Column('configuration_version', sa.Integer(), nullable=False),
    sa.Column('configuration', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('name', sa.Text(), nullable=True),
    sa.Column('metadata', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('status_callbacks', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.Column('created_ms', sa.BigInteger(), nullable=False),
    sa.Column('updated_ms', sa.BigInteger(), nullable=False),
    sa.Column('last_activity_ms', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_conversations'))
    )
    with op.batch_alter_table('conversations', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_conversations_account_sid_id'), ['account_sid', 'id'], unique=False)
        batch_op.create_index(batch_op.f('ix_conversations_configuration_id_status'), ['configuration_id', 'status'], unique=False)

    op.create_table('idempotency_keys',
    sa.Column('account_sid', sa.String(length=34), nullable=False),
    sa.Column('key', sa.String(length=36), nullable=False),
    sa.Column('fingerprint', sa.String(length=64), nullable=False),
    sa.Column('status_code', sa.Integer(), nullable=False),
    sa.Column('headers', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('body', sa.LargeBinary(), nullable=False),
    sa.Column('expires_ms', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('account_sid', 'key', name=op.f('pk_idempotency_keys'))
    )
    with op.batch_alter_table('idempotency_keys', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_idempotency_keys_expires_ms'), ['expires_ms'], unique=False)

    op.create_table('jobs',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('kind', sa.String(length=64), nullable=False),
    sa.Column('payload', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('attempts', sa.Integer(), server_default='0', nullable=False),
    sa.Column('max_attempts', sa.Integer(), nullable=False),
    sa.Column('run_at_ms', sa.BigInteger(), nullable=False),
    sa.Column('lease_until_ms', sa.BigInteger(), nullable=True),
    sa.Column('locked_by', sa.String(length=64), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('ordering_key', sa.String(length=128), nullable=True),
    sa.Column('created_ms', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_jobs'))
    )
    with op.batch_alter_table('jobs', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_jobs_ordering_key_id'), ['ordering_key', 'id'], unique=False)
        batch_op.create_index(batch_op.f('ix_jobs_run_at_ms'), ['run_at_ms'], unique=False)

    op.create_table('operations',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('account_sid', sa.String(length=34), nullable=False),
    sa.Column('kind', sa.String(length=64), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('related', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('request', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('error', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.Column('created_ms', sa.BigInteger(), nullable=False),
    sa.Column('updated_ms', sa.BigInteger(), nullable=False),
    sa.Column('completed_ms', sa.BigInteger(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_operations'))
    )
    op.create_table('profile_addresses',
    sa.Column('account_sid', sa.String(length=34), nullable=False),
    sa.Column('address', sa.String(length=256), nullable=False),
    sa.Column('profile_id', sa.String(length=64), nullable=False),
    sa.Column('created_ms', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('account_sid', 'address', name=op.f('pk_profile_addresses'))
    )
    with op.batch_alter_table('profile_addresses', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_profile_addresses_profile_id'), ['profile_id'], unique=False)

    op.create_table('sandbox_messages',
    sa.Column('sid', sa.String(length=34), nullable=False),
    sa.Column('account_sid', sa.String(length=34), nullable=False),
    sa.Column('idempotency_key', sa.String(length=128), nullable=False),
    sa.Column('conversation_id', sa.String(length=64), nullable=True),
    sa.Column('channel', sa.String(length=16), nullable=False),
    sa.Column('from_address', sa.String(length=256), nullable=False),
    sa.Column('to_addresses', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('body', sa.Text(), nullable=True),
    sa.Column('content_id', sa.String(length=64), nullable=True),
    sa.Column('variables', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.Column('media_urls', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.Column('channel_settings', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('error_code', sa.Integer(), nullable=True),
    sa.Column('error_message', sa.Text(), nullable=True),
    sa.Column('history', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('created_ms', sa.BigInteger(), nullable=False),
    sa.Column('updated_ms', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('sid', name=op.f('pk_sandbox_messages')),
    sa.UniqueConstraint('idempotency_key', name=op.f('uq_sandbox_messages_idempotency_key'))
    )
    with op.batch_alter_table('sandbox_messages', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sandbox_messages_account_sid_created_ms'), ['account_sid', 'created_ms'], unique=False)

    op.create_table('test_clock',
    sa.Column('id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('offset_ms', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_test_clock'))
    )
    op.create_table('webhook_deliveries',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('account_sid', sa.String(length=34), nullable=False),
    sa.Column('conversation_id', sa.String(length=64), nullable=False),
    sa.Column('event_type', sa.String(length=32), nullable=False),
    sa.Column('url', sa.Text(), nullable=False),
    sa.Column('method', sa.String(length=8), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('failure_reason', sa.Text(), nullable=True),
    sa.Column('created_ms', sa.BigInteger(), nullable=False),
    sa.Column('updated_ms', sa.BigInteger(), nullable=False),
    sa.Column('completed_ms', sa.BigInteger(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_webhook_deliveries'))
    )
    with op.batch_alter_table('webhook_deliveries', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_webhook_deliveries_account_sid_conversation_id_id'), ['account_sid', 'conversation_id', 'id'], unique=False)
        batch_op.create_index(batch_op.f('ix_webhook_deliveries_completed_ms'), ['completed_ms'], unique=False)

    op.create_table('actions',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('conversation_id', sa.String(length=64), nullable=False),
    sa.Column('account_sid', sa.String(length=34), nullable=False),
    sa.Column('type', sa.String(length=32), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('related', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('request', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('failure_reason', sa.Text(), nullable=True),
    sa.Column('message_sid', sa.String(length=34), nullable=True),
    sa.Column('created_ms', sa.BigInteger(), nullable=False),
    sa.Column('updated_ms', sa.BigInteger(), nullable=False),
    sa.Column('completed_ms', sa.BigInteger(), nullable=True),
    sa.ForeignKeyConstraint(['conversation_id'], ['conversations.id'], name=op.f('fk_actions_conversation_id_conversations'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_actions')),
    sa.UniqueConstraint('message_sid', name=op.f('uq_actions_message_sid'))
    )
    op.create_table('api_keys',
    sa.Column('sid', sa.String(length=34), nullable=False),
    sa.Column('account_sid', sa.String(length=34), nullable=False),
    sa.Column('secret_hash', sa.LargeBinary(), nullable=False),
    sa.Column('created_ms', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['account_sid'], ['accounts.sid'], name=op.f('fk_api_keys_account_sid_accounts'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('sid', name=op.f('pk_api_keys'))
    )
    op.create_table('communications',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('conversation_id', sa.String(length=64), nullable=False),
    sa.Column('account_sid', sa.String(length=34), nullable=False),
    sa.Column('author', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('content', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('channel_id', sa.String(length=128), nullable=True),
    sa.Column('resource_id', sa.String(length=256), nullable=True),
    sa.Column('recipients', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('occurred_ms', sa.BigInteger(), nullable=False),
    sa.Column('created_ms', sa.BigInteger(), nullable=False),
    sa.Column('updated_ms', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['conversation_id'], ['conversations.id'], name=op.f('fk_communications_conversation_id_conversations'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_communications')),
    sa.UniqueConstraint('conversation_id', 'resource_id', name=op.f('uq_communications_conversation_id_resource_id'))
    )
    with op.batch_alter_table('communications', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_communications_account_sid_channel_id'), ['account_sid', 'channel_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_communications_conversation_id_id'), ['conversation_id', 'id'], unique=False)

    op.create_table('conversation_timers',
    sa.Column('conversation_id', sa.String(length=64), nullable=False),
    sa.Column('due_ms', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['conversation_id'], ['conversations.id'], name=op.f('fk_conversation_timers_conversation_id_conversations'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('conversation_id', name=op.f('pk_conversation_timers'))
    )
    op.create_table('participants',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('conversation_id', sa.String(length=64), nullable=False),
    sa.Column('account_sid', sa.String(length=34), nullable=False),
    sa.Column('name', sa.Text(), nullable=True),
    sa.Column('type', sa.String(length=16), nullable=True),
    sa.Column('profile_id', sa.String(length=64), nullable=True),
    sa.Column('addresses', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('created_ms', sa.BigInteger(), nullable=False),
    sa.Column('updated_ms', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['conversation_id'], ['conversations.id'], name=op.f('fk_participants_conversation_id_conversations'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_participants'))
    )
    with op.batch_alter_table('participants', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_participants_conversation_id_id'), ['conversation_id', 'id'], unique=False)
        batch_op.create_index(batch_op.f('ix_participants_profile_id'), ['profile_id'], unique=False)

    op.create_table('webhook_attempts',
    sa.Column('delivery_id', sa.String(length=64), nullable=False),
    sa.Column('number', sa.Integer(), nullable=False),
    sa.Column('request_id', sa.String(length=34), nullable=True),
    sa.Column('started_ms', sa.BigInteger(), nullable=True),
    sa.Column('status_code', sa.Integer(), nullable=True),
    sa.Column('latency_ms', sa.Integer(), nullable=True),
    sa.Column('error', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['delivery_id'], ['webhook_deliveries.id'], name=op.f('fk_webhook_attempts_delivery_id_webhook_deliveries'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('delivery_id', 'number', name=op.f('pk_webhook_attempts'))
    )
    op.create_table('participant_addresses',
    sa.Column('conversation_id', sa.String(length=64), nullable=False),
    sa.Column('channel', sa.String(length=16), nullable=False),
    sa.Column('address', sa.String(length=256), nullable=False),
    sa.Column('participant_id', sa.String(length=64), nullable=False),
    sa.ForeignKeyConstraint(['conversation_id'], ['conversations.id'], name=op.f('fk_participant_addresses_conversation_id_conversations'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['participant_id'], ['participants.id'], name=op.f('fk_participant_addresses_participant_id_participants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('conversation_id', 'channel', 'address', name=op.f('pk_participant_addresses'))
    )
    with op.batch_alter_table('participant_addresses', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_participant_addresses_channel_address'), ['channel', 'address'], unique=False)
        batch_op.create_index(batch_op.f('ix_participant_addresses_participant_id'), ['participant_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('participant_addresses', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_participant_addresses_participant_id'))
        batch_op.drop_index(batch_op.f('ix_participant_addresses_channel_address'))

    op.drop_table('participant_addresses')
    op.drop_table('webhook_attempts')
    with op.batch_alter_table('participants', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_participants_profile_id'))
        batch_op.drop_index(batch_op.f('ix_participants_conversation_id_id'))

    op.drop_table('participants')
    op.drop_table('conversation_timers')
    with op.batch_alter_table('communications', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_communications_conversation_id_id'))
        batch_op.drop_index(batch_op.f('ix_communications_account_sid_channel_id'))

    op.drop_table('communications')
    op.drop_table('api_keys')
    op.drop_table('actions')
    with op.batch_alter_table('webhook_deliveries', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_webhook_deliveries_completed_ms'))
        batch_op.drop_index(batch_op.f('ix_webhook_deliveries_account_sid_conversation_id_id'))

    op.drop_table('webhook_deliveries')
    op.drop_table('test_clock')
    with op.batch_alter_table('sandbox_messages', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sandbox_messages_account_sid_created_ms'))

    op.drop_table('sandbox_messages')
    with op.batch_alter_table('profile_addresses', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_profile_addresses_profile_id'))

    op.drop_table('profile_addresses')
    op.drop_table('operations')
    with op.batch_alter_table('jobs', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_jobs_run_at_ms'))
        batch_op.drop_index(batch_op.f('ix_jobs_ordering_key_id'))

    op.drop_table('jobs')
    with op.batch_alter_table('idempotency_keys', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_idempotency_keys_expires_ms'))

    op.drop_table('idempotency_keys')
    with op.batch_alter_table('conversations', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_conversations_configuration_id_status'))
        batch_op.drop_index(batch_op.f('ix_conversations_account_sid_id'))

    op.drop_table('conversations')
    with op.batch_alter_table('configurations', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_configurations_account_sid_id'))

    op.drop_table('configurations')
    op.drop_table('accounts')

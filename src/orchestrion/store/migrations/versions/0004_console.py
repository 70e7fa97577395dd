"""The console: conversation history, and actions found by conversation.

Revision ID: 0004_console
Revises: 0003_dead_jobs
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql
revision = '0004_console'
down_revision = '0003_dead_jobs'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('conversation_history',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('conversation_id', sa.String(length=64), nullable=False),
    sa.Column('account_sid', sa.String(length=34), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('at_ms', sa.BigInteger(), nullable=False),
    sa.Column('data', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.ForeignKeyConstraint(['conversation_id'], ['conversations.id'], name=op.f('fk_conversation_history_conversation_id_conversations'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_conversation_history'))
    )
    with op.batch_alter_table('conversation_history', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_conversation_history_conversation_id_id'), ['conversation_id', 'id'], unique=False)

    with op.batch_alter_table('actions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_actions_conversation_id_id'), ['conversation_id', 'id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('actions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_actions_conversation_id_id'))

    with op.batch_alter_table('conversation_history', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_conversation_history_conversation_id_id'))

    op.drop_table('conversation_history')

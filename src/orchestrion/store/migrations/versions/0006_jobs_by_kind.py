"""The outbox indexed by kind: a claim for a class of jobs no longer walks every due job of the others.

Revision ID: 0006_jobs_by_kind
Revises: 0005_providers
"""

from __future__ import annotations

from alembic import op

revision = "0006_jobs_by_kind"
down_revision = "0005_providers"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_jobs_kind_run_at_ms_id"), ["kind", "run_at_ms", "id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_jobs_kind_run_at_ms_id"))

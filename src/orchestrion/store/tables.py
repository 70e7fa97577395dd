"""The schema, one place. Migrations are generated from and checked against it.

Times are BIGINT epoch milliseconds on both backends, so comparisons (leases,
timers, the test clock) are plain integer arithmetic.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB

metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
    }
)

JSON = sa.JSON().with_variant(JSONB(), "postgresql")
ID = sa.String(64)
MS = sa.BigInteger

accounts = sa.Table(
    "accounts",
    metadata,
    sa.Column("sid", sa.String(34), primary_key=True),
    sa.Column("auth_token_enc", sa.LargeBinary, nullable=False),
    sa.Column("created_ms", MS, nullable=False),
)

api_keys = sa.Table(
    "api_keys",
    metadata,
    sa.Column("sid", sa.String(34), primary_key=True),
    sa.Column("account_sid", sa.String(34), sa.ForeignKey("accounts.sid", ondelete="CASCADE"), nullable=False),
    sa.Column("secret_hash", sa.LargeBinary, nullable=False),
    sa.Column("created_ms", MS, nullable=False),
)

configurations = sa.Table(
    "configurations",
    metadata,
    sa.Column("id", ID, primary_key=True),
    sa.Column("account_sid", sa.String(34), nullable=False),
    sa.Column("display_name", sa.String(32), nullable=False),
    sa.Column("description", sa.Text, nullable=False),
    sa.Column("grouping_type", sa.String(64), nullable=False),
    sa.Column("memory_store_id", sa.String(64), nullable=False),
    sa.Column("settings", JSON, nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("created_ms", MS, nullable=False),
    sa.Column("updated_ms", MS, nullable=False),
    sa.UniqueConstraint("account_sid", "display_name"),
    sa.Index(None, "account_sid", "id"),
)

conversations = sa.Table(
    "conversations",
    metadata,
    sa.Column("id", ID, primary_key=True),
    sa.Column("account_sid", sa.String(34), nullable=False),
    sa.Column("configuration_id", ID, nullable=False),
    sa.Column("configuration_version", sa.Integer, nullable=False),
    sa.Column("configuration", JSON, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("name", sa.Text, nullable=True),
    sa.Column("metadata", JSON, nullable=False),
    sa.Column("status_callbacks", JSON, nullable=True),
    sa.Column("created_ms", MS, nullable=False),
    sa.Column("updated_ms", MS, nullable=False),
    sa.Column("last_activity_ms", MS, nullable=False),
    sa.Index(None, "account_sid", "id"),
    sa.Index(None, "configuration_id", "status"),
)

participants = sa.Table(
    "participants",
    metadata,
    sa.Column("id", ID, primary_key=True),
    sa.Column("conversation_id", ID, sa.ForeignKey("conversations.id", ondelete="CASCADE"), nullable=False),
    sa.Column("account_sid", sa.String(34), nullable=False),
    sa.Column("name", sa.Text, nullable=True),
    sa.Column("type", sa.String(16), nullable=True),
    sa.Column("profile_id", sa.String(64), nullable=True),
    sa.Column("addresses", JSON, nullable=False),
    sa.Column("created_ms", MS, nullable=False),
    sa.Column("updated_ms", MS, nullable=False),
    sa.Index(None, "conversation_id", "id"),
    sa.Index(None, "profile_id"),  # inbound GROUP_BY_PROFILE: the conversations of a profile
)

# One row per (conversation, channel, address): enforces uniqueness and
# serves address resolution without scanning participants' JSON.
participant_addresses = sa.Table(
    "participant_addresses",
    metadata,
    sa.Column("conversation_id", ID, sa.ForeignKey("conversations.id", ondelete="CASCADE"), nullable=False),
    sa.Column("channel", sa.String(16), nullable=False),
    sa.Column("address", sa.String(256), nullable=False),
    sa.Column("participant_id", ID, sa.ForeignKey("participants.id", ondelete="CASCADE"), nullable=False),
    sa.PrimaryKeyConstraint("conversation_id", "channel", "address"),
    sa.Index(None, "participant_id"),
    sa.Index(None, "channel", "address"),  # inbound grouping: which conversations hold an address
)

communications = sa.Table(
    "communications",
    metadata,
    sa.Column("id", ID, primary_key=True),
    sa.Column("conversation_id", ID, sa.ForeignKey("conversations.id", ondelete="CASCADE"), nullable=False),
    sa.Column("account_sid", sa.String(34), nullable=False),
    sa.Column("author", JSON, nullable=False),
    sa.Column("content", JSON, nullable=False),
    sa.Column("channel_id", sa.String(128), nullable=True),
    sa.Column("resource_id", sa.String(256), nullable=True),
    sa.Column("recipients", JSON, nullable=False),
    sa.Column("occurred_ms", MS, nullable=False),
    sa.Column("created_ms", MS, nullable=False),
    sa.Column("updated_ms", MS, nullable=False),
    sa.UniqueConstraint("conversation_id", "resource_id"),
    sa.Index(None, "conversation_id", "id"),
    sa.Index(None, "account_sid", "channel_id"),
)

actions = sa.Table(
    "actions",
    metadata,
    sa.Column("id", ID, primary_key=True),
    sa.Column("conversation_id", ID, sa.ForeignKey("conversations.id", ondelete="CASCADE"), nullable=False),
    sa.Column("account_sid", sa.String(34), nullable=False),
    sa.Column("type", sa.String(32), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("related", JSON, nullable=False),
    sa.Column("request", JSON, nullable=False),
    sa.Column("failure_reason", sa.Text, nullable=True),
    sa.Column("message_sid", sa.String(34), nullable=True, unique=True),
    sa.Column("created_ms", MS, nullable=False),
    sa.Column("updated_ms", MS, nullable=False),
    sa.Column("completed_ms", MS, nullable=True),
    sa.Index(None, "conversation_id", "id"),  # the console's timeline (revision 0002)
)

operations = sa.Table(
    "operations",
    metadata,
    sa.Column("id", ID, primary_key=True),
    sa.Column("account_sid", sa.String(34), nullable=False),
    sa.Column("kind", sa.String(64), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("related", JSON, nullable=False),
    sa.Column("request", JSON, nullable=False),
    sa.Column("error", JSON, nullable=True),
    sa.Column("created_ms", MS, nullable=False),
    sa.Column("updated_ms", MS, nullable=False),
    sa.Column("completed_ms", MS, nullable=True),
)

# The outbox. A job is written in the same transaction as the change that
# asks for it; the dispatcher claims it with a lease and deletes it when done.
jobs = sa.Table(
    "jobs",
    metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True),
    sa.Column("kind", sa.String(64), nullable=False),
    sa.Column("payload", JSON, nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("max_attempts", sa.Integer, nullable=False),
    sa.Column("run_at_ms", MS, nullable=False),
    sa.Column("lease_until_ms", MS, nullable=True),
    sa.Column("locked_by", sa.String(64), nullable=True),
    sa.Column("last_error", sa.Text, nullable=True),
    # Jobs sharing an ordering key run one at a time, oldest first (e.g. the
    # webhooks of one conversation); a failing head job holds back the rest.
    sa.Column("ordering_key", sa.String(128), nullable=True),
    sa.Column("created_ms", MS, nullable=False),
    sa.Index(None, "run_at_ms"),
    sa.Index(None, "ordering_key", "id"),
    # A claim takes the due jobs of one class's kinds, oldest first: without it, a claim for an
    # idle class walks every due job of the busy one (a backlog of 40,000 sends: 20 ms a claim
    # on SQLite, 0.6 ms with it). Revision 0006.
    sa.Index(None, "kind", "run_at_ms", "id"),
)

# Jobs that gave up (their failure recorded by their handler), kept with their last error for
# operators (``orchestrion jobs list --dead``) until ``orchestrion jobs retry`` puts one back in
# the outbox, or for a week. A dead letter has an id of its own: SQLite gives a new job the id of
# a deleted one, so the id a job had in the outbox (``job_id``) may come back.
dead_jobs = sa.Table(
    "dead_jobs",
    metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True),
    sa.Column("job_id", sa.BigInteger, nullable=False),
    sa.Column("kind", sa.String(64), nullable=False),
    sa.Column("payload", JSON, nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("max_attempts", sa.Integer, nullable=False),
    sa.Column("ordering_key", sa.String(128), nullable=True),
    sa.Column("last_error", sa.Text, nullable=True),
    sa.Column("created_ms", MS, nullable=False),
    sa.Column("dead_ms", MS, nullable=False),
    sa.Index(None, "dead_ms"),
)

idempotency_keys = sa.Table(
    "idempotency_keys",
    metadata,
    sa.Column("account_sid", sa.String(34), primary_key=True),
    sa.Column("key", sa.String(36), primary_key=True),
    sa.Column("fingerprint", sa.String(64), nullable=False),
    sa.Column("status_code", sa.Integer, nullable=False),
    sa.Column("headers", JSON, nullable=False),
    sa.Column("body", sa.LargeBinary, nullable=False),
    sa.Column("expires_ms", MS, nullable=False),
    sa.Index(None, "expires_ms"),
)

# Everything the sandbox channel "sent", for people and tests to read.
sandbox_messages = sa.Table(
    "sandbox_messages",
    metadata,
    sa.Column("sid", sa.String(34), primary_key=True),
    sa.Column("account_sid", sa.String(34), nullable=False),
    sa.Column("idempotency_key", sa.String(128), nullable=False, unique=True),
    sa.Column("conversation_id", ID, nullable=True),
    sa.Column("channel", sa.String(16), nullable=False),
    sa.Column("from_address", sa.String(256), nullable=False),
    sa.Column("to_addresses", JSON, nullable=False),
    sa.Column("body", sa.Text, nullable=True),
    sa.Column("content_id", sa.String(64), nullable=True),
    sa.Column("variables", JSON, nullable=True),
    sa.Column("media_urls", JSON, nullable=True),
    sa.Column("channel_settings", JSON, nullable=True),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("error_code", sa.Integer, nullable=True),
    sa.Column("error_message", sa.Text, nullable=True),
    sa.Column("history", JSON, nullable=False),
    sa.Column("created_ms", MS, nullable=False),
    sa.Column("updated_ms", MS, nullable=False),
    sa.Index(None, "account_sid", "created_ms"),
)

# Status callbacks: one row per event and callback URL (the envelope, exactly
# as sent), and one per attempt at delivering it. No foreign key to the
# conversation: events already emitted still go out after it is deleted.
webhook_deliveries = sa.Table(
    "webhook_deliveries",
    metadata,
    sa.Column("id", ID, primary_key=True),
    sa.Column("account_sid", sa.String(34), nullable=False),
    sa.Column("conversation_id", ID, nullable=False),
    sa.Column("event_type", sa.String(32), nullable=False),
    sa.Column("url", sa.Text, nullable=False),
    sa.Column("method", sa.String(8), nullable=False),
    sa.Column("body", sa.Text, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("failure_reason", sa.Text, nullable=True),
    sa.Column("created_ms", MS, nullable=False),
    sa.Column("updated_ms", MS, nullable=False),
    sa.Column("completed_ms", MS, nullable=True),
    sa.Index(None, "account_sid", "conversation_id", "id"),
    sa.Index(None, "completed_ms"),
)

webhook_attempts = sa.Table(
    "webhook_attempts",
    metadata,
    sa.Column("delivery_id", ID, sa.ForeignKey("webhook_deliveries.id", ondelete="CASCADE"), nullable=False),
    sa.Column("number", sa.Integer, nullable=False),
    sa.Column("request_id", sa.String(34), nullable=True),
    sa.Column("started_ms", MS, nullable=True),
    sa.Column("status_code", sa.Integer, nullable=True),
    sa.Column("latency_ms", sa.Integer, nullable=True),
    sa.Column("error", sa.Text, nullable=True),
    sa.PrimaryKeyConstraint("delivery_id", "number"),
)

# Lifecycle timers: at most one pending status-timeout job per conversation,
# due at ``due_ms`` (a job whose due time is not this row's is stale).
conversation_timers = sa.Table(
    "conversation_timers",
    metadata,
    sa.Column("conversation_id", ID, sa.ForeignKey("conversations.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("due_ms", MS, nullable=False),
)

# The test clock (an emulator feature, off unless enabled): how far the
# server's time runs ahead of the wall clock, shared by every process.
test_clock = sa.Table(
    "test_clock",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("offset_ms", MS, nullable=False),
)

# The profile store: the profiles GROUP_BY_PROFILE groups by, and the Conversation
# Memory stand-in serves. An identifier (``phone`` +1..., ``email`` ...) belongs to
# at most one profile of the account; traits and memories belong to their profile.
profiles = sa.Table(
    "profiles",
    metadata,
    sa.Column("id", ID, primary_key=True),
    sa.Column("account_sid", sa.String(34), nullable=False),
    sa.Column("created_ms", MS, nullable=False),
    sa.Column("updated_ms", MS, nullable=False),
    sa.Index(None, "account_sid", "id"),
)

profile_identifiers = sa.Table(
    "profile_identifiers",
    metadata,
    sa.Column("account_sid", sa.String(34), primary_key=True),
    sa.Column("id_type", sa.String(32), primary_key=True),
    sa.Column("value", sa.String(256), primary_key=True),
    sa.Column("profile_id", ID, sa.ForeignKey("profiles.id", ondelete="CASCADE"), nullable=False),
    sa.Column("created_ms", MS, nullable=False),
    sa.Index(None, "profile_id"),
)

profile_traits = sa.Table(
    "profile_traits",
    metadata,
    sa.Column("profile_id", ID, sa.ForeignKey("profiles.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("trait_group", sa.String(64), primary_key=True),
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("value", JSON, nullable=False),
    sa.Column("updated_ms", MS, nullable=False),
)

# Observations and conversation summaries (``kind``), what Recall searches.
profile_memories = sa.Table(
    "profile_memories",
    metadata,
    sa.Column("id", ID, primary_key=True),
    sa.Column("profile_id", ID, sa.ForeignKey("profiles.id", ondelete="CASCADE"), nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("content", sa.Text, nullable=False),
    sa.Column("source", sa.String(100), nullable=True),
    sa.Column("conversation_ids", JSON, nullable=False),
    sa.Column("occurred_ms", MS, nullable=False),
    sa.Column("created_ms", MS, nullable=False),
    sa.Column("updated_ms", MS, nullable=False),
    sa.Index(None, "profile_id", "kind", "id"),
)

# Studio Flow Executions (the handoff stand-in). SIDs are time-ordered, so they page in creation order.
studio_executions = sa.Table(
    "studio_executions",
    metadata,
    sa.Column("sid", sa.String(34), primary_key=True),
    sa.Column("account_sid", sa.String(34), nullable=False),
    sa.Column("flow_sid", sa.String(34), nullable=False),
    sa.Column("contact_address", sa.String(256), nullable=False),
    sa.Column("from_address", sa.String(256), nullable=False),
    sa.Column("parameters", JSON, nullable=True),
    sa.Column("conversation_id", ID, nullable=True),
    sa.Column("created_ms", MS, nullable=False),
    sa.Column("updated_ms", MS, nullable=False),
    sa.Column("ends_ms", MS, nullable=False),
    sa.Index(None, "account_sid", "flow_sid", "sid"),
    sa.Index(None, "account_sid", "sid"),
)

# What happened to a conversation besides its messages and actions (its
# creation, status and name changes, participants added, changed, removed),
# for the console's timeline: one row per change, written in the transaction
# of the change, whether or not the conversation has status callbacks.
conversation_history = sa.Table(
    "conversation_history",
    metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True),
    sa.Column("conversation_id", ID, sa.ForeignKey("conversations.id", ondelete="CASCADE"), nullable=False),
    sa.Column("account_sid", sa.String(34), nullable=False),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("at_ms", MS, nullable=False),
    sa.Column("data", JSON, nullable=False),
    sa.Index(None, "conversation_id", "id"),
)

# Downstream providers per account (``orchestrion providers set``): the channels each serves,
# its options (not secret) and its secret, encrypted like auth tokens (store.secrets).
account_providers = sa.Table(
    "account_providers",
    metadata,
    sa.Column("account_sid", sa.String(34), sa.ForeignKey("accounts.sid", ondelete="CASCADE"), primary_key=True),
    sa.Column("provider", sa.String(32), primary_key=True),
    sa.Column("channels", JSON, nullable=False),
    sa.Column("options", JSON, nullable=False),
    sa.Column("secret_enc", sa.LargeBinary, nullable=True),
    sa.Column("updated_ms", MS, nullable=False),
)

# A provider's send whose outcome is not known yet: written before the call, removed once the
# provider answered that nothing was sent. A run that finds one looks the message up before
# sending again (channels.twilio).
provider_attempts = sa.Table(
    "provider_attempts",
    metadata,
    sa.Column("idempotency_key", ID, primary_key=True),
    sa.Column("started_ms", MS, nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Index(None, "started_ms"),
)

# Signed status reports already accepted (``/providers/webhook/{AccountSid}/status``), kept for
# the replay window, so one captured report cannot be played again.
provider_signatures = sa.Table(
    "provider_signatures",
    metadata,
    sa.Column("signature", sa.String(80), primary_key=True),
    sa.Column("expires_ms", MS, nullable=False),
    sa.Index(None, "expires_ms"),
)

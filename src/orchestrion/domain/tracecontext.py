"""The trace a piece of work belongs to, as a W3C ``traceparent`` string, for whoever records or forwards it.

A context variable and nothing else: the tracing adapter sets it while a span
is current, the outbox stores it with each job it enqueues, and the webhook
sender puts it on outgoing requests. With tracing off it stays None and
nothing is stored or sent.
"""

from __future__ import annotations

from contextvars import ContextVar

TRACEPARENT: ContextVar[str | None] = ContextVar("orchestrion_traceparent", default=None)

# The key under which a job's payload carries the traceparent of the work that enqueued it.
PAYLOAD_KEY = "traceparent"

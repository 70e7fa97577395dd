"""The trace a piece of work belongs to, as a W3C ``traceparent`` string, for whoever records or forwards it.

A context variable and nothing else: the tracing adapter sets it while a span
is current, the outbox stores it with each job it enqueues, and the webhook
sender puts it on outgoing requests. With tracing off it stays None and
nothing is stored or sent.
"""

from __future__ import annotations

from collections.abc import Callable
from contextvars import ContextVar

# Set to a function that formats the current span's traceparent: most spans never need the string
# (only those that enqueue a job or send a webhook do), so it is made only when asked for.
TRACEPARENT: ContextVar[Callable[[], str] | None] = ContextVar("orchestrion_traceparent", default=None)


def current_traceparent() -> str | None:
    """The traceparent of the span now running; None with tracing off or outside any span."""
    make = TRACEPARENT.get()
    return None if make is None else make()


# The key under which a job's payload carries the traceparent of the work that enqueued it.
PAYLOAD_KEY = "traceparent"

"""What every use case needs: the store, the clock, a way to wake workers, the status-callback sender, metrics."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field

from orchestrion.domain.clock import Clock
from orchestrion.services.handoff import Fresh, Handoff, NoHandoff
from orchestrion.services.metrics import Metrics, NoMetrics
from orchestrion.services.tracing import NoTracer, Tracer
from orchestrion.store.store import Store
from orchestrion.webhooks.sender import WebhookSender


class Wakeup:
    """Wakes this process's dispatcher when new work was committed.

    Other processes find the work by polling (SQLite) or LISTEN/NOTIFY (PostgreSQL).
    """

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def notify(self) -> None:
        self._event.set()

    async def wait(self, timeout_s: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._event.wait(), timeout_s)
        self._event.clear()


@dataclass(frozen=True, slots=True)
class ProviderSettings:
    """What the server tells the downstream providers it builds (``services.providers``)."""

    public_url: str | None = None
    twilio_api_url: str = "https://api.twilio.com"
    timeout_s: float = 10.0
    # How long an account's provider configuration is used before it is read again (0: every send).
    refresh_s: float = 2.0


@dataclass(slots=True)
class Context:
    store: Store
    clock: Clock
    wakeup: Wakeup = field(default_factory=Wakeup)
    sandbox_step_ms: int = 50
    # How long a Studio Flow Execution stays active (the handoff stand-in).
    studio_execution_ms: int = 60_000
    # Status callbacks out: the policy (timeout, attempts, public-only) and the process's one HTTP client.
    webhooks: WebhookSender = field(default_factory=WebhookSender)
    # What gets counted (services.metrics): nothing unless the runtime plugs in an adapter.
    metrics: Metrics = field(default_factory=NoMetrics)
    # Spans (services.tracing): none unless the runtime plugs in an adapter.
    tracer: Tracer = field(default_factory=NoTracer)
    # This process's dispatcher, for jobs it can start without a claim (services.handoff).
    handoff: Handoff = field(default_factory=NoHandoff)
    # What a handed-off job's first run can take instead of reading it back (services.handoff).
    fresh: Fresh = field(default_factory=Fresh)
    # Downstream providers per account: the server's side of their configuration.
    providers: ProviderSettings = field(default_factory=ProviderSettings)

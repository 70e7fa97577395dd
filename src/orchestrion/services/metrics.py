"""The metrics port: what the HTTP edge, the services and the dispatcher count.

A Protocol with a no-op default (``NoMetrics``), so counting code never asks
whether anyone listens; ``runtime`` plugs in the Prometheus adapter
(``telemetry.prometheus``) unless metrics are off. Calls are synchronous and
must stay cheap (they run on the hot path): an adapter only bumps in-memory
values and does its rendering when scraped.

Adding a metric is one small change: a method here and in ``NoMetrics``, its
series in the adapter, and one call where the thing happens.
"""

from __future__ import annotations

from typing import Protocol

# Label values of ``rate_limited``: which limit refused the request.
REQUESTS_PER_SECOND = "requests_per_second"
CONCURRENT_REQUESTS = "concurrent_requests"
ACTIONS_PER_CONVERSATION = "actions_per_conversation_per_second"


class Metrics(Protocol):
    def http_request(self, route: str, method: str, status: int, seconds: float) -> None:
        """An HTTP request answered: its route template (never the raw path), method, status and duration."""
        ...

    def inbound_message(self, direction: str, outcome: str) -> None:
        """Captured traffic: direction ``inbound`` (a customer wrote) or ``outbound`` (sent around us);
        outcome ``captured``, ``duplicate`` (a retried webhook, absorbed) or ``ignored`` (no capture rule)."""
        ...

    def rate_limited(self, limit: str) -> None:
        """A request refused with 429 by ``limit`` (one of the constants above)."""
        ...

    def action_created(self, channel: str) -> None:
        """An Action accepted (committed, PENDING)."""
        ...

    def action_finished(self, channel: str, status: str, code: str, seconds: float) -> None:
        """An Action reached ``status`` (COMPLETED or FAILED; ``code``: the failure's Twilio code, or ``none``),
        ``seconds`` after it was created."""
        ...

    def job_started(self, kind: str, lag_seconds: float) -> None:
        """A job of ``kind`` started ``lag_seconds`` after it was due (each attempt)."""
        ...

    def job_retried(self, kind: str) -> None:
        """A job's attempt failed and a retry was scheduled."""
        ...

    def job_given_up(self, kind: str) -> None:
        """A job failed for good (a dead letter)."""
        ...

    def webhook_attempt(self, outcome: str, seconds: float) -> None:
        """A status-callback request: ``delivered``, ``failed`` (will be retried) or ``refused`` (no retry)."""
        ...


class NoMetrics:
    """Counts nothing: the default, and what ORCHESTRION_METRICS=off runs with."""

    def http_request(self, route: str, method: str, status: int, seconds: float) -> None:
        return None

    def inbound_message(self, direction: str, outcome: str) -> None:
        return None

    def rate_limited(self, limit: str) -> None:
        return None

    def action_created(self, channel: str) -> None:
        return None

    def action_finished(self, channel: str, status: str, code: str, seconds: float) -> None:
        return None

    def job_started(self, kind: str, lag_seconds: float) -> None:
        return None

    def job_retried(self, kind: str) -> None:
        return None

    def job_given_up(self, kind: str) -> None:
        return None

    def webhook_attempt(self, outcome: str, seconds: float) -> None:
        return None

"""Delivery log responses (``/sandbox/conversations/{id}/webhooks``): Orchestrion's own, not Twilio's."""

from __future__ import annotations

from typing import Any

import orjson

from orchestrion.domain.clock import to_wire
from orchestrion.domain.webhooks import WebhookAttempt
from orchestrion.services.webhooks import DeliveryView


def attempt(a: WebhookAttempt) -> dict[str, Any]:
    return {
        "number": a.number,
        "requestId": a.request_id,
        "startedAt": None if a.started_ms is None else to_wire(a.started_ms),
        "startedAtMs": a.started_ms,
        "statusCode": a.status_code,
        "latencyMs": a.latency_ms,
        "error": a.error,
    }


def delivery(view: DeliveryView) -> dict[str, Any]:
    d = view.delivery
    return {
        "id": d.id,
        "conversationId": d.conversation_id,
        "eventType": str(d.event_type),
        "url": d.url,
        "method": d.method,
        "status": str(d.status),
        "idempotencyToken": d.id,
        "failureReason": d.failure_reason,
        "payload": orjson.loads(d.body),
        "attempts": [attempt(a) for a in view.attempts],
        "createdAt": to_wire(d.created_ms),
        "updatedAt": to_wire(d.updated_ms),
        "completedAt": None if d.completed_ms is None else to_wire(d.completed_ms),
    }

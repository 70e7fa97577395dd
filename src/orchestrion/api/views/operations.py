"""Operation responses: the 202 acceptance and the status resource."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from orchestrion.api.errors import MORE_INFO, status_and_code
from orchestrion.domain import errors
from orchestrion.domain.clock import to_wire
from orchestrion.domain.models import Json, Operation

RETRY_AFTER_S = 1


def status_url(base_url: str, operation_id: str) -> str:
    return f"{base_url}/v2/ControlPlane/Operations/{operation_id}"


def accepted(url: str, related: dict[str, str]) -> dict[str, Any]:
    return {"statusUrl": url, "related": related}


def accepted_headers(operation_id: str, url: str) -> dict[str, str]:
    return {"Operation-Id": operation_id, "Location": url, "Retry-After": str(RETRY_AFTER_S)}


def problem(error: Json, instance: str) -> dict[str, Any]:
    """An RFC 9457 problem from a stored failure ``{"kind": <domain error class>, "detail"}``."""
    kind = getattr(errors, str(error.get("kind", "")), None)
    if not (isinstance(kind, type) and issubclass(kind, errors.OrchestrionError)):
        kind = errors.OrchestrionError
    status, code = status_and_code(kind)
    return {
        "type": MORE_INFO.format(code=code),
        "title": HTTPStatus(status).phrase,
        "status": status,
        "code": code,
        "detail": str(error.get("detail", "")),
        "instance": instance,
    }


def operation(op: Operation, base_url: str) -> dict[str, Any]:
    url = status_url(base_url, op.id)
    return {
        "operationId": op.id,
        "status": str(op.status),
        "createdAt": to_wire(op.created_ms),
        "completedAt": None if op.completed_ms is None else to_wire(op.completed_ms),
        "statusUrl": url,
        "related": op.related,
        "error": None if op.error is None else problem(op.error, url),
    }

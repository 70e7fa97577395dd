"""The one way a control-plane write is answered: record an operation, reply 202.

Every operation endpoint validates its input, then calls ``accepted``. Checks
that read the store (does the resource exist, is the name free) go in
``precheck``: it runs after the Idempotency-Key lookup, inside the transaction
that records the operation, so a replayed request gets its first answer even
when the world has changed since (a DELETE replayed after the deletion).
"""

from __future__ import annotations

from typing import Any

import orjson
from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import Response

from orchestrion.api import idempotency
from orchestrion.api.context import base_url, state
from orchestrion.api.views import operations as wire
from orchestrion.domain.models import Json, Operation
from orchestrion.services import operations
from orchestrion.services.idempotency import IdempotentRequest
from orchestrion.store.idempotency import StoredResponse


async def accepted(
    request: Request,
    account_sid: str,
    kind: str,
    payload: Json,
    related: dict[str, str],
    *,
    body: BaseModel | Json | None = None,
    precheck: operations.Precheck | None = None,
) -> Response:
    """Record operation ``kind`` with ``payload`` and answer 202 (or replay the key's first answer).

    ``body`` is the validated request body, compared across requests that
    share an Idempotency-Key; None for requests without one (DELETE).
    """
    key = idempotency.key_from(request)
    claim = None
    if key is not None:
        compared: Any = (
            body.model_dump(mode="json", by_alias=True, exclude_none=True) if isinstance(body, BaseModel) else body
        )
        claim = IdempotentRequest(key, idempotency.fingerprint(request.method, request.url.path, compared))
    base = base_url(request)

    def render(op: Operation) -> StoredResponse:
        url = wire.status_url(base, op.id)
        return StoredResponse(
            fingerprint="",
            status_code=202,
            headers=wire.accepted_headers(op.id, url),
            body=orjson.dumps(wire.accepted(url, related)),
        )

    stored = await operations.submit(
        state(request).ctx, account_sid, kind, payload, related, render=render, precheck=precheck, idempotency=claim
    )
    return idempotency.to_response(stored)

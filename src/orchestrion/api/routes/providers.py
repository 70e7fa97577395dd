"""Where providers report back: ``POST /providers/webhook/{AccountSid}/status``.

Not behind Basic auth: the ``webhook`` provider's gateway signs each report
with the account's signing secret (``domain.providers``); a wrong or stale
signature, an account without a webhook provider, or a report already
accepted (a replay) is a 403 with no effect. A report about a message no
Action sent is accepted and ignored (200), so the gateway does not retry it.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from orchestrion.api.context import state
from orchestrion.api.jsonio import JSONResponse, read_body
from orchestrion.api.openapi import documented
from orchestrion.domain.providers import SIGNATURE_HEADER, TIMESTAMP_HEADER
from orchestrion.services import providers

WEBHOOK_STATUS = "/providers/webhook/{AccountSid}/status"


@documented(
    "ReceiveWebhookProviderStatus",
    "A message status report from the webhook provider's gateway",
    tag="Providers",
    security="orchestrionSignature",
)
async def webhook_status(request: Request) -> Response:
    body = await read_body(request)
    outcome = await providers.webhook_status(
        state(request).ctx,
        request.path_params["AccountSid"],
        body,
        request.headers.get(TIMESTAMP_HEADER),
        request.headers.get(SIGNATURE_HEADER),
    )
    return JSONResponse({"status": outcome})


routes: list[BaseRoute] = [Route(WEBHOOK_STATUS, webhook_status, methods=["POST"])]

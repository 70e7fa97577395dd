"""The status-callback delivery log of a conversation (Orchestrion's own API, not Twilio's).

``GET /sandbox/conversations/{ConversationId}/webhooks``: every event emitted
for the conversation, one entry per callback URL, oldest first, with each
attempt's status code, latency and error. Authenticated like /v2 and scoped
to the caller's account (another account's conversation is a 404). Paged
like /v2 lists (``pageSize``, ``pageToken``); ``eventType`` filters.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from orchestrion.api.context import authenticate, state
from orchestrion.api.jsonio import JSONResponse
from orchestrion.api.openapi import documented
from orchestrion.api.pagination import envelope, page_request
from orchestrion.api.views.webhooks import delivery
from orchestrion.services import webhooks
from orchestrion.services.webhooks import DeliveryView

LIST = "/sandbox/conversations/{ConversationId}/webhooks"


def _id(view: DeliveryView) -> str:
    return view.delivery.id


@documented("ListWebhookDeliveries", "List a conversation's status callbacks and their attempts", tag="Sandbox")
async def list_(request: Request) -> Response:
    account_sid = await authenticate(request)
    api = state(request)
    conversation_id = request.path_params["ConversationId"]
    event_type = request.query_params.get("eventType") or None
    scope = "\x00".join(["webhooks", account_sid, conversation_id, event_type or ""])
    page = page_request(request, api.tokens, scope)
    found = await webhooks.list_deliveries(api.ctx, account_sid, conversation_id, page, event_type=event_type)
    return JSONResponse(envelope("webhooks", found, page.limit, api.tokens, scope, delivery, _id))


routes: list[BaseRoute] = [Route(LIST, list_, methods=["GET"])]

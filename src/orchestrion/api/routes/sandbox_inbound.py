"""Simulate a customer's message: POST /sandbox/inbound (Orchestrion's own API, not Twilio's).

Authenticated like /v2. Body (JSON): ``from``, ``to``, ``body``, optional
``channel`` (SMS, WHATSAPP, RCS: bare numbers are written as that channel's
addresses), ``messageSid`` (default: a new ``SM...``; repeat one to see a
retry absorbed), ``mediaUrls``, and ``inReplyTo``: the SID of a message the
sandbox sent (``/sandbox/messages``), to answer it from its recipient, into
its conversation. The message then goes exactly where one from Twilio would.

Answers 200 ``{"captured", "duplicate", "messageSid", "conversationId",
"communicationId"}`` (the last two null when no capture rule took it in).
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, StringConstraints
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from orchestrion.api.context import authenticate, state
from orchestrion.api.jsonio import JSONResponse, read_json
from orchestrion.api.openapi import documented
from orchestrion.api.schemas.common import Wire
from orchestrion.domain.channels import Channel
from orchestrion.services import ingestion

Address = Annotated[str, StringConstraints(min_length=1, max_length=256)]


class InboundIn(Wire):
    from_: Address | None = Field(default=None, alias="from")
    to: Address | None = None
    body: Annotated[str, StringConstraints(max_length=65_536)] | None = None
    channel: Channel | None = None
    message_sid: Annotated[str, StringConstraints(pattern=r"^(SM|MM)[0-9a-f]{32}$")] | None = None
    in_reply_to: Annotated[str, StringConstraints(min_length=1, max_length=64)] | None = None
    media_urls: Annotated[list[Annotated[str, StringConstraints(max_length=2048)]], Field(max_length=10)] | None = None


@documented("SimulateInbound", "Simulate a customer's message to one of your numbers", body=InboundIn, tag="Sandbox")
async def simulate(request: Request) -> Response:
    account_sid = await authenticate(request)
    body = await read_json(request, InboundIn)
    result, sid = await ingestion.simulate_inbound(
        state(request).ctx,
        account_sid,
        ingestion.SimulatedInbound(
            from_address=body.from_,
            to_address=body.to,
            body=body.body,
            channel=body.channel,
            message_sid=body.message_sid,
            in_reply_to=body.in_reply_to,
            media_urls=tuple(body.media_urls or ()),
        ),
    )
    return JSONResponse(
        {
            "captured": result.captured,
            "duplicate": result.duplicate,
            "messageSid": sid,
            "conversationId": result.conversation_id,
            "communicationId": result.communication_id,
        }
    )


routes: list[BaseRoute] = [Route("/sandbox/inbound", simulate, methods=["POST"])]

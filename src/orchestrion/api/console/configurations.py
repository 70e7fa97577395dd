"""Console: configurations, readable: their settings, capture rules and status callbacks, and who uses them."""

from __future__ import annotations

from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import Response

from orchestrion.api.console.conversations import account_configurations
from orchestrion.api.console.guard import page, render
from orchestrion.api.console.session import Session
from orchestrion.api.context import state
from orchestrion.domain.models import Json
from orchestrion.services import configurations, conversations
from orchestrion.store.paging import PageRequest

USERS_SHOWN = 10


@dataclass(frozen=True, slots=True)
class ChannelView:
    channel: str
    capture_rules: list[Json]
    status_timeouts: Json
    other: Json  # any other channel setting, shown as JSON


@page
async def list_page(request: Request, session: Session) -> Response:
    return render(
        request, session, "configurations.html", configurations=await account_configurations(request, session)
    )


@page
async def configuration_page(request: Request, session: Session) -> Response:
    assert session.account_sid is not None
    ctx = state(request).ctx
    found = await configurations.get_configuration(ctx, session.account_sid, request.path_params["id"])
    users = await conversations.list_conversations(
        ctx, session.account_sid, PageRequest(USERS_SHOWN, newest_first=True), configuration_id=found.id
    )
    channels = [
        ChannelView(
            channel=name,
            capture_rules=list(settings.get("captureRules") or []),
            status_timeouts=settings.get("statusTimeouts") or {},
            other={k: v for k, v in settings.items() if k not in ("captureRules", "statusTimeouts")},
        )
        for name, settings in (found.settings.get("channelSettings") or {}).items()
    ]
    others = {k: v for k, v in found.settings.items() if k not in ("channelSettings", "statusCallbacks")}
    return render(
        request,
        session,
        "configuration.html",
        configuration=found,
        channels=channels,
        status_callbacks=found.settings.get("statusCallbacks") or [],
        other_settings=others,
        users=users,
    )

"""Console: the conversations list and a conversation's timeline, with its buttons.

The list is keyset-paged newest first (tokens signed by the API's
``PageTokens``, scoped to the account and the filters) and filtered by
status, configuration and participant address. The timeline is
``services.timeline``. Both are live regions (``live``): the list's
signature is a digest of the page it shows, the timeline's the cheap
aggregate read of ``services.changes``.
"""

from __future__ import annotations

from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import Response

from orchestrion.api.console import live
from orchestrion.api.console.guard import Form, form, page, redirect, render
from orchestrion.api.console.inbox import after_reply
from orchestrion.api.console.session import Session
from orchestrion.api.context import state
from orchestrion.api.pagination import page_request
from orchestrion.domain.errors import InvalidInput, InvalidState
from orchestrion.domain.models import Configuration, ConversationStatus, ConversationView
from orchestrion.services import changes, configurations, conversations, ingestion, sandbox, timeline, webhooks
from orchestrion.services.changes import Signature
from orchestrion.services.conversations import ConversationChange
from orchestrion.store.paging import Page, PageRequest

PAGE_SIZE = 25
MAX_CONFIGURATIONS = 1000  # listed in the filter


@dataclass(frozen=True, slots=True)
class Filters:
    status: str = ""
    configuration: str = ""
    address: str = ""

    def query(self) -> str:
        given = (("status", self.status), ("configuration", self.configuration), ("address", self.address))
        return "&".join(f"{name}={live.quote(value)}" for name, value in given if value)


@dataclass(frozen=True, slots=True)
class Listing:
    filters: Filters
    conversations: Page[ConversationView]
    configurations: list[Configuration]
    newer: str | None  # page token of the newer page
    older: str | None
    signature: Signature
    filter_query: str  # the filters, as a query string
    page_query: str  # the filters and this page's token: what the live region asks for


def _filters(request: Request) -> Filters:
    query = request.query_params
    status = query.get("status", "")
    if status and status not in {str(s) for s in ConversationStatus}:
        raise InvalidInput(f"Unknown status {status!r}: one of {', '.join(s.value for s in ConversationStatus)}")
    return Filters(status, query.get("configuration", "").strip(), query.get("address", "").strip()[:256])


def _signature(found: Page[ConversationView]) -> Signature:
    """What the page shows, as a signature: here the page itself is the cheap read (one index range)."""
    seen = [
        (v.conversation.id, str(v.conversation.status), v.conversation.name, v.conversation.updated_ms, participants)
        for v in found.items
        for participants in [[(p.id, p.updated_ms) for p in v.participants]]
    ]
    times = [v.conversation.updated_ms for v in found.items]
    times += [p.updated_ms for v in found.items for p in v.participants]
    return changes.signature(repr((seen, found.more_after, found.more_before)), max(times, default=0))


async def _listing(request: Request, session: Session) -> Listing:
    assert session.account_sid is not None
    api = state(request)
    filters = _filters(request)
    scope = "\x00".join(["console-conversations", session.account_sid, *(filters.status, filters.configuration)])
    scope += "\x00" + filters.address
    paged = page_request(request, api.tokens, scope)
    request_page = PageRequest(PAGE_SIZE, after=paged.after, before=paged.before, newest_first=True)
    found = await conversations.list_conversations(
        api.ctx,
        session.account_sid,
        request_page,
        statuses=[ConversationStatus(filters.status)] if filters.status else (),
        configuration_id=filters.configuration or None,
        address=filters.address or None,
    )
    configured = await account_configurations(request, session)
    token = request.query_params.get("pageToken", "")
    this_page = f"pageToken={live.quote(token)}" if token else ""
    items = found.items
    return Listing(
        filters=filters,
        conversations=found,
        configurations=configured,
        newer=api.tokens.encode(scope, "p", items[0].conversation.id) if items and found.more_before else None,
        older=api.tokens.encode(scope, "n", items[-1].conversation.id) if items and found.more_after else None,
        signature=_signature(found),
        filter_query=filters.query(),
        page_query="&".join(part for part in (filters.query(), this_page) if part),
    )


async def account_configurations(request: Request, session: Session) -> list[Configuration]:
    assert session.account_sid is not None
    found = await configurations.list_configurations(
        state(request).ctx, session.account_sid, PageRequest(MAX_CONFIGURATIONS)
    )
    return found.items


@page
async def list_page(request: Request, session: Session) -> Response:
    return render(request, session, "conversations.html", listing=await _listing(request, session))


@page
async def list_rows(request: Request, session: Session) -> Response:
    listing = await _listing(request, session)
    return live.fragment(request, session, "_conversation_rows.html", listing.signature, listing=listing)


async def _timeline_context(request: Request, session: Session) -> tuple[Signature, timeline.Timeline]:
    assert session.account_sid is not None
    ctx = state(request).ctx
    conversation_id = request.path_params["id"]
    # Signature first: a change between the two reads only makes the next poll draw again.
    signature = await changes.conversation(ctx, session.account_sid, conversation_id)
    return signature, await timeline.conversation_timeline(ctx, session.account_sid, conversation_id)


@page
async def conversation_page(request: Request, session: Session) -> Response:
    signature, found = await _timeline_context(request, session)
    return render(
        request,
        session,
        "conversation.html",
        timeline=found,
        signature=signature,
        notice=live.notice(request),
    )


@page
async def conversation_timeline(request: Request, session: Session) -> Response:
    assert session.account_sid is not None
    ctx = state(request).ctx
    signature = await changes.conversation(ctx, session.account_sid, request.path_params["id"])
    unchanged = live.unchanged(request, signature)
    if unchanged is not None:
        return unchanged
    found = await timeline.conversation_timeline(ctx, session.account_sid, request.path_params["id"])
    return live.fragment(request, session, "_timeline.html", signature, timeline=found)


_MOVES = {"close": ConversationStatus.CLOSED, "reopen": ConversationStatus.ACTIVE}


@form
async def change_status(request: Request, session: Session, fields: Form) -> Response:
    assert session.account_sid is not None
    conversation_id = request.path_params["id"]
    move = _MOVES.get(fields.get("move", ""))
    if move is None:
        raise InvalidInput("Choose close or reopen")
    await conversations.update_conversation(
        state(request).ctx, session.account_sid, conversation_id, ConversationChange(status=move)
    )
    notice = "closed" if move is ConversationStatus.CLOSED else "reopened"
    return redirect(f"/console/conversations/{conversation_id}?notice={notice}")


@form
async def redeliver(request: Request, session: Session, fields: Form) -> Response:
    assert session.account_sid is not None
    conversation_id, delivery_id = request.path_params["id"], request.path_params["delivery"]
    await webhooks.redeliver(state(request).ctx, session.account_sid, conversation_id, delivery_id)
    return redirect(f"/console/conversations/{conversation_id}?notice=redelivery#delivery-{delivery_id}")


@form
async def reply(request: Request, session: Session, fields: Form) -> Response:
    """Reply as the customer to the conversation's newest sandbox message (as /sandbox/inbound does)."""
    assert session.account_sid is not None
    ctx = state(request).ctx
    conversation_id = request.path_params["id"]
    await conversations.get_conversation(ctx, session.account_sid, conversation_id)  # 404 if not the account's
    text = fields.get("body", "").strip()
    if not text:
        raise InvalidInput("Write the customer's reply first")
    latest = await sandbox.list_messages(
        ctx, session.account_sid, sandbox.InboxFilter(conversation_id=conversation_id, limit=1)
    )
    if not latest:
        raise InvalidState("The sandbox sent no message in this conversation yet: there is nothing to reply to")
    result, _sid = await ingestion.simulate_inbound(
        ctx, session.account_sid, ingestion.SimulatedInbound(body=text, in_reply_to=latest[-1].sid)
    )
    return after_reply(result)

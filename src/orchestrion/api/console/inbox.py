"""Console: the sandbox inbox, like Mailpit's for messages.

Everything the sandbox channel sent for the account, newest first, filtered
as ``GET /sandbox/messages`` filters (to, from, conversation, status, how
many), each with its queued → sent → delivered history. A message's own page
has the **Reply as customer** form, which goes through the same service as
``POST /sandbox/inbound`` with ``inReplyTo``; **Clear** forgets the account's
messages as ``DELETE /sandbox/messages`` does. The list is a live region.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from orchestrion.api.console import live
from orchestrion.api.console.guard import Form, form, page, redirect, render
from orchestrion.api.console.session import Session
from orchestrion.api.context import state
from orchestrion.domain.errors import InvalidInput
from orchestrion.domain.outcomes import MessageStatus
from orchestrion.services import changes, ingestion, sandbox
from orchestrion.services.changes import Signature
from orchestrion.services.ingestion import Ingested
from orchestrion.store.sandbox import SandboxMessage

FILTERS = ("to", "from", "conversationId", "status")


def _filter(request: Request) -> tuple[sandbox.InboxFilter, dict[str, str]]:
    query = request.query_params
    given = {name: query.get(name, "").strip() for name in FILTERS}
    raw_limit = query.get("limit", "") or str(sandbox.DEFAULT_LIST_LIMIT)
    if not raw_limit.isdigit():
        raise InvalidInput(f"The number of messages is a whole number from 1 to {sandbox.MAX_LIST_LIMIT}")
    given["limit"] = raw_limit
    where = sandbox.InboxFilter(
        to=given["to"] or None,
        from_address=given["from"] or None,
        conversation_id=given["conversationId"] or None,
        status=given["status"] or None,
        limit=int(raw_limit),
    )
    return where, given


async def _messages(request: Request, session: Session) -> tuple[list[SandboxMessage], dict[str, str], str]:
    """Newest first, with the filters as given and as a query string."""
    assert session.account_sid is not None
    where, given = _filter(request)
    found = await sandbox.list_messages(state(request).ctx, session.account_sid, where)
    query = "&".join(f"{k}={live.quote(v)}" for k, v in given.items() if v)
    return list(reversed(found)), given, query


async def _signature(request: Request, session: Session) -> Signature:
    assert session.account_sid is not None
    return await changes.sandbox(state(request).ctx, session.account_sid)


@page
async def inbox_page(request: Request, session: Session) -> Response:
    signature = await _signature(request, session)
    messages, given, query = await _messages(request, session)
    return render(
        request,
        session,
        "inbox.html",
        messages=messages,
        filters=given,
        query=query,
        statuses=[s.value for s in MessageStatus],
        signature=signature,
        notice=live.notice(request),
    )


@page
async def inbox_rows(request: Request, session: Session) -> Response:
    signature = await _signature(request, session)
    unchanged = live.unchanged(request, signature)
    if unchanged is not None:
        return unchanged
    messages, _given, query = await _messages(request, session)
    return live.fragment(request, session, "_inbox_rows.html", signature, messages=messages, query=query)


@page
async def message_page(request: Request, session: Session) -> Response:
    assert session.account_sid is not None
    found = await sandbox.get_message(state(request).ctx, session.account_sid, request.path_params["sid"])
    return render(request, session, "message.html", message=found)


def after_reply(result: Ingested) -> Response:
    """Where a reply as the customer landed: its conversation, or the inbox when nothing captured it."""
    if result.conversation_id is None:
        return redirect("/console/inbox?notice=ignored")
    return redirect(f"/console/conversations/{result.conversation_id}?notice=replied")


@form
async def reply(request: Request, session: Session, fields: Form) -> Response:
    assert session.account_sid is not None
    text = fields.get("body", "").strip()
    if not text:
        raise InvalidInput("Write the customer's reply first")
    result, _sid = await ingestion.simulate_inbound(
        state(request).ctx,
        session.account_sid,
        ingestion.SimulatedInbound(body=text, in_reply_to=request.path_params["sid"]),
    )
    return after_reply(result)


@form
async def clear(request: Request, session: Session, fields: Form) -> Response:
    assert session.account_sid is not None
    await sandbox.clear_messages(state(request).ctx, session.account_sid)
    return redirect("/console/inbox?notice=cleared")

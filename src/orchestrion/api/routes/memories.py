"""The Conversation Memory stand-in, memories: observations, conversation summaries and Recall.

``/v1/Stores/{storeId}/Profiles/{profileId}/Observations[/{observationId}]``,
``.../ConversationSummaries[/{summaryId}]`` and ``.../Recall``; authenticated
like /v2, scoped to the account. See docs/memory.md.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from orchestrion.api.context import authenticate, state
from orchestrion.api.jsonio import JSONResponse, read_json
from orchestrion.api.openapi import documented
from orchestrion.api.pagination import descending, page_request, time_param
from orchestrion.api.pagination import envelope as page_envelope
from orchestrion.api.routes.profiles import ONE as PROFILE
from orchestrion.api.schemas.memories import (
    CreateObservationsBody,
    CreateSummariesBody,
    ObservationListOut,
    ObservationOut,
    PatchMemoryBody,
    RecallBody,
    RecallOut,
    SummaryListOut,
    SummaryOut,
)
from orchestrion.api.schemas.participants import text_param
from orchestrion.api.schemas.profiles import MessageOut
from orchestrion.domain.memory import Memory, MemoryKind
from orchestrion.services import memories
from orchestrion.services.recall import recall_memories
from orchestrion.store.memories import MemoryFilter

TAG = "Memory"
OBSERVATIONS = PROFILE + "/Observations"
OBSERVATION = OBSERVATIONS + "/{memoryId}"
SUMMARIES = PROFILE + "/ConversationSummaries"
SUMMARY = SUMMARIES + "/{memoryId}"
RECALL = PROFILE + "/Recall"


def _ids(request: Request) -> tuple[str, str, str]:
    p = request.path_params
    return p["storeId"], p["profileId"], p.get("memoryId", "")


def _wire(model: BaseModel) -> dict[str, Any]:
    out: dict[str, Any] = model.model_dump(mode="json", by_alias=True, exclude_none=True)
    return out


@dataclass(frozen=True, slots=True)
class Kind:
    """What differs between observations and summaries: names, bodies, renderers."""

    kind: MemoryKind
    key: str  # the list's key, and the create body's
    noun: str  # in operation ids
    label: str  # in messages
    create_body: type[CreateObservationsBody] | type[CreateSummariesBody]
    out: Callable[[Memory], BaseModel]
    list_out: type[BaseModel]
    one_out: type[BaseModel]


OBSERVATION_KIND = Kind(
    MemoryKind.OBSERVATION,
    "observations",
    "Observations",
    "Observation",
    CreateObservationsBody,
    ObservationOut.of,
    ObservationListOut,
    ObservationOut,
)
SUMMARY_KIND = Kind(
    MemoryKind.SUMMARY,
    "summaries",
    "ConversationSummaries",
    "Summary",
    CreateSummariesBody,
    SummaryOut.of,
    SummaryListOut,
    SummaryOut,
)


def _accepted(message: str) -> Response:
    return JSONResponse(MessageOut(message=message).wire(), status_code=202)


async def create(kind: Kind, request: Request) -> Response:
    account_sid = await authenticate(request)
    body: Any = await read_json(request, kind.create_body)
    store_id, profile_id, _ = _ids(request)
    batch = [item.new() for item in getattr(body, kind.key)]
    await memories.create_memories(state(request).ctx, account_sid, store_id, profile_id, kind.kind, batch)
    return _accepted(f"{kind.label} creation accepted")


async def list_(kind: Kind, request: Request) -> Response:
    account_sid = await authenticate(request)
    api = state(request)
    store_id, profile_id, _ = _ids(request)
    f = MemoryFilter(
        source=text_param(request.query_params.get("source"), "source"),
        conversation_id=text_param(request.query_params.get("conversationId"), "conversationId"),
        created_from_ms=time_param(request, "createdAfter"),
        created_until_ms=time_param(request, "createdBefore"),
    )
    newest_first = descending(request)
    scope = "\x00".join(
        str(part)
        for part in (
            kind.key,
            account_sid,
            profile_id,
            newest_first,
            f.source,
            f.conversation_id,
            f.created_from_ms,
            f.created_until_ms,
        )
    )
    page = dataclasses.replace(page_request(request, api.tokens, scope), newest_first=newest_first)
    found = await memories.list_memories(api.ctx, account_sid, store_id, profile_id, kind.kind, page, f)
    return JSONResponse(
        page_envelope(kind.key, found, page.limit, api.tokens, scope, lambda m: _wire(kind.out(m)), lambda m: m.id)
    )


async def fetch(kind: Kind, request: Request) -> Response:
    account_sid = await authenticate(request)
    store_id, profile_id, memory_id = _ids(request)
    found = await memories.get_memory(state(request).ctx, account_sid, store_id, profile_id, kind.kind, memory_id)
    return JSONResponse(_wire(kind.out(found)))


async def patch(kind: Kind, request: Request) -> Response:
    account_sid = await authenticate(request)
    body = await read_json(request, PatchMemoryBody)
    store_id, profile_id, memory_id = _ids(request)
    await memories.update_memory(
        state(request).ctx, account_sid, store_id, profile_id, kind.kind, memory_id, body.change()
    )
    return _accepted(f"{kind.label} update accepted")


async def delete(kind: Kind, request: Request) -> Response:
    account_sid = await authenticate(request)
    store_id, profile_id, memory_id = _ids(request)
    await memories.delete_memory(state(request).ctx, account_sid, store_id, profile_id, kind.kind, memory_id)
    return _accepted(f"{kind.label} deletion accepted")


def _routes(kind: Kind, collection: str, one: str) -> list[BaseRoute]:
    """The five routes of a kind, each documented (the handler is ``partial(handler, kind)``)."""

    def route(path: str, handler: Any, method: str, op: str, summary: str, **facts: Any) -> Route:
        endpoint = documented(f"{op}Profile{kind.noun}", summary, tag=TAG, **facts)(partial(handler, kind))
        return Route(path, endpoint, methods=[method])

    return [
        route(
            collection,
            create,
            "POST",
            "Create",
            f"Record {kind.key}",
            body=kind.create_body,
            status=202,
            response=MessageOut,
        ),
        route(collection, list_, "GET", "List", f"List {kind.key}", response=kind.list_out),
        route(one, fetch, "GET", "Fetch", f"Fetch one of the {kind.key}", response=kind.one_out),
        route(
            one,
            patch,
            "PATCH",
            "Patch",
            f"Change one of the {kind.key}",
            body=PatchMemoryBody,
            status=202,
            response=MessageOut,
        ),
        route(one, delete, "DELETE", "Delete", f"Delete one of the {kind.key}", status=202, response=MessageOut),
    ]


@documented(
    "CreateFetchProfileMemory", "Recall what memory holds for a query", body=RecallBody, tag=TAG, response=RecallOut
)
async def recall(request: Request) -> Response:
    account_sid = await authenticate(request)
    body = await read_json(request, RecallBody)
    store_id, profile_id, _ = _ids(request)
    found = await recall_memories(state(request).ctx, account_sid, store_id, profile_id, body.request())
    return JSONResponse(RecallOut.of(found).wire())


routes: list[BaseRoute] = [
    Route(RECALL, recall, methods=["POST"]),
    *_routes(OBSERVATION_KIND, OBSERVATIONS, OBSERVATION),
    *_routes(SUMMARY_KIND, SUMMARIES, SUMMARY),
]

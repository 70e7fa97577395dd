"""Configurations: /v2/ControlPlane/Configurations. Every write is an operation (202)."""

from __future__ import annotations

import re

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from orchestrion.api.accepted import accepted
from orchestrion.api.context import authenticate, state
from orchestrion.api.jsonio import JSONResponse, read_json
from orchestrion.api.openapi import documented
from orchestrion.api.pagination import envelope, page_request
from orchestrion.api.schemas.configurations import (
    MEMORY_STORE_PATTERN,
    CreateConfigurationIn,
    PatchConfigurationIn,
    ReplaceConfigurationIn,
)
from orchestrion.domain import ids
from orchestrion.domain.errors import InvalidInput
from orchestrion.domain.models import Configuration
from orchestrion.services import configurations
from orchestrion.services.webhooks import check_callback_urls
from orchestrion.wire.configurations import configuration

LIST = "/v2/ControlPlane/Configurations"
ONE = "/v2/ControlPlane/Configurations/{id}"
TAG = "ControlPlane"
_MEMORY_STORE = re.compile(MEMORY_STORE_PATTERN)


def _id(c: Configuration) -> str:
    return c.id


@documented("ListConfiguration", "List configurations", tag=TAG)
async def list_(request: Request) -> Response:
    account_sid = await authenticate(request)
    api = state(request)
    memory_store_id = request.query_params.get("memoryStoreId") or None
    if memory_store_id is not None and not _MEMORY_STORE.fullmatch(memory_store_id):
        raise InvalidInput(f"Invalid parameter memoryStoreId: must match {MEMORY_STORE_PATTERN}")
    scope = "\x00".join(["configurations", account_sid, memory_store_id or ""])
    page = page_request(request, api.tokens, scope)
    found = await configurations.list_configurations(api.ctx, account_sid, page, memory_store_id=memory_store_id)
    return JSONResponse(envelope("configurations", found, page.limit, api.tokens, scope, configuration, _id))


@documented("FetchConfiguration", "Fetch a configuration", tag=TAG)
async def fetch(request: Request) -> Response:
    account_sid = await authenticate(request)
    found = await configurations.get_configuration(state(request).ctx, account_sid, request.path_params["id"])
    return JSONResponse(configuration(found))


@documented(
    "CreateConfiguration", "Create a configuration (an operation)", body=CreateConfigurationIn, status=202, tag=TAG
)
async def create(request: Request) -> Response:
    account_sid = await authenticate(request)
    body = await read_json(request, CreateConfigurationIn)
    await check_callback_urls(state(request).ctx, body.payload().get("statusCallbacks"), "statusCallbacks")
    configuration_id = ids.new_id(ids.CONFIGURATION)
    return await accepted(
        request,
        account_sid,
        "configuration.create",
        {**body.payload(), "configurationId": configuration_id},
        {"configurationId": configuration_id},
        body=body,
        precheck=lambda tx: configurations.check_create(tx, account_sid, body.display_name),
    )


async def _change(
    request: Request, account_sid: str, kind: str, body: ReplaceConfigurationIn | PatchConfigurationIn
) -> Response:
    configuration_id: str = request.path_params["id"]
    await check_callback_urls(state(request).ctx, body.payload().get("statusCallbacks"), "statusCallbacks")
    return await accepted(
        request,
        account_sid,
        kind,
        {**body.payload(), "configurationId": configuration_id},
        {"configurationId": configuration_id},
        body=body,
        precheck=lambda tx: configurations.check_change(tx, account_sid, configuration_id, body.display_name),
    )


@documented(
    "UpdateConfiguration", "Replace a configuration (an operation)", body=ReplaceConfigurationIn, status=202, tag=TAG
)
async def replace(request: Request) -> Response:
    account_sid = await authenticate(request)
    body = await read_json(request, ReplaceConfigurationIn)
    return await _change(request, account_sid, "configuration.update", body)


@documented(
    "PatchConfiguration",
    "Change some fields of a configuration (an operation)",
    body=PatchConfigurationIn,
    status=202,
    tag=TAG,
)
async def patch(request: Request) -> Response:
    account_sid = await authenticate(request)
    body = await read_json(request, PatchConfigurationIn)
    if not body.model_fields_set:
        raise InvalidInput("Nothing to change: a PATCH must give at least one field (null means leave as is)")
    return await _change(request, account_sid, "configuration.patch", body)


@documented("DeleteConfiguration", "Delete a configuration (an operation)", status=202, tag=TAG)
async def delete(request: Request) -> Response:
    account_sid = await authenticate(request)
    configuration_id: str = request.path_params["id"]
    return await accepted(
        request,
        account_sid,
        "configuration.delete",
        {"configurationId": configuration_id},
        {"configurationId": configuration_id},
        precheck=lambda tx: configurations.check_delete(tx, account_sid, configuration_id),
    )


routes: list[BaseRoute] = [
    Route(LIST, list_, methods=["GET"]),
    Route(LIST, create, methods=["POST"]),
    Route(ONE, fetch, methods=["GET"]),
    Route(ONE, replace, methods=["PUT"]),
    Route(ONE, patch, methods=["PATCH"]),
    Route(ONE, delete, methods=["DELETE"]),
]

"""Configurations: read them, check a requested change, apply it when its operation runs.

Writes are operations (see ``services.operations``): the request is checked
when it arrives (``check_*``, inside the transaction that records the
operation) and applied later by the operation runner (``apply_*``), which
checks again because the world may have changed in between.

Payloads are the validated request bodies in their wire form (camelCase,
nulls removed) plus ``configurationId``. ``Configuration.settings`` holds
every field that is not a column, under its wire name, defaults filled in:
channelSettings, statusCallbacks, intelligenceConfigurationIds,
memoryExtractionEnabled and, when set, conversationsV1Bridge.
"""

from __future__ import annotations

import copy
import dataclasses
from typing import Any

import structlog

from orchestrion.domain import ids
from orchestrion.domain.errors import Conflict, NotFound
from orchestrion.domain.models import Configuration, Json, Operation
from orchestrion.services.context import Context
from orchestrion.store.paging import Page, PageRequest
from orchestrion.store.store import Tx

log = structlog.get_logger("orchestrion.configurations")

KIND = "configuration"

# Non-column fields and their value when a create or a PUT leaves them out.
SETTINGS_DEFAULTS: dict[str, Any] = {
    "channelSettings": {},
    "statusCallbacks": [],
    "intelligenceConfigurationIds": [],
    "memoryExtractionEnabled": False,
    "conversationsV1Bridge": None,
}


def _not_found(configuration_id: str) -> NotFound:
    return NotFound(KIND, configuration_id)


def _name_taken(display_name: str, other_id: str | None) -> Conflict:
    return Conflict(f"A configuration named {display_name!r} already exists in this account", other_id)


# --- reads


async def get_configuration(ctx: Context, account_sid: str, configuration_id: str) -> Configuration:
    if not ids.is_id(configuration_id, ids.CONFIGURATION):
        raise _not_found(configuration_id)
    async with ctx.store.read() as tx:
        found = await tx.configurations.get(account_sid, configuration_id)
    if found is None:
        raise _not_found(configuration_id)
    return found


async def list_configurations(
    ctx: Context, account_sid: str, page: PageRequest, *, memory_store_id: str | None = None
) -> Page[Configuration]:
    async with ctx.store.read() as tx:
        return await tx.configurations.list(account_sid, page, memory_store_id=memory_store_id)


# --- checks at request time (inside the transaction that records the operation)


async def check_create(tx: Tx, account_sid: str, display_name: str) -> None:
    other = await tx.configurations.find_by_display_name(account_sid, display_name)
    if other is not None:
        raise _name_taken(display_name, other)


async def check_change(tx: Tx, account_sid: str, configuration_id: str, display_name: str | None) -> None:
    """For PUT and PATCH: the configuration exists and a new name is free."""
    if (
        not ids.is_id(configuration_id, ids.CONFIGURATION)
        or await tx.configurations.get(account_sid, configuration_id) is None
    ):
        raise _not_found(configuration_id)
    if display_name is not None:
        other = await tx.configurations.find_by_display_name(account_sid, display_name)
        if other is not None and other != configuration_id:
            raise _name_taken(display_name, other)


async def check_delete(tx: Tx, account_sid: str, configuration_id: str) -> None:
    """The configuration exists and no open (ACTIVE or INACTIVE) conversation uses it."""
    if (
        not ids.is_id(configuration_id, ids.CONFIGURATION)
        or await tx.configurations.get(account_sid, configuration_id) is None
    ):
        raise _not_found(configuration_id)
    await _ensure_unused(tx, configuration_id)


async def _ensure_unused(tx: Tx, configuration_id: str) -> None:
    open_ids = await tx.configurations.open_conversation_ids(configuration_id)
    if open_ids:
        raise Conflict(
            f"Configuration {configuration_id} is used by conversations that are not CLOSED "
            f"(for example {open_ids[0]}): close or delete them first",
            open_ids[0],
        )


# --- pure rules


def _settings(payload: Json, base: Json) -> Json:
    out = copy.deepcopy(base)
    for key in SETTINGS_DEFAULTS:
        if key in payload:
            out[key] = copy.deepcopy(payload[key])
    return {key: value for key, value in out.items() if value is not None}


def created(account_sid: str, payload: Json, now_ms: int) -> Configuration:
    return Configuration(
        id=payload["configurationId"],
        account_sid=account_sid,
        display_name=payload["displayName"],
        description=payload["description"],
        grouping_type=payload["conversationGroupingType"],
        memory_store_id=payload["memoryStoreId"],
        settings=_settings(payload, SETTINGS_DEFAULTS),
        version=1,
        created_ms=now_ms,
        updated_ms=now_ms,
    )


def replaced(current: Configuration, payload: Json, now_ms: int) -> Configuration:
    """PUT: every field from the payload; fields it leaves out go back to their defaults."""
    return dataclasses.replace(
        current,
        display_name=payload.get("displayName", current.display_name),
        description=payload["description"],
        grouping_type=payload["conversationGroupingType"],
        memory_store_id=payload["memoryStoreId"],
        settings=_settings(payload, SETTINGS_DEFAULTS),
        version=current.version + 1,
        updated_ms=now_ms,
    )


def patched(current: Configuration, payload: Json, now_ms: int) -> Configuration:
    """PATCH: only the fields given; channelSettings replaces the given channels, keeps the others."""
    changes = dict(payload)
    if "channelSettings" in changes:
        changes["channelSettings"] = {**current.settings.get("channelSettings", {}), **changes["channelSettings"]}
    return dataclasses.replace(
        current,
        display_name=payload.get("displayName", current.display_name),
        description=payload.get("description", current.description),
        grouping_type=payload.get("conversationGroupingType", current.grouping_type),
        memory_store_id=payload.get("memoryStoreId", current.memory_store_id),
        settings=_settings(changes, {**SETTINGS_DEFAULTS, **current.settings}),
        version=current.version + 1,
        updated_ms=now_ms,
    )


# --- appliers, run by the operation runner inside its transaction


async def _current(tx: Tx, account_sid: str, configuration_id: str) -> Configuration:
    found = await tx.configurations.get(account_sid, configuration_id, for_update=True)
    if found is None:
        raise _not_found(configuration_id)
    return found


async def apply_create(ctx: Context, tx: Tx, op: Operation, payload: Json) -> None:
    configuration = created(op.account_sid, payload, ctx.clock.now_ms())
    await tx.configurations.insert(configuration)  # raises Conflict if the name was taken meanwhile
    log.info("configuration_created", account_sid=op.account_sid, configuration_id=configuration.id)


async def apply_update(ctx: Context, tx: Tx, op: Operation, payload: Json) -> None:
    current = await _current(tx, op.account_sid, payload["configurationId"])
    changed = replaced(current, payload, ctx.clock.now_ms())
    await tx.configurations.update(changed)
    log.info("configuration_updated", account_sid=op.account_sid, configuration_id=current.id, version=changed.version)


async def apply_patch(ctx: Context, tx: Tx, op: Operation, payload: Json) -> None:
    current = await _current(tx, op.account_sid, payload["configurationId"])
    changed = patched(current, payload, ctx.clock.now_ms())
    await tx.configurations.update(changed)
    log.info("configuration_updated", account_sid=op.account_sid, configuration_id=current.id, version=changed.version)


async def apply_delete(ctx: Context, tx: Tx, op: Operation, payload: Json) -> None:
    current = await _current(tx, op.account_sid, payload["configurationId"])
    await _ensure_unused(tx, current.id)
    await tx.configurations.delete(op.account_sid, current.id)
    log.info("configuration_deleted", account_sid=op.account_sid, configuration_id=current.id)

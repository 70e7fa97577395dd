"""Studio Flow Executions (``/v2/Flows/{FlowSid}/Executions``): recorded, never run (``domain.studio``).

An execution runs for ``ctx.studio_execution_ms`` (``ORCHESTRION_STUDIO_EXECUTION_S``),
then reads ``ended``; ``POST .../Executions/{Sid}`` with ``Status=ended`` ends
it at once. Any flow SID of the right form is a flow: Orchestrion keeps no
flow definitions.
"""

from __future__ import annotations

from dataclasses import dataclass

import structlog

from orchestrion.domain import ids
from orchestrion.domain.errors import InvalidInput, NotFound
from orchestrion.domain.models import Json
from orchestrion.domain.studio import ENDED, Execution, conversation_named, is_execution_sid, is_flow_sid
from orchestrion.services.context import Context
from orchestrion.store.paging import Page, PageRequest
from orchestrion.store.store import Tx
from orchestrion.store.studio import ExecutionFilter

log = structlog.get_logger("orchestrion.studio")


@dataclass(frozen=True, slots=True)
class NewExecution:
    to: str
    from_address: str
    parameters: Json | None = None


def _check_flow(flow_sid: str) -> None:
    if not is_flow_sid(flow_sid):
        raise NotFound("Flow", flow_sid)


async def create_execution(ctx: Context, account_sid: str, flow_sid: str, new: NewExecution) -> Execution:
    _check_flow(flow_sid)
    now = ctx.clock.now_ms()
    execution = Execution(
        sid=ids.new_execution_sid(),
        account_sid=account_sid,
        flow_sid=flow_sid,
        contact_address=new.to,
        from_address=new.from_address,
        parameters=new.parameters,
        conversation_id=conversation_named(new.parameters),
        created_ms=now,
        updated_ms=now,
        ends_ms=now + ctx.studio_execution_ms,
    )
    async with ctx.store.write() as tx:
        await tx.studio.insert(execution)
    log.info(
        "studio_execution_created",
        account_sid=account_sid,
        flow_sid=flow_sid,
        execution_sid=execution.sid,
        conversation_id=execution.conversation_id,
    )
    return execution


async def _load(tx: Tx, account_sid: str, flow_sid: str, sid: str) -> Execution:
    found = await tx.studio.get(account_sid, flow_sid, sid) if is_flow_sid(flow_sid) and is_execution_sid(sid) else None
    if found is None:
        raise NotFound("Execution", sid)
    return found


async def get_execution(ctx: Context, account_sid: str, flow_sid: str, sid: str) -> Execution:
    async with ctx.store.read() as tx:
        return await _load(tx, account_sid, flow_sid, sid)


async def list_executions(ctx: Context, account_sid: str, page: PageRequest, f: ExecutionFilter) -> Page[Execution]:
    if f.flow_sid is not None:
        _check_flow(f.flow_sid)
    async with ctx.store.read() as tx:
        return await tx.studio.list(account_sid, page, f)


async def recent_executions(ctx: Context, account_sid: str, f: ExecutionFilter, limit: int) -> list[Execution]:
    async with ctx.store.read() as tx:
        return await tx.studio.newest(account_sid, f, limit)


async def end_execution(ctx: Context, account_sid: str, flow_sid: str, sid: str, status: str) -> Execution:
    """``Status=ended``: the only change Studio allows; an ended execution stays as it was."""
    if status != ENDED:
        raise InvalidInput(f"Invalid parameter Status: {status!r}; an execution can only be set to ended")
    async with ctx.store.write() as tx:
        execution = await _load(tx, account_sid, flow_sid, sid)
        now = ctx.clock.now_ms()
        if now < execution.ends_ms:
            await tx.studio.end(sid, now)
            execution = await _load(tx, account_sid, flow_sid, sid)
    return execution


async def delete_execution(ctx: Context, account_sid: str, flow_sid: str, sid: str) -> None:
    async with ctx.store.write() as tx:
        await _load(tx, account_sid, flow_sid, sid)
        await tx.studio.delete(sid)

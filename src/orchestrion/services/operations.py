"""Control-plane operations: record a requested change, run it in the background.

``submit`` writes, in one transaction, the operation (PENDING), its outbox
job and, when the request carries an Idempotency-Key, the response to replay.
``OperationRunner`` (job kind ``operation.run``) moves it to RUNNING, applies
the change and records COMPLETED in the same transaction as the change, so a
job that runs twice after a crash finds the operation terminal and does
nothing. A change the world no longer allows (a name taken meanwhile, a
configuration gone) ends FAILED with the error that stopped it.

A failed operation keeps its error as ``{"kind": <domain error class>,
"detail": <message>}``; the API renders it as an RFC 9457 problem.
"""

from __future__ import annotations

import dataclasses
import importlib
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import structlog

from orchestrion.domain import ids
from orchestrion.domain.errors import NotFound, OrchestrionError, StoreUnavailable
from orchestrion.domain.lifecycle import operation_is_terminal
from orchestrion.domain.models import Job, Json, Operation, OperationStatus
from orchestrion.services import configurations
from orchestrion.services import idempotency as idempotency_keys
from orchestrion.services.context import Context
from orchestrion.services.idempotency import IdempotentRequest
from orchestrion.store.idempotency import StoredResponse
from orchestrion.store.store import Tx

log = structlog.get_logger("orchestrion.operations")

JOB_KIND = "operation.run"

Precheck = Callable[[Tx], Awaitable[None]]
Applier = Callable[[Context, Tx, Operation, Json], Awaitable[None]]
Render = Callable[[Operation], StoredResponse]


async def submit(
    ctx: Context,
    account_sid: str,
    kind: str,
    payload: Json,
    related: dict[str, str],
    *,
    render: Render,
    precheck: Precheck | None = None,
    idempotency: IdempotentRequest | None = None,
) -> StoredResponse:
    """Record the operation and its job; the response to send (a replay when the key was seen)."""
    try:
        return await _submit_once(ctx, account_sid, kind, payload, related, render, precheck, idempotency)
    except idempotency_keys.KeyTaken:
        assert idempotency is not None
        return await idempotency_keys.winner(ctx, account_sid, idempotency)


async def _submit_once(
    ctx: Context,
    account_sid: str,
    kind: str,
    payload: Json,
    related: dict[str, str],
    render: Render,
    precheck: Precheck | None,
    idempotency: IdempotentRequest | None,
) -> StoredResponse:
    now = ctx.clock.now_ms()
    async with ctx.store.write() as tx:
        if idempotency is not None and (
            stored := await idempotency_keys.stored_answer(ctx, tx, account_sid, idempotency)
        ):
            return stored
        if precheck is not None:
            await precheck(tx)
        op = Operation(
            id=ids.new_id(ids.OPERATION),
            account_sid=account_sid,
            kind=kind,
            status=OperationStatus.PENDING,
            related=dict(related),
            error=None,
            created_ms=now,
            updated_ms=now,
            completed_ms=None,
        )
        await tx.operations.insert(op, payload)
        await tx.jobs.enqueue(JOB_KIND, {"operationId": op.id}, now_ms=now)
        response = render(op)
        if idempotency is not None:
            await idempotency_keys.remember(ctx, tx, account_sid, idempotency, response)  # KeyTaken: rolls back
    ctx.wakeup.notify()
    log.info("operation_submitted", account_sid=account_sid, operation_id=op.id, kind=kind)
    return response


async def get_operation(ctx: Context, account_sid: str, operation_id: str) -> Operation:
    if not ids.is_id(operation_id, ids.OPERATION):
        raise NotFound("operation", operation_id)
    async with ctx.store.read() as tx:
        found = await tx.operations.get(account_sid, operation_id)
    if found is None:
        raise NotFound("operation", operation_id)
    return found


# --- appliers


async def _delete_conversation(ctx: Context, tx: Tx, op: Operation, payload: Json) -> None:
    conversation_id = payload["conversationId"]
    # Imported late: the conversations service may not exist in every build.
    try:
        service: Any = importlib.import_module("orchestrion.services.conversations")
    except ModuleNotFoundError as error:
        if error.name != "orchestrion.services.conversations":
            raise
        service = None
    delete_now = getattr(service, "delete_conversation_now", None)
    if delete_now is not None:
        await delete_now(ctx, tx, op.account_sid, conversation_id)
    else:
        await tx.conversations.delete(op.account_sid, conversation_id)


APPLIERS: dict[str, Applier] = {
    "configuration.create": configurations.apply_create,
    "configuration.update": configurations.apply_update,
    "configuration.patch": configurations.apply_patch,
    "configuration.delete": configurations.apply_delete,
    "conversation.delete": _delete_conversation,
}


# --- the runner


class OperationRunner:
    """The handler of ``operation.run`` jobs."""

    def __init__(self, ctx: Context, appliers: Mapping[str, Applier] | None = None) -> None:
        self._ctx = ctx
        self._appliers = APPLIERS if appliers is None else appliers

    async def run(self, job: Job) -> None:
        operation_id = str(job.payload.get("operationId", ""))
        found = await self._start(operation_id)
        if found is None:
            return
        op, payload = found
        applier = self._appliers.get(op.kind)
        if applier is None:
            await self._finish(op.id, {"kind": "OrchestrionError", "detail": f"Unknown operation kind {op.kind}"})
            return
        try:
            async with self._ctx.store.write() as tx:
                current = await tx.operations.get(op.account_sid, op.id)
                if current is None or operation_is_terminal(current.status):
                    return
                await applier(self._ctx, tx, current, payload)
                now = self._ctx.clock.now_ms()
                await tx.operations.update(
                    dataclasses.replace(current, status=OperationStatus.COMPLETED, updated_ms=now, completed_ms=now)
                )
        except StoreUnavailable:
            raise  # the dispatcher retries the job
        except OrchestrionError as error:
            await self._finish(op.id, {"kind": type(error).__name__, "detail": error.message})
        else:
            log.info("operation_completed", account_sid=op.account_sid, operation_id=op.id, kind=op.kind)
        await self._purge_expired_keys()

    async def _purge_expired_keys(self) -> None:
        """Opportunistic: expired Idempotency-Key entries go whenever an operation ends."""
        async with self._ctx.store.write() as tx:
            purged = await tx.idempotency.purge(self._ctx.clock.now_ms())
        if purged:
            log.info("idempotency_keys_purged", count=purged)

    async def give_up(self, job: Job, reason: str) -> None:
        operation_id = str(job.payload.get("operationId", ""))
        log.warning("operation_given_up", operation_id=operation_id, reason=reason)
        await self._finish(
            operation_id,
            {"kind": "OrchestrionError", "detail": "The operation could not be completed after repeated attempts"},
        )

    async def _start(self, operation_id: str) -> tuple[Operation, Json] | None:
        """Move PENDING to RUNNING; None if the operation is gone or already terminal."""
        async with self._ctx.store.write() as tx:
            found = await tx.operations.get_with_request(operation_id)
            if found is None:
                log.warning("operation_missing", operation_id=operation_id)
                return None
            op, payload = found
            if operation_is_terminal(op.status):
                return None
            if op.status is OperationStatus.PENDING:
                op = dataclasses.replace(op, status=OperationStatus.RUNNING, updated_ms=self._ctx.clock.now_ms())
                await tx.operations.update(op)
        return op, payload

    async def _finish(self, operation_id: str, error: Json) -> None:
        """Record FAILED with ``error``, unless the operation already ended."""
        async with self._ctx.store.write() as tx:
            found = await tx.operations.get_with_request(operation_id)
            if found is None or operation_is_terminal(found[0].status):
                return
            now = self._ctx.clock.now_ms()
            await tx.operations.update(
                dataclasses.replace(
                    found[0], status=OperationStatus.FAILED, error=error, updated_ms=now, completed_ms=now
                )
            )
        log.info("operation_failed", operation_id=operation_id, kind=found[0].kind, error=error["kind"])

"""Actions: SEND_MESSAGE, from the request to a terminal status.

``create_send_message`` validates and resolves the request, then writes the
Action (PENDING) and its ``action.send`` outbox job in ONE transaction, so an
accepted Action is never without the job that will finish it. With an
Idempotency-Key (``create_send_message_once``) the answer is stored in that
transaction too, so a client retrying after a lost answer gets the same
Action, never a second one.

``SendHandler`` runs ``action.send``: it hands the message to the channel's
provider (idempotent on the Action id) and stores ``related.messageSid``
while the Action is still PENDING. The provider's status reports finish it
(``services.outcomes``). A transient provider error is retried by the
dispatcher with backoff; a permanent one, or the last failed attempt, ends in
``give_up``, which marks the Action FAILED. So every Action accepted with 202
ends COMPLETED or FAILED.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping

import structlog

from orchestrion.channels.base import OutboundMessage
from orchestrion.channels.registry import ProviderLookup
from orchestrion.domain import ids
from orchestrion.domain.channels import Channel
from orchestrion.domain.errors import Conflict, InvalidInput, NotFound
from orchestrion.domain.lifecycle import action_is_terminal, check_open
from orchestrion.domain.models import Action, ActionStatus, ActionView, Address, Conversation, Job, Participant
from orchestrion.domain.sending import (
    ACTION_TYPE,
    RECIPIENT_TYPE,
    SENDER_TYPE,
    ResolvedEndpoint,
    SendMessageCommand,
    SendRequest,
    check_can_send,
    check_command,
    check_recipients,
    endpoint_refs,
    pick_address,
    resolved_channel,
)
from orchestrion.services import events, idempotency, outcomes, tallies
from orchestrion.services.context import Context
from orchestrion.services.handoff import Reservation
from orchestrion.services.participants import ParticipantFields, admit_participant
from orchestrion.services.ratelimits import ActionLimit
from orchestrion.store.idempotency import StoredResponse
from orchestrion.store.store import Store, Tx

log = structlog.get_logger("orchestrion.actions")

SEND_JOB = "action.send"
# Concurrent requests may race to create the participant of one new address;
# the loser's transaction is replayed and finds the winner's participant.
_CREATE_TRIES = 3


async def create_send_message(
    ctx: Context,
    account_sid: str,
    conversation_id: str,
    command: SendMessageCommand,
    *,
    limit: ActionLimit | None = None,
) -> Action:
    """Accept a SEND_MESSAGE: the Action, PENDING, with its dispatch job enqueued.

    ``limit`` (the conversation's action rate) is asked once the conversation is
    found in the account and open, in the same transaction: never for a
    conversation the caller cannot see, and with no extra read.
    """
    created = await _accept(ctx, account_sid, conversation_id, command, None, limit)
    assert isinstance(created, Action)
    return created


async def create_send_message_once(
    ctx: Context,
    account_sid: str,
    conversation_id: str,
    command: SendMessageCommand,
    request: idempotency.IdempotentRequest,
    render: Callable[[Action], StoredResponse],
    *,
    limit: ActionLimit | None = None,
) -> StoredResponse:
    """Accept a SEND_MESSAGE sent with an Idempotency-Key: the answer, stored with the Action, or replayed.

    The key is looked up before anything else, so a replay gets the first
    answer even if the conversation has changed since (closed, deleted).
    """
    try:
        answer = await _accept(ctx, account_sid, conversation_id, command, (request, render), limit)
    except idempotency.KeyTaken:
        return await idempotency.winner(ctx, account_sid, request)
    assert isinstance(answer, StoredResponse)
    return answer


_Remember = tuple[idempotency.IdempotentRequest, Callable[[Action], StoredResponse]]


async def _accept(
    ctx: Context,
    account_sid: str,
    conversation_id: str,
    command: SendMessageCommand,
    remember: _Remember | None,
    limit: ActionLimit | None,
) -> Action | StoredResponse:
    check_command(command)
    with ctx.tracer.span("action.create", {"conversation.id": conversation_id}):
        return await _accept_traced(ctx, account_sid, conversation_id, command, remember, limit)


async def _accept_traced(
    ctx: Context,
    account_sid: str,
    conversation_id: str,
    command: SendMessageCommand,
    remember: _Remember | None,
    limit: ActionLimit | None,
) -> Action | StoredResponse:
    for attempt in range(1, _CREATE_TRIES + 1):
        # Only the first try waits for a slot: a retry after a conflict has waited its turn already.
        reservation = await ctx.handoff.admit(SEND_JOB) if attempt == 1 else ctx.handoff.reserve(SEND_JOB)
        job: list[Job] = []  # the send job, once its transaction committed
        try:
            created = await _create(
                ctx, account_sid, conversation_id, command, remember, limit if attempt == 1 else None, reservation, job
            )
        except Conflict:
            if attempt == _CREATE_TRIES:
                raise
            continue
        finally:
            if reservation is not None and not job:
                reservation.cancel()
        if reservation is not None and job:
            if isinstance(created, Action):
                ctx.fresh.put(job[0].id, created)
            reservation.start(job[0])  # this process's dispatcher runs it: nobody needs waking
        elif job:
            ctx.wakeup.notify()
        return created
    raise AssertionError("unreachable")


async def _create(
    ctx: Context,
    account_sid: str,
    conversation_id: str,
    command: SendMessageCommand,
    remember: _Remember | None,
    limit: ActionLimit | None,
    reservation: Reservation | None,
    written: list[Job],
) -> Action | StoredResponse:
    """One try, in one transaction; ``written`` gets the send job once the transaction has committed."""
    async with ctx.store.write() as tx:
        if remember is not None:
            stored = await idempotency.stored_answer(ctx, tx, account_sid, remember[0])
            if stored is not None:
                return stored
        if not ids.is_id(conversation_id, ids.CONVERSATION):
            raise NotFound("Conversation", conversation_id)
        by_address = [(r.channel, r.address) for _, r in endpoint_refs(command) if r.participant_id is None]
        wanted = [(channel, address) for channel, address in by_address if channel and address]
        conversation, owners = await tx.conversations.get_with_owners(account_sid, conversation_id, wanted)
        if conversation is None:
            raise NotFound("Conversation", conversation_id)
        check_open(conversation.status)
        if limit is not None:
            await limit.conversation_action(account_sid, conversation.id)
        request = await _resolve(ctx, tx, conversation, command, owners)
        now = ctx.clock.now_ms()
        action = Action(
            id=ids.new_id(ids.ACTION),
            conversation_id=conversation.id,
            account_sid=account_sid,
            type=ACTION_TYPE,
            status=ActionStatus.PENDING,
            related={},
            request=request.to_json(),
            failure_reason=None,
            created_ms=now,
            updated_ms=now,
            completed_ms=None,
        )
        await tx.actions.insert(action)
        leased_to = None if reservation is None else (reservation.worker_id, reservation.lease_until_ms)
        job = await tx.jobs.enqueue(SEND_JOB, {"actionId": action.id}, now_ms=now, leased_to=leased_to)
        tx.after_commit(lambda: written.append(job))
        tallies.action_created(ctx, tx, request)
        if remember is None:
            return action
        once, render = remember
        answer = render(action)
        await idempotency.remember(ctx, tx, account_sid, once, answer)  # KeyTaken: rolls back
    return answer


async def _resolve(
    ctx: Context,
    tx: Tx,
    conversation: Conversation,
    command: SendMessageCommand,
    owners: Mapping[tuple[Channel, str], str],
) -> SendRequest:
    """Turn every endpoint into (channel, address, participant), creating participants for new addresses.

    ``owners``: who owns each address given with its channel (read with the conversation).
    """
    known: dict[str, Participant] = {}
    found: list[tuple[str, Channel, str, str | None]] = []  # where, channel, address, participant id
    for where, ref in endpoint_refs(command):
        if ref.participant_id is not None:
            participant = known.get(ref.participant_id) or await tx.participants.get(
                conversation.id, ref.participant_id
            )
            if participant is None:
                raise InvalidInput(
                    f"{where}.participantId {ref.participant_id} is not a participant of conversation {conversation.id}"
                )
            known[participant.id] = participant
            picked = pick_address(participant, ref, where)
            check_can_send(picked.channel, where)
            found.append((where, picked.channel, picked.address, participant.id))
        else:
            assert ref.address is not None and ref.channel is not None  # check_command
            found.append((where, ref.channel, ref.address, owners.get((ref.channel, ref.address))))
    channel = resolved_channel([(where, c) for where, c, _, _ in found])
    check_recipients(channel, found[0][2], [address for _, _, address, _ in found[1:]])

    # Every rule holds: only now create participants for addresses nobody owns.
    now = ctx.clock.now_ms()
    endpoints: list[ResolvedEndpoint] = []
    for i, (_, _, address, owner) in enumerate(found):
        if owner is None:
            fields = ParticipantFields(
                type=SENDER_TYPE if i == 0 else RECIPIENT_TYPE, addresses=(Address(channel, address),)
            )
            owner = (await admit_participant(ctx, tx, conversation, fields, now)).id
        endpoints.append(ResolvedEndpoint(address, owner))
    return SendRequest(
        channel=channel,
        sender=endpoints[0],
        to=tuple(endpoints[1:]),
        content=command.content,
        channel_settings=command.channel_settings,
    )


async def get_action(ctx: Context, account_sid: str, conversation_id: str, action_id: str) -> ActionView:
    """The hot path: one primary-key read, scoped to the account and the conversation."""
    if not ids.is_id(action_id, ids.ACTION):
        raise NotFound("Action", action_id)
    async with ctx.store.read() as tx:
        action = await tx.actions.view(account_sid, conversation_id, action_id)
    if action is None:
        raise NotFound("Action", action_id)
    return action


def outbound_message(action: Action, attempt: int = 1) -> OutboundMessage:
    request = SendRequest.from_json(action.request)
    return OutboundMessage(
        account_sid=action.account_sid,
        action_id=action.id,
        conversation_id=action.conversation_id,
        channel=request.channel,
        from_address=request.sender.address,
        to_addresses=tuple(t.address for t in request.to),
        text=request.content.text,
        content_id=request.content.content_id,
        variables=request.content.variables,
        media_urls=request.content.media_urls,
        channel_settings=request.channel_settings,
        attempt=attempt,
    )


async def fail_action(ctx: Context, action_id: str, reason: str) -> bool:
    """Mark a PENDING Action FAILED with ``reason``; False if it was already terminal or is gone."""
    async with ctx.store.write() as tx:
        action = await tx.actions.get_by_id(action_id, for_update=True)
        if action is None or action_is_terminal(action.status):
            return False
        now = ctx.clock.now_ms()
        failed = dataclasses.replace(
            action, status=ActionStatus.FAILED, failure_reason=reason, updated_ms=now, completed_ms=now
        )
        changed = await tx.actions.update(failed)
        if changed:
            await events.action_updated(ctx, tx, failed)
            tallies.action_finished(ctx, tx, failed)
    if changed:
        log.info("action_failed", action_id=action_id, reason=reason)
    return changed


class SendHandler:
    """Runs ``action.send`` jobs (payload ``{"actionId": ...}``)."""

    def __init__(self, ctx: Context, registry: ProviderLookup) -> None:
        self._ctx = ctx
        self._registry = registry

    async def run(self, job: Job) -> None:
        action_id: str = job.payload["actionId"]
        action = self._ctx.fresh.take(job.id) if job.attempts == 1 else None
        if not isinstance(action, Action) or action.id != action_id:
            async with self._ctx.store.read() as tx:
                action = await tx.actions.get_by_id(action_id)
        if action is None or action_is_terminal(action.status):
            return  # deleted with its conversation, or already finished (a re-run)
        message = outbound_message(action, attempt=job.attempts)
        with self._ctx.tracer.span("provider.send", {"action.id": action.id, "channel": str(message.channel)}) as span:
            provider = await self._registry.provider_for(action.account_sid, message.channel)
            try:
                with outcomes.sending(action):
                    receipt = await provider.send(message, idempotency_key=action.id)
            except outcomes.ActionChanged:  # the report's transaction rolled back
                async with self._ctx.store.read() as tx:
                    stored = await tx.actions.get_by_id(action_id)
                if stored is None or action_is_terminal(stored.status):
                    log.info("action_finished_during_send", action_id=action_id)
                    return  # a timeout or a deletion got there first: nothing to send for
                raise  # changed but still PENDING: the job runs again, from the stored Action
            span.set("message.sid", receipt.message_sid)
        if Store.job_finished():
            return  # the provider's report finished the Action with the send, and ended this job
        async with self._ctx.store.read() as tx:
            current = await tx.actions.get_by_id(action_id)
        # Terminal is final and a stored SID never changes: no write needed then. A provider
        # that reports at once (the sandbox with no step delay) has usually finished it already.
        if current is None or action_is_terminal(current.status) or "messageSid" in current.related:
            return
        async with self._ctx.store.write() as tx:
            current = await tx.actions.get_by_id(action_id, for_update=True)
            if current is None or action_is_terminal(current.status):
                return  # a status report got there first (outcomes adopted the SID)
            known = current.related.get("messageSid")
            if known == receipt.message_sid:
                return
            if known is not None:
                log.warning("message_sid_differs", action_id=action_id, known=known, received=receipt.message_sid)
                return
            await tx.actions.update(
                dataclasses.replace(
                    current,
                    related={**current.related, "messageSid": receipt.message_sid},
                    updated_ms=self._ctx.clock.now_ms(),
                )
            )

    async def give_up(self, job: Job, reason: str) -> None:
        await fail_action(self._ctx, job.payload["actionId"], reason)

    async def aclose(self) -> None:
        close = getattr(self._registry, "aclose", None)
        if close is not None:
            await close()

"""OpenTelemetry traces: one trace from the request that creates an Action to its status callbacks.

The server runs with an in-memory exporter (the SDK's own), so the test reads
every span it ended. The chain crosses the outbox: each job's span is a child
of the span that enqueued it, through the traceparent stored with the job.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from orchestrion.runtime import Runtime
from orchestrion.store.tables import jobs
from orchestrion.telemetry.otel import OtelTracer
from tests.acceptance.actions_support import wait_for
from tests.acceptance.conftest import make_configuration
from tests.acceptance.test_metrics import requests_total, samples
from tests.acceptance.webhook_receiver import Receiver
from tests.conftest import LiveServer, new_account, test_settings

AGENT = "+15005550006"
CALLER_TRACE = "0af7651916cd43dd8448eb211c80319c"
TRACEPARENT = f"00-{CALLER_TRACE}-b7ad6b7169203331-01"


@pytest.fixture
def exported() -> InMemorySpanExporter:
    return InMemorySpanExporter()


@pytest.fixture
def traced(private_database_url: str, exported: InMemorySpanExporter) -> Iterator[tuple[LiveServer, Receiver]]:
    receiver = Receiver(answer=lambda _r: 204)
    live = LiveServer(test_settings(private_database_url), tracer=OtelTracer(SimpleSpanProcessor(exported))).start()
    try:
        yield live, receiver
    finally:
        live.stop()
        receiver.close()


def _ancestry(span: ReadableSpan, by_id: dict[int, ReadableSpan]) -> list[ReadableSpan]:
    """``span`` and its parents, up to the root of what this server recorded."""
    found = [span]
    while span.parent is not None and span.parent.span_id in by_id:
        span = by_id[span.parent.span_id]
        found.append(span)
    return found


def test_one_trace_runs_from_the_request_through_the_outbox_to_the_status_callback(
    traced: tuple[LiveServer, Receiver], private_database_url: str, exported: InMemorySpanExporter
) -> None:
    live, receiver = traced
    account = new_account(private_database_url)
    configuration_id = make_configuration(
        private_database_url, account.account_sid, statusCallbacks=[{"url": receiver.url()}]
    )
    with httpx.Client(base_url=live.url, auth=(account.account_sid, account.auth_token), timeout=15) as http:
        conversation_id = http.post("/v2/Conversations", json={"configurationId": configuration_id}).json()["id"]
        created = http.post(_actions(conversation_id), json=_send_body(), headers={"traceparent": TRACEPARENT})
        assert created.status_code == 202, created.text
    updated = wait_for(
        lambda: next((r for r in receiver.requests() if "ACTION_UPDATED" in r.body), None), "ACTION_UPDATED"
    )

    def callback_span() -> ReadableSpan | None:
        return next(
            (
                s
                for s in exported.get_finished_spans()
                if s.name == "status_callback" and (s.attributes or {}).get("webhook.event_type") == "ACTION_UPDATED"
            ),
            None,
        )

    def callback_lineage() -> list[ReadableSpan] | None:
        # A span ends before its parent: wait until every span up to the request's has ended too.
        callback = callback_span()
        if callback is None:
            return None
        found = _ancestry(callback, {s.context.span_id: s for s in exported.get_finished_spans()})
        return found if found[-1].name.startswith("POST ") else None

    lineage = wait_for(callback_lineage, "the ACTION_UPDATED delivery's span and its ancestors")
    spans = list(exported.get_finished_spans())
    by_id = {s.context.span_id: s for s in spans}
    chain = [s.name for s in lineage]
    assert chain[0] == "status_callback" and chain[1] == "job webhook.deliver"
    assert chain[-2:] == ["action.create", "POST /v2/Conversations/{ConversationId}/Actions"]
    assert "job action.send" in chain
    assert {s.context.trace_id for s in lineage} == {int(CALLER_TRACE, 16)}  # the caller's trace, continued
    assert lineage[-1].parent is not None and lineage[-1].parent.span_id == int(TRACEPARENT.split("-")[2], 16)
    [send] = [s for s in spans if s.name == "provider.send" and s.context.trace_id == int(CALLER_TRACE, 16)]
    assert [s.name for s in _ancestry(send, by_id)[1:3]] == ["job action.send", "action.create"]
    assert (send.attributes or {}).get("message.sid", "").startswith("SM")
    assert updated.headers["traceparent"].split("-")[1] == CALLER_TRACE  # the receiver can join the trace


def test_with_tracing_on_every_request_is_still_counted_in_the_metrics(
    traced: tuple[LiveServer, Receiver], private_database_url: str
) -> None:
    live, _receiver = traced
    account = new_account(private_database_url)
    configuration_id = make_configuration(private_database_url, account.account_sid)
    with httpx.Client(base_url=live.url, auth=(account.account_sid, account.auth_token), timeout=15) as http:
        conversation_id = http.post("/v2/Conversations", json={"configurationId": configuration_id}).json()["id"]
        for _ in range(3):
            assert http.post(_actions(conversation_id), json=_send_body()).status_code == 202
        assert http.get(_actions(conversation_id) + "/action_nonexistent").status_code == 404
        found = samples(http.get("/metrics").text)
    assert requests_total(found, "/v2/Conversations/{ConversationId}/Actions", "POST", 202) == 3
    assert requests_total(found, "/v2/Conversations/{ConversationId}/Actions/{ActionId}", "GET", 404) == 1


def test_without_tracing_no_job_carries_a_traceparent(private_database_url: str) -> None:
    _clear_outbox(private_database_url)  # what the traced test of the module left (its later callbacks)
    live = LiveServer(test_settings(private_database_url)).start(run_worker=False)  # the jobs stay in the outbox
    try:
        account = new_account(private_database_url)
        configuration_id = make_configuration(private_database_url, account.account_sid)
        with httpx.Client(base_url=live.url, auth=(account.account_sid, account.auth_token), timeout=15) as http:
            conversation_id = http.post("/v2/Conversations", json={"configurationId": configuration_id}).json()["id"]
            headers = {"traceparent": TRACEPARENT}
            created = http.post(_actions(conversation_id), json=_send_body(), headers=headers)
            assert created.status_code == 202
    finally:
        live.stop()
    # Only this Action's jobs: the database may hold other tests' (a traced server's among them).
    action_id = created.json()["id"]
    payloads = [p for p in _payloads(private_database_url) if action_id in json.dumps(p)]
    assert payloads and not any("traceparent" in p for p in payloads)


def _actions(conversation_id: str) -> str:
    return f"/v2/Conversations/{conversation_id}/Actions"


def _send_body() -> dict[str, Any]:
    return {
        "type": "SEND_MESSAGE",
        "payload": {
            "from": {"address": AGENT, "channel": "SMS"},
            "to": [{"address": "+14155550100", "channel": "SMS"}],
            "content": {"text": "hi"},
        },
    }


def _clear_outbox(database_url: str) -> None:
    async def clear() -> None:
        runtime = Runtime.build(test_settings(database_url))
        try:
            async with runtime.ctx.store.write() as tx:
                await tx.conn.execute(jobs.delete())
        finally:
            await runtime.ctx.store.close()

    asyncio.run(clear())


def _payloads(database_url: str) -> list[dict[str, Any]]:
    async def read() -> list[dict[str, Any]]:
        runtime = Runtime.build(test_settings(database_url))
        try:
            async with runtime.ctx.store.read() as tx:
                return [dict(row.payload) for row in (await tx.conn.execute(sa.select(jobs.c.payload))).all()]
        finally:
            await runtime.ctx.store.close()

    return asyncio.run(read())

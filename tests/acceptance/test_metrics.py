"""/metrics: exact counts after a known workload, read with prometheus-client's own parser.

Each test runs its own server, so its counts start at zero; every request of
the workload is a plain HTTP request whose route, method and status are known.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from prometheus_client.parser import text_string_to_metric_families

from orchestrion.runtime import Runtime
from orchestrion.store.tables import jobs
from tests.acceptance.actions_support import settle, wait_for
from tests.acceptance.conftest import make_configuration
from tests.acceptance.processes import Processes
from tests.acceptance.webhook_receiver import Receiver
from tests.conftest import Credentials, LiveServer, new_account, test_settings

ACTION = "/v2/Conversations/{ConversationId}/Actions/{ActionId}"
ACTIONS = "/v2/Conversations/{ConversationId}/Actions"
AGENT = "+15005550006"


@pytest.fixture
def servers() -> Iterator[list[LiveServer]]:
    started: list[LiveServer] = []
    yield started
    for live in started:
        live.stop()


def samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Every sample of the exposition: (name, labels) -> value."""
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def requests_total(
    found: dict[tuple[str, frozenset[tuple[str, str]]], float], route: str, method: str, status: int
) -> float:
    key = (
        "orchestrion_http_requests_total",
        frozenset({("route", route), ("method", method), ("status", str(status))}),
    )
    return found.get(key, 0.0)


def _send(http: httpx.Client, conversation_id: str, to: str = "+14155550100") -> httpx.Response:
    return http.post(
        f"/v2/Conversations/{conversation_id}/Actions",
        json={
            "type": "SEND_MESSAGE",
            "payload": {
                "from": {"address": AGENT, "channel": "SMS"},
                "to": [{"address": to, "channel": "SMS"}],
                "content": {"text": "hi"},
            },
        },
    )


def test_a_known_workload_is_counted_exactly(
    servers: list[LiveServer], database_url: str, account: Credentials
) -> None:
    # One action per conversation and then 429s: the per-conversation limit is part of the workload.
    servers.append(live := LiveServer(test_settings(database_url, actions_per_conversation_per_second=0.001)).start())
    configuration_id = make_configuration(
        database_url, account.account_sid, channelSettings={"SMS": {"captureRules": [{"from": "*", "to": AGENT}]}}
    )
    with httpx.Client(base_url=live.url, auth=(account.account_sid, account.auth_token), timeout=15) as http:
        conversation_id = http.post("/v2/Conversations", json={"configurationId": configuration_id}).json()["id"]
        sent = [_send(http, conversation_id) for _ in range(3)]
        assert [r.status_code for r in sent] == [202, 429, 429]
        action_id = sent[0].json()["id"]
        for _ in range(4):
            assert http.get(f"/v2/Conversations/{conversation_id}/Actions/{action_id}").status_code == 200
        assert http.get("/v2/Conversations/conv_conversation_01jq7z8k9m0n1p2q3r4s5t6v7w").status_code == 404
        assert http.get("/no/such/path").status_code == 404
        inbound = [
            {"from": "+14155550111", "to": AGENT, "body": "one", "messageSid": "SM" + "1" * 32},
            {"from": "+14155550111", "to": AGENT, "body": "one again", "messageSid": "SM" + "1" * 32},
            {"from": "+14155550112", "to": AGENT, "body": "two"},
            {"from": "+14155550113", "to": "+15005550999", "body": "nobody's number"},
        ]
        answers = [http.post("/sandbox/inbound", json=body).json() for body in inbound]
        assert [(a["captured"], a["duplicate"]) for a in answers] == [
            (True, False),
            (True, True),
            (True, False),
            (False, False),
        ]
    for _ in range(2):
        assert (
            httpx.get(live.url + "/v2/Conversations", auth=(account.account_sid, "wrong"), timeout=10).status_code
            == 401
        )

    found = samples(httpx.get(live.url + "/metrics", timeout=10).text)
    assert requests_total(found, "/v2/Conversations", "POST", 201) == 1
    assert requests_total(found, ACTIONS, "POST", 202) == 1
    assert requests_total(found, ACTIONS, "POST", 429) == 2
    assert requests_total(found, ACTION, "GET", 200) == 4
    assert requests_total(found, "/v2/Conversations/{id}", "GET", 404) == 1
    assert requests_total(found, "unmatched", "GET", 404) == 1
    assert requests_total(found, "/v2/Conversations", "GET", 401) == 2  # refused by the gate, before routing
    assert requests_total(found, "/sandbox/inbound", "POST", 200) == 4
    duration = ("orchestrion_http_request_duration_seconds_count", frozenset({("route", ACTION), ("method", "GET")}))
    assert found[duration] == 4
    inbound_total = {
        outcome: found.get(
            ("orchestrion_inbound_messages_total", frozenset({("direction", "inbound"), ("outcome", outcome)})), 0.0
        )
        for outcome in ("captured", "duplicate", "ignored")
    }
    assert inbound_total == {"captured": 2, "duplicate": 1, "ignored": 1}
    refusals = ("orchestrion_rate_limit_refusals_total", frozenset({("limit", "actions_per_conversation_per_second")}))
    assert found[refusals] == 2


def test_actions_jobs_and_status_callbacks_are_counted_exactly(
    servers: list[LiveServer], private_database_url: str
) -> None:
    account = new_account(private_database_url)
    answers = iter([500])  # the first callback fails (and is retried), every other one is taken

    receiver = Receiver(answer=lambda _r: next(answers, 204))
    try:
        settings = test_settings(private_database_url, retry_max_delay_s=0.2)
        servers.append(live := LiveServer(settings).start())
        configuration_id = make_configuration(
            private_database_url, account.account_sid, statusCallbacks=[{"url": receiver.url()}]
        )
        with httpx.Client(base_url=live.url, auth=(account.account_sid, account.auth_token), timeout=15) as http:
            sent = []
            for to in ("+14155550100", "+14155550101", "+15005550001"):  # the last: 21211, FAILED
                conversation_id = http.post("/v2/Conversations", json={"configurationId": configuration_id}).json()[
                    "id"
                ]
                sent.append((conversation_id, _send(http, conversation_id, to).json()["id"]))
            statuses = [_terminal(http, c, a) for c, a in sent]
            assert statuses == ["COMPLETED", "COMPLETED", "FAILED"]
        settle(private_database_url)
        found = samples(httpx.get(live.url + "/metrics", timeout=10).text)
        delivered = len({r.token for r in receiver.requests()})
    finally:
        receiver.close()

    def value(name: str, **labels: str) -> float:
        return found.get((name, frozenset(labels.items())), 0.0)

    assert value("orchestrion_actions_created_total", channel="SMS") == 3
    assert value("orchestrion_actions_finished_total", channel="SMS", status="COMPLETED", code="none") == 2
    assert value("orchestrion_actions_finished_total", channel="SMS", status="FAILED", code="21211") == 1
    assert value("orchestrion_action_duration_seconds_count", status="COMPLETED") == 2
    assert value("orchestrion_dispatch_lag_seconds_count", kind="action.send") == 3  # one attempt each
    assert value("orchestrion_webhook_attempt_duration_seconds_count", outcome="failed") == 1
    assert value("orchestrion_webhook_attempt_duration_seconds_count", outcome="delivered") == delivered
    assert value("orchestrion_job_retries_total", kind="webhook.deliver") == 1
    assert value("orchestrion_dispatch_lag_seconds_count", kind="webhook.deliver") == delivered + 1
    waiting = _outbox(private_database_url)
    gauges = {k: v for (name, labels), v in found.items() if name == "orchestrion_outbox_jobs" for _, k in labels}
    assert gauges == waiting


def _terminal(http: httpx.Client, conversation_id: str, action_id: str) -> str:
    def status() -> str | None:
        found = http.get(f"/v2/Conversations/{conversation_id}/Actions/{action_id}").json()
        return str(found["status"]) if found["status"] != "PENDING" else None

    return wait_for(status, "a terminal action")


def _outbox(database_url: str) -> dict[str, float]:
    async def read() -> dict[str, float]:
        runtime = Runtime.build(test_settings(database_url))
        try:
            async with runtime.ctx.store.read() as tx:
                query = sa.select(jobs.c.kind, sa.func.count().label("n")).group_by(jobs.c.kind)
                return {str(row.kind): float(row.n) for row in (await tx.conn.execute(query)).all()}
        finally:
            await runtime.ctx.store.close()

    return asyncio.run(read())


def test_requests_over_the_account_limits_are_counted_by_limit(
    servers: list[LiveServer], database_url: str, account: Credentials
) -> None:
    servers.append(live := LiveServer(test_settings(database_url, rate_limit_rps=0.001, rate_limit_burst=2)).start())
    statuses = [
        httpx.get(
            live.url + "/v2/Conversations", auth=(account.account_sid, account.auth_token), timeout=10
        ).status_code
        for _ in range(5)
    ]
    assert statuses == [200, 200, 429, 429, 429]
    found = samples(httpx.get(live.url + "/metrics", timeout=10).text)
    assert found[("orchestrion_rate_limit_refusals_total", frozenset({("limit", "requests_per_second")}))] == 3
    assert requests_total(found, "/v2/Conversations", "GET", 429) == 3


def test_metrics_ask_for_the_bearer_token_when_one_is_set(servers: list[LiveServer], database_url: str) -> None:
    servers.append(live := LiveServer(test_settings(database_url, metrics_token="s3cret")).start(run_worker=False))
    refused = httpx.get(live.url + "/metrics", timeout=10)
    assert (refused.status_code, refused.json()["code"]) == (401, 20003)
    assert refused.headers["www-authenticate"].startswith("Bearer")
    assert httpx.get(live.url + "/metrics", headers={"Authorization": "Bearer nope"}, timeout=10).status_code == 401
    allowed = httpx.get(live.url + "/metrics", headers={"Authorization": "Bearer s3cret"}, timeout=10)
    assert allowed.status_code == 200 and allowed.headers["content-type"].startswith("text/plain")


def test_metrics_can_be_turned_off(servers: list[LiveServer], database_url: str) -> None:
    servers.append(live := LiveServer(test_settings(database_url, metrics=False)).start(run_worker=False))
    answer = httpx.get(live.url + "/metrics", timeout=10)
    assert (answer.status_code, answer.json()["code"]) == (404, 20404)


@pytest.mark.slow
def test_counts_add_up_across_worker_processes(private_database_url: str, tmp_path: Path, processes: Processes) -> None:
    """``serve --workers 2``: any process answers a scrape with every process's counts."""
    sid, token = "AC" + "7" * 32, "metrics-token"
    url = processes.serve(
        "--workers", "2", ORCHESTRION_ACCOUNT_SID=sid, ORCHESTRION_AUTH_TOKEN=token, TMPDIR=str(tmp_path)
    )
    [directory] = tmp_path.glob("orchestrion-metrics-*")  # made for this run
    sent = 0
    deadline = time.monotonic() + 60
    while len(_pids(directory)) < 2:  # until both processes have answered some (new connection each time)
        assert time.monotonic() < deadline, "one worker process took every connection"
        for _ in range(10):
            assert httpx.get(url + "/v2/Conversations", auth=(sid, token), timeout=10).status_code == 200
            sent += 1
    for _ in range(4):  # whichever process answers the scrape
        found = samples(httpx.get(url + "/metrics", timeout=10).text)
        assert requests_total(found, "/v2/Conversations", "GET", 200) == sent
    processes.stop_all()
    assert not directory.exists()  # the run's directory goes with it


@pytest.mark.slow
def test_a_separate_worker_counts_into_the_servers_metrics(
    private_database_url: str, tmp_path: Path, processes: Processes
) -> None:
    """``serve`` and ``worker`` given one PROMETHEUS_MULTIPROC_DIR: the worker's counts are in the scrape."""
    sid, token = "AC" + "8" * 32, "metrics-token"
    shared = {"PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "metrics"), "ORCHESTRION_ACCOUNT_SID": sid}
    url = processes.serve(ORCHESTRION_RUN_WORKER="0", ORCHESTRION_AUTH_TOKEN=token, **shared)
    processes.worker(ORCHESTRION_AUTH_TOKEN=token, **shared)
    configuration_id = make_configuration(private_database_url, sid)
    with httpx.Client(base_url=url, auth=(sid, token), timeout=15) as http:
        conversation_id = http.post("/v2/Conversations", json={"configurationId": configuration_id}).json()["id"]
        created = _send(http, conversation_id)
        assert created.status_code == 202, created.text
        assert _terminal(http, conversation_id, created.json()["id"]) == "COMPLETED"
    found = samples(httpx.get(url + "/metrics", timeout=10).text)
    finished = (
        "orchestrion_actions_finished_total",
        frozenset({("channel", "SMS"), ("status", "COMPLETED"), ("code", "none")}),
    )
    assert found.get(finished) == 1  # counted by the worker process, scraped from the server


def _pids(directory: Path) -> set[str]:
    return {path.stem.rsplit("_", 1)[1] for path in directory.glob("counter_*.db")}

"""Rate limits: per-account requests per second and in flight, per-conversation actions per second.

Each test runs its own server with tight limits; a refused request has no effect.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from orchestrion.store.redis_limiter import RedisLimiter
from tests.acceptance.conftest import in_store, make_configuration
from tests.conftest import Credentials, LiveServer, check_contract, test_settings
from tests.integration.test_rate_limiter import REDIS_URL, _redis_or_skip


def _server(database_url: str, **limits: Any) -> LiveServer:
    return LiveServer(test_settings(database_url, **limits)).start()


@pytest.fixture
def servers() -> Iterator[list[LiveServer]]:
    started: list[LiveServer] = []
    yield started
    for server in started:
        server.stop()


def _get(server: LiveServer, creds: Credentials, path: str = "/v2/Conversations") -> httpx.Response:
    response = httpx.get(server.url + path, auth=(creds.account_sid, creds.auth_token), timeout=10)
    check_contract("GET", server.url + path, response.status_code, response.text)
    return response


def _send(server: LiveServer, creds: Credentials, conversation_id: str, n: int) -> httpx.Response:
    body = {
        "type": "SEND_MESSAGE",
        "payload": {
            "from": {"address": "+15005550006", "channel": "SMS"},
            "to": [{"address": f"+1415555{n:04d}", "channel": "SMS"}],
            "content": {"text": f"message {n}"},
        },
    }
    return httpx.post(
        f"{server.url}/v2/Conversations/{conversation_id}/Actions",
        json=body,
        auth=(creds.account_sid, creds.auth_token),
        timeout=10,
    )


def test_requests_over_the_per_second_limit_get_429_with_retry_after(
    servers: list[LiveServer], database_url: str, account: Credentials
) -> None:
    servers.append(server := _server(database_url, rate_limit_rps=0.1, rate_limit_burst=3))
    statuses = [_get(server, account) for _ in range(5)]
    assert [r.status_code for r in statuses] == [200, 200, 200, 429, 429]
    assert statuses[3].json()["code"] == 20429
    assert int(statuses[3].headers["retry-after"]) >= 1


def test_per_second_limit_is_per_account(
    servers: list[LiveServer], database_url: str, account: Credentials, other_account: Credentials
) -> None:
    servers.append(server := _server(database_url, rate_limit_rps=0.1, rate_limit_burst=1))
    assert _get(server, account).status_code == 200
    assert _get(server, account).status_code == 429
    assert _get(server, other_account).status_code == 200


def _hold_request_open(server: LiveServer, creds: Credentials, path: str) -> socket.socket:
    """A request whose body never finishes arriving: it stays in flight until closed."""
    import base64

    host, port = server.url.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)), timeout=10)
    token = base64.b64encode(f"{creds.account_sid}:{creds.auth_token}".encode()).decode()
    sock.sendall(
        (
            f"POST {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Basic {token}\r\n"
            "Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{"
        ).encode()
    )
    return sock


def test_requests_over_the_in_flight_limit_get_429_with_twilio_concurrent_requests(
    servers: list[LiveServer], database_url: str, account: Credentials
) -> None:
    servers.append(server := _server(database_url, rate_limit_concurrency=2))
    held = [_hold_request_open(server, account, "/v2/Conversations") for _ in range(2)]
    try:
        deadline = time.monotonic() + 10
        while (response := _get(server, account)).status_code != 429:
            assert time.monotonic() < deadline, "the third request in flight was never refused"
            time.sleep(0.05)
        assert response.json()["code"] == 20429
        assert response.headers["twilio-concurrent-requests"] == "2"
        assert response.headers["retry-after"] == "1"
    finally:
        for sock in held:
            sock.close()
    deadline = time.monotonic() + 10
    while _get(server, account).status_code != 200:
        assert time.monotonic() < deadline, "the limit was not released when the requests ended"
        time.sleep(0.05)


def test_actions_over_the_per_conversation_limit_get_429_and_have_no_effect(
    servers: list[LiveServer], database_url: str, account: Credentials
) -> None:
    servers.append(server := _server(database_url, actions_per_conversation_per_second=0.05, rate_limit_burst=2))
    configuration_id = make_configuration(database_url, account.account_sid)
    conversation = httpx.post(
        server.url + "/v2/Conversations",
        json={"configurationId": configuration_id},
        auth=(account.account_sid, account.auth_token),
        timeout=10,
    ).json()["id"]

    responses = [_send(server, account, conversation, n) for n in range(4)]

    assert [r.status_code for r in responses] == [202, 202, 429, 429]
    assert responses[2].json()["code"] == 20429

    async def count(tx: Any) -> int:
        import sqlalchemy as sa

        return int(
            (
                await tx.conn.execute(
                    sa.text("SELECT count(*) FROM actions WHERE conversation_id = :c"), {"c": conversation}
                )
            ).scalar_one()
        )

    assert in_store(database_url, count) == 2


def test_other_conversations_are_not_held_back_by_a_busy_one(
    servers: list[LiveServer], database_url: str, account: Credentials
) -> None:
    servers.append(server := _server(database_url, actions_per_conversation_per_second=0.05, rate_limit_burst=1))
    configuration_id = make_configuration(database_url, account.account_sid)
    auth = (account.account_sid, account.auth_token)
    busy, quiet = (
        httpx.post(server.url + "/v2/Conversations", json={"configurationId": configuration_id}, auth=auth).json()["id"]
        for _ in range(2)
    )
    assert _send(server, account, busy, 1).status_code == 202
    assert _send(server, account, busy, 2).status_code == 429
    assert _send(server, account, quiet, 3).status_code == 202


def test_another_account_cannot_spend_a_conversations_action_limit(
    servers: list[LiveServer], database_url: str, account: Credentials, other_account: Credentials
) -> None:
    servers.append(server := _server(database_url, actions_per_conversation_per_second=0.05, rate_limit_burst=2))
    configuration_id = make_configuration(database_url, account.account_sid)
    auth = (account.account_sid, account.auth_token)
    mine = httpx.post(server.url + "/v2/Conversations", json={"configurationId": configuration_id}, auth=auth).json()

    intruder = [_send(server, other_account, mine["id"], n).status_code for n in range(6)]
    unknown = [_send(server, other_account, "conv_conversation_" + "0" * 26, n).status_code for n in range(6)]

    assert intruder == [404] * 6, "another account's conversation must only ever be a 404"
    assert unknown == [404] * 6, "an unknown conversation must only ever be a 404"
    assert [_send(server, account, mine["id"], n).status_code for n in range(2)] == [202, 202]


def test_two_servers_sharing_redis_share_one_account_limit(
    servers: list[LiveServer], database_url: str, account: Credentials
) -> None:
    import asyncio

    asyncio.run(_close(asyncio.run(_redis_or_skip())))
    for _ in range(2):
        servers.append(_server(database_url, rate_limit_rps=0.1, rate_limit_burst=2, redis_url=REDIS_URL))
    first, second = servers
    assert _get(first, account).status_code == 200
    assert _get(second, account).status_code == 200
    assert _get(first, account).status_code == 429
    assert _get(second, account).status_code == 429


async def _close(limiter: RedisLimiter) -> None:
    await limiter.close()

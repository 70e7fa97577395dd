"""Idempotency-Key on SEND_MESSAGE (an addition to the reference): one Action per key, the first answer replayed.

A client that lost the answer to its POST (a dropped connection, a crashed
server) retries with the same key and gets the same Action, never a second
message.
"""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from tests.acceptance.actions_support import set_conversation_status
from tests.acceptance.conftest import create_conversation, in_store
from tests.conftest import Credentials


@pytest.fixture
def conversation_id(client: Any, configuration_id: str) -> str:
    return str(create_conversation(client, configuration_id).id)


def _body(text: str = "Your order has shipped") -> dict[str, Any]:
    return {
        "type": "SEND_MESSAGE",
        "payload": {
            "from": {"address": "+14155550100", "channel": "SMS"},
            "to": [{"address": "+14155550199", "channel": "SMS"}],
            "content": {"text": text},
        },
    }


def _post(http: httpx.Client, conversation_id: str, key: str, body: dict[str, Any] | None = None) -> httpx.Response:
    return http.post(
        f"/v2/Conversations/{conversation_id}/Actions", json=body or _body(), headers={"Idempotency-Key": key}
    )


def _actions(database_url: str, conversation_id: str) -> int:
    import sqlalchemy as sa

    async def count(tx: Any) -> int:
        statement = sa.text("SELECT count(*) FROM actions WHERE conversation_id = :c")
        return int((await tx.conn.execute(statement, {"c": conversation_id})).scalar_one())

    return in_store(database_url, count)


def test_the_same_request_with_its_key_replays_the_first_answer_byte_for_byte(
    http: httpx.Client, conversation_id: str, database_url: str
) -> None:
    key = str(uuid.uuid4())
    first, again = _post(http, conversation_id, key), _post(http, conversation_id, key)
    assert (first.status_code, again.status_code) == (202, 202)
    assert again.content == first.content
    assert _actions(database_url, conversation_id) == 1


def test_a_replay_gets_the_first_answer_after_the_conversation_closed(
    http: httpx.Client, conversation_id: str, database_url: str, account: Credentials
) -> None:
    key = str(uuid.uuid4())
    first = _post(http, conversation_id, key)
    set_conversation_status(database_url, account.account_sid, conversation_id, "CLOSED")
    again = _post(http, conversation_id, key)
    assert (again.status_code, again.content) == (202, first.content)
    assert _post(http, conversation_id, str(uuid.uuid4())).status_code == 409  # a new request is refused


def test_the_key_on_a_different_request_is_a_422(http: httpx.Client, conversation_id: str, database_url: str) -> None:
    key = str(uuid.uuid4())
    assert _post(http, conversation_id, key).status_code == 202
    other = _post(http, conversation_id, key, _body("something else"))
    assert (other.status_code, other.json()["code"]) == (422, 20422)
    assert _actions(database_url, conversation_id) == 1


def test_concurrent_requests_with_one_key_make_one_action(
    http: httpx.Client, conversation_id: str, database_url: str
) -> None:
    key = str(uuid.uuid4())
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda _: _post(http, conversation_id, key), range(8)))
    assert {a.status_code for a in answers} == {202}
    assert len({a.json()["id"] for a in answers}) == 1
    assert _actions(database_url, conversation_id) == 1


def test_a_key_that_is_not_a_uuid_is_a_400(http: httpx.Client, conversation_id: str) -> None:
    refused = _post(http, conversation_id, "not-a-uuid")
    assert (refused.status_code, refused.json()["code"]) == (400, 20001)

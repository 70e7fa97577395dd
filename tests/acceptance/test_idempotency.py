"""Idempotency-Key on control-plane writes: replay, mismatch, scope, expiry."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
import sqlalchemy as sa
from twilio.base.api_response import ApiResponse
from twilio.base.exceptions import TwilioRestException
from twilio.rest import Client

from orchestrion.store.store import Tx
from orchestrion.store.tables import idempotency_keys
from tests.acceptance.conftest import in_store
from tests.acceptance.test_configurations import (
    completed,
    configuration_fields,
    create_configuration,
    create_request,
    header,
    patch_request,
    wait_for,
)
from tests.conftest import Credentials

CONFIGURATIONS = "/v2/ControlPlane/Configurations"
REPLAYED_HEADERS = ("Operation-Id", "Location", "Retry-After")


def _create(client: Client, key: str, **fields: object) -> ApiResponse:
    return client.conversations.v2.configurations.create_with_http_info(
        idempotency_key=key, create_configuration_request=create_request(**fields)
    )


def _answer(response: ApiResponse) -> tuple[int, dict[str, str], str | None, dict[str, str] | None]:
    data = response.data
    return (
        response.status_code,
        {name: header(response, name) for name in REPLAYED_HEADERS},
        data.status_url,
        data.related,
    )


def test_same_key_and_request_replay_the_first_answer(client: Client) -> None:
    key = str(uuid.uuid4())
    first = _create(client, key)
    again = _create(client, key)
    assert _answer(again) == _answer(first)
    assert again.status_code == 202
    completed(client, first.data)
    assert len(client.conversations.v2.configurations.list()) == 1


def test_replay_after_the_operation_completed_is_still_the_202(client: Client) -> None:
    key = str(uuid.uuid4())
    first = _create(client, key)
    completed(client, first.data)
    again = _create(client, key)  # a fresh create with this name would be a 409
    assert _answer(again) == _answer(first)


def test_replayed_body_is_byte_for_byte_the_first(http: httpx.Client) -> None:
    key = str(uuid.uuid4())
    first = http.post(CONFIGURATIONS, json=configuration_fields(), headers={"Idempotency-Key": key})
    again = http.post(CONFIGURATIONS, json=configuration_fields(), headers={"Idempotency-Key": key.upper()})
    assert (again.status_code, again.content) == (202, first.content)


def test_explicit_nulls_and_key_order_do_not_make_a_different_request(http: httpx.Client) -> None:
    key = str(uuid.uuid4())
    fields = configuration_fields()
    first = http.post(CONFIGURATIONS, json=fields, headers={"Idempotency-Key": key})
    reordered = {**dict(reversed(list(fields.items()))), "statusCallbacks": None}
    again = http.post(CONFIGURATIONS, json=reordered, headers={"Idempotency-Key": key})
    assert again.headers["Operation-Id"] == first.headers["Operation-Id"]


def test_same_key_with_a_different_body_is_422(client: Client) -> None:
    key = str(uuid.uuid4())
    _create(client, key)
    with pytest.raises(TwilioRestException) as raised:
        _create(client, key, description="Something else")
    assert (raised.value.status, raised.value.code) == (422, 20422)
    assert "Idempotency-Key" in raised.value.msg


def test_same_key_on_another_operation_is_422(client: Client) -> None:
    created = create_configuration(client)
    key = str(uuid.uuid4())
    _create(client, key, displayName="Second")
    with pytest.raises(TwilioRestException) as raised:
        client.conversations.v2.configurations(created.id).patch(
            idempotency_key=key, patch_configuration_request=patch_request(description="x")
        )
    assert (raised.value.status, raised.value.code) == (422, 20422)


def test_key_that_is_not_a_uuid_is_400(client: Client) -> None:
    with pytest.raises(TwilioRestException) as raised:
        _create(client, "not-a-uuid")
    assert (raised.value.status, raised.value.code) == (400, 20001)
    assert client.conversations.v2.configurations.list() == []


def test_keys_belong_to_one_account(client: Client, other_client: Client) -> None:
    key = str(uuid.uuid4())
    mine = _create(client, key)
    theirs = _create(other_client, key)
    assert header(theirs, "Operation-Id") != header(mine, "Operation-Id")
    completed(other_client, theirs.data)


def test_patch_replays_with_its_key(client: Client) -> None:
    created = create_configuration(client)
    key = str(uuid.uuid4())

    def patch() -> ApiResponse:
        return client.conversations.v2.configurations(created.id).patch_with_http_info(
            idempotency_key=key, patch_configuration_request=patch_request(description="once")
        )

    first = patch()
    completed(client, first.data)
    assert _answer(patch()) == _answer(first)
    assert client.conversations.v2.configurations(created.id).fetch().version == 2


def test_delete_replays_after_the_configuration_is_gone(client: Client, http: httpx.Client) -> None:
    # The SDK drops the key of a DELETE, so this goes by plain HTTP.
    created = create_configuration(client)
    key = {"Idempotency-Key": str(uuid.uuid4())}
    first = http.delete(f"{CONFIGURATIONS}/{created.id}", headers=key)
    assert wait_for(client, first.headers["Operation-Id"]).status == "COMPLETED"
    again = http.delete(f"{CONFIGURATIONS}/{created.id}", headers=key)
    assert (again.status_code, again.content, again.headers["Operation-Id"]) == (
        202,
        first.content,
        first.headers["Operation-Id"],
    )


def test_refused_request_is_not_remembered(client: Client, http: httpx.Client) -> None:
    blocker = create_configuration(client)
    key = {"Idempotency-Key": str(uuid.uuid4())}
    assert http.post(CONFIGURATIONS, json=configuration_fields(), headers=key).status_code == 409
    deleted = http.delete(f"{CONFIGURATIONS}/{blocker.id}")
    assert wait_for(client, deleted.headers["Operation-Id"]).status == "COMPLETED"
    retried = http.post(CONFIGURATIONS, json=configuration_fields(), headers=key)
    assert retried.status_code == 202


def test_concurrent_requests_with_one_key_make_one_operation(client: Client) -> None:
    key = str(uuid.uuid4())
    with ThreadPoolExecutor(max_workers=6) as pool:
        answers = list(pool.map(lambda _: _create(client, key), range(6)))
    assert {header(a, "Operation-Id") for a in answers} == {header(answers[0], "Operation-Id")}
    completed(client, answers[0].data)
    assert len(client.conversations.v2.configurations.list()) == 1


def test_expired_key_starts_a_new_operation(client: Client, database_url: str, account: Credentials) -> None:
    key = str(uuid.uuid4())
    first = _create(client, key)
    completed(client, first.data)
    _expire(database_url, account.account_sid, key)
    second = _create(client, key, displayName="Reused key")
    assert header(second, "Operation-Id") != header(first, "Operation-Id")
    completed(client, second.data)


def test_expired_keys_are_purged_when_an_operation_ends(
    client: Client, database_url: str, account: Credentials
) -> None:
    key = str(uuid.uuid4())
    completed(client, _create(client, key).data)
    _expire(database_url, account.account_sid, key)
    create_configuration(client, displayName="Next")

    async def remaining(tx: Tx) -> int:
        query = sa.select(sa.func.count()).where(
            idempotency_keys.c.account_sid == account.account_sid, idempotency_keys.c.key == key
        )
        return int((await tx.conn.execute(query)).scalar_one())

    assert in_store(database_url, remaining) == 0


def _expire(database_url: str, account_sid: str, key: str) -> None:
    async def expire(tx: Tx) -> None:
        await tx.conn.execute(
            idempotency_keys.update()
            .where(idempotency_keys.c.account_sid == account_sid, idempotency_keys.c.key == key)
            .values(expires_ms=0)
        )

    in_store(database_url, expire)

"""Keyset pagination of the lists: page sizes, opaque tokens, stable paging, the SDK's paging."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.acceptance.conftest import add_participant, create_conversation, record_communication


@pytest.fixture
def conversation_id(client: Any, configuration_id: str) -> str:
    return str(create_conversation(client, configuration_id).id)


def _participants_path(conversation_id: str) -> str:
    return f"/v2/Conversations/{conversation_id}/Participants"


def _ids(body: dict[str, Any]) -> list[str]:
    return [item["id"] for item in body[body["meta"]["key"]]]


@pytest.mark.parametrize("size", ["0", "1001", "abc", "-1", "2.5"])
def test_page_size_out_of_bounds_is_400(http: httpx.Client, size: str) -> None:
    response = http.get("/v2/Conversations", params={"pageSize": size})
    assert (response.status_code, response.json()["code"]) == (400, 20001)
    assert "pageSize" in response.json()["message"]


@pytest.mark.parametrize("size", ["1", "1000"])
def test_page_size_at_the_bounds_is_accepted(http: httpx.Client, size: str) -> None:
    response = http.get("/v2/Conversations", params={"pageSize": size})
    assert (response.status_code, response.json()["meta"]["pageSize"]) == (200, int(size))


def test_default_page_size_is_50(client: Any, http: httpx.Client, configuration_id: str) -> None:
    participants = [{"addresses": []} for _ in range(50)]
    conversation = create_conversation(client, configuration_id, participants=participants)
    add_participant(client, conversation.id)
    body = http.get(_participants_path(conversation.id)).json()
    assert (len(body["participants"]), body["meta"]["pageSize"], body["meta"]["key"]) == (50, 50, "participants")
    assert "nextToken" in body["meta"]
    rest = http.get(_participants_path(conversation.id), params={"pageToken": body["meta"]["nextToken"]}).json()
    assert len(rest["participants"]) == 1
    assert "nextToken" not in rest["meta"]


def test_a_single_page_has_no_tokens(http: httpx.Client, client: Any, conversation_id: str) -> None:
    add_participant(client, conversation_id)
    meta = http.get(_participants_path(conversation_id)).json()["meta"]
    assert "nextToken" not in meta and "previousToken" not in meta


def test_a_tampered_page_token_is_400(http: httpx.Client, client: Any, conversation_id: str) -> None:
    for _ in range(3):
        add_participant(client, conversation_id)
    token = http.get(_participants_path(conversation_id), params={"pageSize": 1}).json()["meta"]["nextToken"]
    tampered = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    for bad in (tampered, "not-a-token", "!!"):
        response = http.get(_participants_path(conversation_id), params={"pageToken": bad})
        assert (response.status_code, response.json()["code"]) == (400, 20001)


def test_a_token_from_another_list_is_400(
    http: httpx.Client, client: Any, configuration_id: str, conversation_id: str
) -> None:
    for _ in range(2):
        add_participant(client, conversation_id)
    token = http.get(_participants_path(conversation_id), params={"pageSize": 1}).json()["meta"]["nextToken"]
    elsewhere = create_conversation(client, configuration_id)
    for path in (_participants_path(elsewhere.id), f"/v2/Conversations/{conversation_id}/Communications"):
        response = http.get(path, params={"pageToken": token})
        assert (response.status_code, response.json()["code"]) == (400, 20001)


def test_a_token_from_another_filter_is_400(http: httpx.Client, client: Any, configuration_id: str) -> None:
    for _ in range(2):
        create_conversation(client, configuration_id)
    token = http.get("/v2/Conversations", params={"pageSize": 1}).json()["meta"]["nextToken"]
    response = http.get("/v2/Conversations", params={"pageToken": token, "status": "CLOSED"})
    assert (response.status_code, response.json()["code"]) == (400, 20001)


def test_another_accounts_token_is_400(
    http: httpx.Client, client: Any, other_client: Any, configuration_id: str, other_configuration_id: str
) -> None:
    for _ in range(2):
        create_conversation(other_client, other_configuration_id)
    theirs = other_client.conversations.v2.conversations.page(page_size=1)
    response = http.get("/v2/Conversations", params={"pageToken": theirs.next_token})
    assert (response.status_code, response.json()["code"]) == (400, 20001)


def test_a_growing_list_neither_repeats_nor_skips_while_paging(
    http: httpx.Client, client: Any, conversation_id: str
) -> None:
    initial = [record_communication(client, conversation_id, f"m{i}").id for i in range(7)]
    path = f"/v2/Conversations/{conversation_id}/Communications"
    seen: list[str] = []
    params: dict[str, Any] = {"pageSize": 2}
    while True:
        body = http.get(path, params=params).json()
        seen.extend(_ids(body))
        record_communication(client, conversation_id, "arrived while paging")
        token = body["meta"].get("nextToken")
        if token is None or len(seen) >= len(initial) + 10:
            break
        params = {"pageSize": 2, "pageToken": token}
    assert len(seen) == len(set(seen))
    assert seen[: len(initial)] == initial


def test_previous_token_returns_the_page_before(http: httpx.Client, client: Any, conversation_id: str) -> None:
    created = [add_participant(client, conversation_id).id for _ in range(5)]
    first = http.get(_participants_path(conversation_id), params={"pageSize": 2}).json()
    second = http.get(
        _participants_path(conversation_id), params={"pageSize": 2, "pageToken": first["meta"]["nextToken"]}
    ).json()
    assert (_ids(first), _ids(second)) == (created[:2], created[2:4])
    back = http.get(
        _participants_path(conversation_id), params={"pageSize": 2, "pageToken": second["meta"]["previousToken"]}
    ).json()
    assert _ids(back) == created[:2]
    assert "previousToken" not in back["meta"]
    assert "nextToken" in back["meta"]


def test_sdk_list_follows_every_page(client: Any, conversation_id: str) -> None:
    created = [add_participant(client, conversation_id).id for _ in range(5)]
    listed = client.conversations.v2.participants(conversation_id).list(page_size=2)
    assert [p.id for p in listed] == created


def test_sdk_stream_stops_at_its_limit(client: Any, conversation_id: str) -> None:
    created = [record_communication(client, conversation_id, f"m{i}").id for i in range(5)]
    streamed = client.conversations.v2.communications(conversation_id).stream(limit=3, page_size=2)
    assert [c.id for c in streamed] == created[:3]


def test_sdk_pages_conversations_with_a_filter(client: Any, configuration_id: str) -> None:
    created = [create_conversation(client, configuration_id).id for _ in range(3)]
    listed = client.conversations.v2.conversations.list(status=["ACTIVE"], page_size=1)
    assert [c.id for c in listed] == created

"""A body missing several required fields gets one 400 that names them all."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.acceptance.conftest import create_conversation

CONVERSATION = "/v2/Conversations/{conversation}"
REQUIRED = [
    (
        "POST",
        "/v2/ControlPlane/Configurations",
        {},
        ["displayName", "description", "conversationGroupingType", "memoryStoreId"],
    ),
    (
        "PUT",
        "/v2/ControlPlane/Configurations/{configuration}",
        {},
        ["description", "conversationGroupingType", "memoryStoreId", "channelSettings"],
    ),
    ("POST", "/v2/Conversations", {}, ["configurationId"]),
    ("PUT", CONVERSATION, {}, ["status"]),
    ("POST", CONVERSATION + "/Participants", {}, ["addresses"]),
    ("POST", CONVERSATION + "/Communications", {}, ["author", "content", "recipients"]),
    ("POST", CONVERSATION + "/Actions", {}, ["type", "payload"]),
    (
        "POST",
        CONVERSATION + "/Actions",
        {"type": "SEND_MESSAGE", "payload": {}},
        ["payload.from", "payload.to", "payload.content"],
    ),
    (
        "POST",
        CONVERSATION + "/Communications",
        {"author": {"address": "+14155550100", "channel": "SMS"}, "recipients": [{}]},
        ["content", "recipients[0].address", "recipients[0].channel"],
    ),
]


@pytest.mark.parametrize(("method", "path", "body", "names"), REQUIRED)
def test_every_missing_required_field_is_named_in_one_400(
    http: httpx.Client,
    client: Any,
    configuration_id: str,
    method: str,
    path: str,
    body: dict[str, Any],
    names: list[str],
) -> None:
    conversation = create_conversation(client, configuration_id).id
    url = path.format(configuration=configuration_id, conversation=conversation)
    answer = http.request(method, url, json=body)
    assert (answer.status_code, answer.json()["code"]) == (400, 20001)
    message = answer.json()["message"]
    assert message.startswith("Missing required parameter"), message
    for name in names:
        assert name in message, f"{name} not named in: {message}"

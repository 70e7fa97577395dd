"""Configurations through the official SDK: every write is an operation (202, then poll)."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
import pytest
from twilio.base.api_response import ApiResponse
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.rest import Client
from twilio.rest.conversations.v2.configuration import ConfigurationInstance, ConfigurationList
from twilio.rest.conversations.v2.operation import OperationInstance

from orchestrion.domain import ids
from orchestrion.domain.models import Conversation, ConversationStatus
from orchestrion.store.store import Tx
from tests.acceptance.conftest import in_store
from tests.conftest import Credentials, LiveServer, sdk_client

MEMORY_STORE = "mem_store_0" + "a" * 25
OTHER_MEMORY_STORE = "mem_service_1" + "b" * 25
V1_SERVICE = "IS" + "0123456789abcdef" * 2
OPERATION_DEADLINE_S = 10.0


# --- helpers, shared with the operation and idempotency tests


def configuration_fields(**overrides: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "displayName": "Support line",
        "description": "Inbound support conversations",
        "conversationGroupingType": "GROUP_BY_PARTICIPANT_ADDRESSES",
        "memoryStoreId": MEMORY_STORE,
    }
    fields.update(overrides)
    return fields


def create_request(**overrides: Any) -> ConfigurationList.CreateConfigurationRequest:
    return ConfigurationList.CreateConfigurationRequest(configuration_fields(**overrides))


def operation_id_of(accepted: ConfigurationInstance) -> str:
    assert accepted.status_url is not None
    return accepted.status_url.rsplit("/", 1)[1]


def header(response: ApiResponse, name: str) -> str:
    """A response header, whatever case the server used."""
    found = {key.lower(): value for key, value in response.headers.items()}
    return str(found[name.lower()])


def wait_for(client: Client, operation_id: str) -> OperationInstance:
    """Poll the operation until it is COMPLETED or FAILED (bounded)."""
    deadline = time.monotonic() + OPERATION_DEADLINE_S
    while True:
        op = client.conversations.v2.operations(operation_id).fetch()
        if op.status in ("COMPLETED", "FAILED"):
            return op
        assert time.monotonic() < deadline, f"operation {operation_id} still {op.status}"
        time.sleep(0.02)


def completed(client: Client, accepted: ConfigurationInstance) -> OperationInstance:
    op = wait_for(client, operation_id_of(accepted))
    assert op.status == "COMPLETED", op.error
    return op


def create_configuration(client: Client, **overrides: Any) -> ConfigurationInstance:
    """Create a configuration, wait for its operation, return it as fetched."""
    accepted = client.conversations.v2.configurations.create(create_configuration_request=create_request(**overrides))
    completed(client, accepted)
    assert accepted.related is not None
    return client.conversations.v2.configurations(accepted.related["configurationId"]).fetch()


def patch_request(**fields: Any) -> ConfigurationList.PatchConfigurationRequest:
    return ConfigurationList.PatchConfigurationRequest(fields)


def update_request(**overrides: Any) -> ConfigurationList.UpdateConfigurationRequest:
    fields = configuration_fields(channelSettings={})
    del fields["displayName"]
    fields.update(overrides)
    return ConfigurationList.UpdateConfigurationRequest(fields)


def add_conversation(database_url: str, account_sid: str, configuration_id: str, status: ConversationStatus) -> str:
    conversation = Conversation(
        id=ids.new_id(ids.CONVERSATION),
        account_sid=account_sid,
        configuration_id=configuration_id,
        configuration_version=1,
        configuration={},
        status=status,
        name=None,
        metadata={},
        status_callbacks=None,
        created_ms=0,
        updated_ms=0,
    )

    async def insert(tx: Tx) -> str:
        await tx.conversations.insert(conversation, last_activity_ms=0)
        return conversation.id

    return in_store(database_url, insert)


# --- create and fetch


def test_create_answers_202_with_operation_headers(client: Client) -> None:
    response = client.conversations.v2.configurations.create_with_http_info(
        create_configuration_request=create_request()
    )
    accepted = response.data
    assert response.status_code == 202
    assert accepted.status_url.startswith("http://127.0.0.1:")
    assert accepted.status_url.endswith("/v2/ControlPlane/Operations/" + header(response, "Operation-Id"))
    assert header(response, "Location") == accepted.status_url
    assert header(response, "Retry-After") == "1"
    assert ids.is_id(header(response, "Operation-Id"), ids.OPERATION)
    assert ids.is_id(accepted.related["configurationId"], ids.CONFIGURATION)


def test_created_configuration_shows_every_field_at_version_1(client: Client) -> None:
    found = create_configuration(
        client,
        channelSettings={
            "SMS": {
                "statusTimeouts": {"inactive": 30, "closed": 1440},
                "captureRules": [{"from": "*", "to": "+15005550006", "metadata": {"team": "support"}}],
            }
        },
        statusCallbacks=[{"url": "https://example.com/hooks"}, {"url": "http://example.com/b", "method": "GET"}],
        intelligenceConfigurationIds=["intelligence_one"],
        memoryExtractionEnabled=True,
        conversationsV1Bridge={"serviceId": V1_SERVICE},
    )
    assert (found.display_name, found.description) == ("Support line", "Inbound support conversations")
    assert found.conversation_grouping_type == "GROUP_BY_PARTICIPANT_ADDRESSES"
    assert found.memory_store_id == MEMORY_STORE
    assert found.channel_settings == {
        "SMS": {
            "statusTimeouts": {"inactive": 30, "closed": 1440},
            "captureRules": [{"from": "*", "to": "+15005550006", "metadata": {"team": "support"}}],
        }
    }
    assert found.status_callbacks == [
        {"url": "https://example.com/hooks", "method": "POST"},
        {"url": "http://example.com/b", "method": "GET"},
    ]
    assert found.intelligence_configuration_ids == ["intelligence_one"]
    assert found.memory_extraction_enabled is True
    assert found.conversations_v1_bridge == {"serviceId": V1_SERVICE}
    assert found.version == 1
    assert found.created_at == found.updated_at


def test_optional_fields_default_when_left_out(client: Client) -> None:
    found = create_configuration(client)
    assert found.channel_settings == {}
    assert found.status_callbacks == []
    assert found.intelligence_configuration_ids == []
    assert found.memory_extraction_enabled is False
    assert found.conversations_v1_bridge is None


# --- update (PUT), patch, delete


def test_update_replaces_the_configuration_and_bumps_the_version(client: Client) -> None:
    created = create_configuration(client, memoryExtractionEnabled=True, intelligenceConfigurationIds=["one"])
    accepted = client.conversations.v2.configurations(created.id).update(
        update_configuration_request=update_request(
            description="Replaced",
            conversationGroupingType="GROUP_BY_PROFILE",
            memoryStoreId=OTHER_MEMORY_STORE,
            channelSettings={"WHATSAPP": {"statusTimeouts": {"inactive": 5}}},
        )
    )
    completed(client, accepted)
    found = client.conversations.v2.configurations(created.id).fetch()
    assert found.display_name == created.display_name  # PUT without displayName keeps it
    assert (found.description, found.conversation_grouping_type) == ("Replaced", "GROUP_BY_PROFILE")
    assert found.memory_store_id == OTHER_MEMORY_STORE
    assert found.channel_settings == {"WHATSAPP": {"statusTimeouts": {"inactive": 5}}}
    assert found.memory_extraction_enabled is False  # left out of a PUT: back to the default
    assert found.intelligence_configuration_ids == []
    assert found.version == 2


def test_patch_changes_the_given_fields_and_bumps_the_version(client: Client) -> None:
    created = create_configuration(client)
    accepted = client.conversations.v2.configurations(created.id).patch(
        patch_configuration_request=patch_request(displayName="Renamed", memoryExtractionEnabled=True)
    )
    completed(client, accepted)
    found = client.conversations.v2.configurations(created.id).fetch()
    assert (found.display_name, found.memory_extraction_enabled, found.version) == ("Renamed", True, 2)


def test_patch_with_explicit_nulls_leaves_those_fields_unchanged(client: Client) -> None:
    created = create_configuration(
        client,
        statusCallbacks=[{"url": "https://example.com/hooks"}],
        channelSettings={"SMS": {"statusTimeouts": {"inactive": 10}}},
    )
    # The SDK sends every field of the request, null when unset.
    accepted = client.conversations.v2.configurations(created.id).patch(
        patch_configuration_request=patch_request(description="Only this")
    )
    completed(client, accepted)
    found = client.conversations.v2.configurations(created.id).fetch()
    assert found.description == "Only this"
    assert found.display_name == created.display_name
    assert found.memory_store_id == created.memory_store_id
    assert found.status_callbacks == created.status_callbacks
    assert found.channel_settings == created.channel_settings


def test_patch_of_channel_settings_replaces_only_the_given_channels(client: Client) -> None:
    created = create_configuration(
        client,
        channelSettings={"SMS": {"statusTimeouts": {"inactive": 10}}, "CHAT": {"statusTimeouts": {"closed": 5}}},
    )
    accepted = client.conversations.v2.configurations(created.id).patch(
        patch_configuration_request=patch_request(channelSettings={"SMS": {"statusTimeouts": {"closed": 60}}})
    )
    completed(client, accepted)
    found = client.conversations.v2.configurations(created.id).fetch()
    assert found.channel_settings == {
        "SMS": {"statusTimeouts": {"closed": 60}},
        "CHAT": {"statusTimeouts": {"closed": 5}},
    }


def test_every_applied_update_bumps_the_version_by_one(client: Client) -> None:
    created = create_configuration(client)
    for n in range(3):
        completed(
            client,
            client.conversations.v2.configurations(created.id).patch(
                patch_configuration_request=patch_request(description=f"take {n}")
            ),
        )
    assert client.conversations.v2.configurations(created.id).fetch().version == 4


def test_delete_removes_the_configuration(client: Client) -> None:
    created = create_configuration(client)
    response = client.conversations.v2.configurations(created.id).delete_with_http_info()
    assert response.status_code == 202
    assert response.data["related"] == {"configurationId": created.id}
    assert wait_for(client, header(response, "Operation-Id")).status == "COMPLETED"
    with pytest.raises(TwilioRestException) as raised:
        client.conversations.v2.configurations(created.id).fetch()
    assert (raised.value.status, raised.value.code) == (404, 20404)


def test_delete_of_a_configuration_with_open_conversations_is_409(
    client: Client, http: httpx.Client, database_url: str, account: Credentials
) -> None:
    created = create_configuration(client)
    conversation_id = add_conversation(database_url, account.account_sid, created.id, ConversationStatus.INACTIVE)
    response = http.delete(f"/v2/ControlPlane/Configurations/{created.id}")
    assert (response.status_code, response.json()["code"]) == (409, 20409)
    assert response.headers["X-Conflicting-Resource-Id"] == conversation_id


def test_delete_of_a_configuration_whose_conversations_are_closed_completes(
    client: Client, database_url: str, account: Credentials
) -> None:
    created = create_configuration(client)
    add_conversation(database_url, account.account_sid, created.id, ConversationStatus.CLOSED)
    accepted = client.conversations.v2.configurations(created.id).delete()
    assert wait_for(client, accepted["statusUrl"].rsplit("/", 1)[1]).status == "COMPLETED"


# --- list


def test_list_pages_through_every_configuration_in_creation_order(client: Client) -> None:
    made = [create_configuration(client, displayName=f"Line {n}").id for n in range(5)]
    listed = client.conversations.v2.configurations.list(page_size=2)
    assert [c.id for c in listed] == made
    streamed = client.conversations.v2.configurations.stream(page_size=2, limit=3)
    assert [c.id for c in streamed] == made[:3]


def test_list_page_tokens_move_forward_and_back(client: Client, http: httpx.Client) -> None:
    made = [create_configuration(client, displayName=f"Line {n}").id for n in range(5)]
    first = http.get("/v2/ControlPlane/Configurations", params={"pageSize": 2}).json()
    assert [c["id"] for c in first["configurations"]] == made[:2]
    assert first["meta"] == {"key": "configurations", "pageSize": 2, "nextToken": first["meta"]["nextToken"]}
    second = http.get(
        "/v2/ControlPlane/Configurations", params={"pageSize": 2, "pageToken": first["meta"]["nextToken"]}
    ).json()
    assert [c["id"] for c in second["configurations"]] == made[2:4]
    back = http.get(
        "/v2/ControlPlane/Configurations", params={"pageSize": 2, "pageToken": second["meta"]["previousToken"]}
    ).json()
    assert [c["id"] for c in back["configurations"]] == made[:2]
    last = http.get(
        "/v2/ControlPlane/Configurations", params={"pageSize": 2, "pageToken": second["meta"]["nextToken"]}
    ).json()
    assert [c["id"] for c in last["configurations"]] == made[4:]
    assert "nextToken" not in last["meta"]


def test_list_filters_by_memory_store(client: Client) -> None:
    create_configuration(client, displayName="A")
    wanted = create_configuration(client, displayName="B", memoryStoreId=OTHER_MEMORY_STORE)
    listed = client.conversations.v2.configurations.list(memory_store_id=OTHER_MEMORY_STORE, page_size=1)
    assert [c.id for c in listed] == [wanted.id]


def test_list_token_of_another_filter_is_400(client: Client, http: httpx.Client) -> None:
    for n in range(3):
        create_configuration(client, displayName=f"Line {n}")
    token = http.get("/v2/ControlPlane/Configurations", params={"pageSize": 1}).json()["meta"]["nextToken"]
    response = http.get("/v2/ControlPlane/Configurations", params={"pageToken": token, "memoryStoreId": MEMORY_STORE})
    assert (response.status_code, response.json()["code"]) == (400, 20001)


def test_list_with_a_malformed_memory_store_filter_is_400(client: Client) -> None:
    # The SDK's pager raises a bare TwilioException that carries the response.
    with pytest.raises(TwilioException) as raised:
        client.conversations.v2.configurations.list(memory_store_id="store-1")
    response = raised.value.args[1]
    assert (response.status_code, json.loads(response.text)["code"]) == (400, 20001)


def test_list_shows_only_the_callers_configurations(client: Client, other_client: Client) -> None:
    create_configuration(other_client)
    assert client.conversations.v2.configurations.list() == []


# --- conflicts


def test_second_configuration_with_the_same_name_is_409_naming_the_first(client: Client, http: httpx.Client) -> None:
    first = create_configuration(client)
    response = http.post("/v2/ControlPlane/Configurations", json=configuration_fields())
    assert (response.status_code, response.json()["code"]) == (409, 20409)
    assert response.headers["X-Conflicting-Resource-Id"] == first.id


def test_same_name_in_another_account_is_allowed(client: Client, other_client: Client) -> None:
    create_configuration(client)
    assert create_configuration(other_client).display_name == "Support line"


def test_renaming_to_a_taken_name_is_409(client: Client, http: httpx.Client) -> None:
    first = create_configuration(client, displayName="Taken")
    second = create_configuration(client, displayName="Free")
    response = http.patch(f"/v2/ControlPlane/Configurations/{second.id}", json={"displayName": "Taken"})
    assert (response.status_code, response.headers["X-Conflicting-Resource-Id"]) == (409, first.id)


def test_patch_keeping_its_own_name_is_allowed(client: Client) -> None:
    created = create_configuration(client)
    accepted = client.conversations.v2.configurations(created.id).patch(
        patch_configuration_request=patch_request(displayName=created.display_name, description="Same name")
    )
    completed(client, accepted)


# --- validation: 400 with Twilio code 20001


INVALID_CREATES = {
    "display name with a slash": {"displayName": "bad/name"},
    "display name of 33 characters": {"displayName": "x" * 33},
    "empty display name": {"displayName": ""},
    "missing display name": {"displayName": None},
    "missing description": {"description": None},
    "description over 1024 characters": {"description": "d" * 1025},
    "unknown grouping type": {"conversationGroupingType": "GROUP_BY_MOOD"},
    "missing memory store": {"memoryStoreId": None},
    "malformed memory store": {"memoryStoreId": "store-1"},
    "three status callbacks": {"statusCallbacks": [{"url": f"https://example.com/{n}"} for n in range(3)]},
    "status callback url not http": {"statusCallbacks": [{"url": "ftp://example.com/hooks"}]},
    "status callback url relative": {"statusCallbacks": [{"url": "/hooks"}]},
    "status callback method PUT": {"statusCallbacks": [{"url": "https://example.com", "method": "PUT"}]},
    "inactive timeout 0": {"channelSettings": {"SMS": {"statusTimeouts": {"inactive": 0}}}},
    "closed timeout 0": {"channelSettings": {"SMS": {"statusTimeouts": {"closed": 0}}}},
    "timeout as a string": {"channelSettings": {"SMS": {"statusTimeouts": {"closed": "5"}}}},
    "unknown channel": {"channelSettings": {"FAX": {}}},
    "capture rule without to": {"channelSettings": {"SMS": {"captureRules": [{"from": "*"}]}}},
    "six intelligence ids": {"intelligenceConfigurationIds": [f"i{n}" for n in range(6)]},
    "memory extraction not a boolean": {"memoryExtractionEnabled": "yes"},
    "bridge service id of the wrong form": {"conversationsV1Bridge": {"serviceId": "IS123"}},
    "bridge without service id": {"conversationsV1Bridge": {}},
    "description with a NUL character": {"description": "a\x00b"},
    "capture rule metadata with a NUL character": {
        "channelSettings": {"SMS": {"captureRules": [{"from": "*", "to": "*", "metadata": {"k": "\x00"}}]}}
    },
}


@pytest.mark.parametrize("fields", INVALID_CREATES.values(), ids=INVALID_CREATES.keys())
def test_invalid_create_is_400_with_code_20001(client: Client, fields: dict[str, Any]) -> None:
    with pytest.raises(TwilioRestException) as raised:
        client.conversations.v2.configurations.create(create_configuration_request=create_request(**fields))
    assert (raised.value.status, raised.value.code) == (400, 20001)


def test_invalid_create_message_names_the_field(client: Client) -> None:
    with pytest.raises(TwilioRestException) as raised:
        client.conversations.v2.configurations.create(create_configuration_request=create_request(displayName=None))
    assert "displayName" in raised.value.msg


def test_update_without_channel_settings_is_400(client: Client) -> None:
    created = create_configuration(client)
    request = update_request()
    request.channel_settings = None
    with pytest.raises(TwilioRestException) as raised:
        client.conversations.v2.configurations(created.id).update(update_configuration_request=request)
    assert (raised.value.status, raised.value.code) == (400, 20001)


def test_patch_that_changes_nothing_is_400(client: Client) -> None:
    created = create_configuration(client)
    with pytest.raises(TwilioRestException) as raised:
        client.conversations.v2.configurations(created.id).patch(patch_configuration_request=patch_request())
    assert (raised.value.status, raised.value.code) == (400, 20001)


def test_patch_with_an_invalid_field_is_400(client: Client) -> None:
    created = create_configuration(client)
    with pytest.raises(TwilioRestException) as raised:
        client.conversations.v2.configurations(created.id).patch(
            patch_configuration_request=patch_request(displayName="no!")
        )
    assert (raised.value.status, raised.value.code) == (400, 20001)


def test_body_that_is_not_json_is_400(http: httpx.Client) -> None:
    response = http.post(
        "/v2/ControlPlane/Configurations", content=b"{nope", headers={"Content-Type": "application/json"}
    )
    assert (response.status_code, response.json()["code"]) == (400, 20001)


# --- not found, other accounts, credentials


def test_another_accounts_configuration_is_404(client: Client, other_client: Client) -> None:
    created = create_configuration(client)
    theirs = other_client.conversations.v2.configurations(created.id)
    for attempt in (
        theirs.fetch,
        lambda: theirs.patch(patch_configuration_request=patch_request(description="mine now")),
        lambda: theirs.update(update_configuration_request=update_request()),
        theirs.delete,
    ):
        with pytest.raises(TwilioRestException) as raised:
            attempt()
        assert (raised.value.status, raised.value.code) == (404, 20404)
    assert client.conversations.v2.configurations(created.id).fetch().version == 1


@pytest.mark.parametrize("configuration_id", ["conv_configuration_0" + "0" * 25, "nope", "x" * 300])
def test_unknown_configuration_is_404(client: Client, configuration_id: str) -> None:
    with pytest.raises(TwilioRestException) as raised:
        client.conversations.v2.configurations(configuration_id).fetch()
    assert (raised.value.status, raised.value.code) == (404, 20404)


def test_wrong_credentials_are_401_with_code_20003(server: LiveServer, account: Credentials) -> None:
    wrong = sdk_client(server, Credentials(account.account_sid, "0" * 32))
    with pytest.raises(TwilioRestException) as raised:
        wrong.conversations.v2.configurations.create(create_configuration_request=create_request())  # type: ignore[attr-defined]
    assert (raised.value.status, raised.value.code) == (401, 20003)

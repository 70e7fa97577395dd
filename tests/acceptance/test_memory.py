"""The Conversation Memory stand-in (/v1/Stores/{storeId}/Profiles...) over HTTP, on both backends."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.acceptance.actions_support import AGENT, CUSTOMER
from tests.acceptance.conftest import MEMORY_STORE_ID, create_configuration
from tests.conftest import Credentials, LiveServer

PROFILES = f"/v1/Stores/{MEMORY_STORE_ID}/Profiles"
PHONE = "+13175556789"
WHEN = "2025-01-15T10:15:30Z"


def ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


def error(response: httpx.Response, status: int) -> dict[str, Any]:
    body: dict[str, Any] = response.json()
    assert (response.status_code, body["status"], set(body)) == (
        status,
        status,
        {"code", "message", "more_info", "status"},
    )
    return body


def new_profile(http: httpx.Client, phone: str = PHONE, **groups: dict[str, Any]) -> str:
    traits = {"Contact": {"phone": phone, **groups.pop("Contact", {})}, **groups}
    body = ok(http.post(PROFILES, json={"traits": traits}), 202)
    assert body["message"]
    return str(body["id"])


def observe(http: httpx.Client, profile_id: str, *contents: str, **fields: Any) -> None:
    observations = [{"content": c, "source": "tests", "occurredAt": WHEN, **fields} for c in contents]
    ok(http.post(f"{PROFILES}/{profile_id}/Observations", json={"observations": observations}), 202)


def recall(http: httpx.Client, profile_id: str, **body: Any) -> dict[str, Any]:
    found: dict[str, Any] = ok(http.post(f"{PROFILES}/{profile_id}/Recall", json=body))
    return found


# --- Profiles and identity.


def test_lookup_of_an_unknown_number_is_an_empty_list_with_the_normalized_value(http: httpx.Client) -> None:
    body = ok(http.post(f"{PROFILES}/Lookup", json={"idType": "phone", "value": "1-317-555-6789"}))
    assert body == {"normalizedValue": PHONE, "profiles": []}


def test_a_profile_made_from_traits_is_found_by_its_phone(http: httpx.Client) -> None:
    profile_id = new_profile(http, "(317) 555-6789", Contact={"firstName": "Alyssa"})
    assert profile_id.startswith("mem_profile_")
    assert ok(http.post(f"{PROFILES}/Lookup", json={"idType": "phone", "value": PHONE}))["profiles"] == [profile_id]
    fetched = ok(http.get(f"{PROFILES}/{profile_id}"))
    assert fetched["id"] == profile_id
    assert fetched["traits"] == {"Contact": {"phone": "(317) 555-6789", "firstName": "Alyssa"}}
    assert fetched["createdAt"].endswith("Z")


def test_creating_with_a_known_identifier_resolves_to_that_profile_and_merges_traits(http: httpx.Client) -> None:
    first = new_profile(http, Contact={"firstName": "Alyssa"})
    again = new_profile(http, Contact={"lastName": "Mock"}, Loyalty={"tier": "gold", "points": 1250})
    assert again == first
    assert ok(http.get(f"{PROFILES}/{first}"))["traits"] == {
        "Contact": {"phone": PHONE, "firstName": "Alyssa", "lastName": "Mock"},
        "Loyalty": {"tier": "gold", "points": 1250},
    }


def test_a_profile_needs_an_identifier_trait(http: httpx.Client) -> None:
    body = error(http.post(PROFILES, json={"traits": {"Contact": {"firstName": "Nobody"}}}), 400)
    assert "identifier" in body["message"]


@pytest.mark.parametrize(
    "traits", [{"Contact": {"phone": "+1317", "x": {"nested": 1}}}, {"bad group!": {"phone": PHONE}}, "not an object"]
)
def test_malformed_traits_are_400(http: httpx.Client, traits: Any) -> None:
    error(http.post(PROFILES, json={"traits": traits}), 400)


def test_fetch_keeps_only_the_trait_groups_asked_for(http: httpx.Client) -> None:
    profile_id = new_profile(http, Loyalty={"tier": "gold"}, Prefs={"color": "blue"})
    traits = ok(http.get(f"{PROFILES}/{profile_id}", params={"traitGroups": "Loyalty,Prefs"}))["traits"]
    assert traits == {"Loyalty": {"tier": "gold"}, "Prefs": {"color": "blue"}}


def test_patch_sets_and_removes_traits_and_promotes_identifiers(http: httpx.Client) -> None:
    profile_id = new_profile(http, Contact={"firstName": "Alyssa"})
    patch = {"traits": {"Contact": {"firstName": None, "email": "Alyssa@Example.com"}, "Loyalty": {"tier": "gold"}}}
    ok(http.patch(f"{PROFILES}/{profile_id}", json=patch), 202)
    assert ok(http.get(f"{PROFILES}/{profile_id}"))["traits"] == {
        "Contact": {"phone": PHONE, "email": "Alyssa@Example.com"},
        "Loyalty": {"tier": "gold"},
    }
    found = ok(http.post(f"{PROFILES}/Lookup", json={"idType": "email", "value": "alyssa@example.com"}))
    assert found["profiles"] == [profile_id]


def test_profiles_list_newest_first_and_page(http: httpx.Client) -> None:
    made = [new_profile(http, f"+1317555000{n}") for n in range(3)]
    first = ok(http.get(PROFILES, params={"pageSize": 2}))
    assert first["profiles"] == [made[2], made[1]]
    assert (first["meta"]["key"], first["meta"]["pageSize"]) == ("profiles", 2)
    second = ok(http.get(PROFILES, params={"pageSize": 2, "pageToken": first["meta"]["nextToken"]}))
    assert second["profiles"] == [made[0]]
    assert "nextToken" not in second["meta"]
    assert ok(http.get(PROFILES, params={"orderBy": "ASC"}))["profiles"] == made


def test_identifiers_are_listed_added_fetched_and_removed(http: httpx.Client) -> None:
    profile_id = new_profile(http)
    base = f"{PROFILES}/{profile_id}/Identifiers"
    ok(http.post(base, json={"idType": "email", "value": "A@Example.com"}), 202)
    ok(http.post(base, json={"idType": "email", "value": "b@example.com"}), 202)
    assert ok(http.get(base)) == {
        "identifiers": [
            {"idType": "phone", "values": [PHONE]},
            {"idType": "email", "values": ["a@example.com", "b@example.com"]},
        ]
    }
    assert ok(http.get(f"{base}/email")) == {"idType": "email", "values": ["a@example.com", "b@example.com"]}
    ok(http.delete(f"{base}/email"), 202)  # the oldest value goes first
    assert ok(http.get(f"{base}/email"))["values"] == ["b@example.com"]
    ok(http.delete(f"{base}/email", params={"removeAll": "true"}), 202)
    error(http.get(f"{base}/email"), 404)


def test_an_identifier_another_profile_has_is_409_naming_it(http: httpx.Client) -> None:
    owner = new_profile(http)
    other = new_profile(http, "+13175550000")
    response = http.post(f"{PROFILES}/{other}/Identifiers", json={"idType": "phone", "value": PHONE})
    error(response, 409)
    assert response.headers["X-Conflicting-Resource-Id"] == owner


def test_traits_list_one_by_one(http: httpx.Client) -> None:
    profile_id = new_profile(http, Contact={"firstName": "Alyssa"}, Loyalty={"tier": "gold"})
    body = ok(http.get(f"{PROFILES}/{profile_id}/Traits", params={"traitGroups": "Contact", "orderBy": "ASC"}))
    assert [(t["traitGroup"], t["name"], t["value"]) for t in body["traits"]] == [
        ("Contact", "firstName", "Alyssa"),
        ("Contact", "phone", PHONE),
    ]
    assert all(t["timestamp"].endswith("Z") for t in body["traits"])
    page = ok(http.get(f"{PROFILES}/{profile_id}/Traits", params={"pageSize": 2}))
    rest = ok(
        http.get(f"{PROFILES}/{profile_id}/Traits", params={"pageSize": 2, "pageToken": page["meta"]["nextToken"]})
    )
    assert len(page["traits"]) + len(rest["traits"]) == 3


def test_deleting_a_profile_takes_what_it_holds(http: httpx.Client) -> None:
    profile_id = new_profile(http)
    observe(http, profile_id, "likes tea")
    ok(http.delete(f"{PROFILES}/{profile_id}"), 202)
    error(http.get(f"{PROFILES}/{profile_id}"), 404)
    assert ok(http.post(f"{PROFILES}/Lookup", json={"idType": "phone", "value": PHONE}))["profiles"] == []


# --- Observations and summaries.


def test_observations_are_created_listed_fetched_changed_and_deleted(http: httpx.Client) -> None:
    profile_id = new_profile(http)
    observe(http, profile_id, "Prefers email", "Lives in Paris")
    listed = ok(http.get(f"{PROFILES}/{profile_id}/Observations"))
    assert [o["content"] for o in listed["observations"]] == ["Lives in Paris", "Prefers email"]
    one = listed["observations"][0]
    assert (one["source"], one["occurredAt"]) == ("tests", WHEN)
    assert one["id"].startswith("mem_observation_")
    path = f"{PROFILES}/{profile_id}/Observations/{one['id']}"
    assert ok(http.get(path)) == one
    ok(http.patch(path, json={"content": "Lives in Lyon"}), 202)
    assert ok(http.get(path))["content"] == "Lives in Lyon"
    ok(http.delete(path), 202)
    error(http.get(path), 404)


def test_an_observation_needs_content_source_and_occurred_at(http: httpx.Client) -> None:
    profile_id = new_profile(http)
    for missing in ("content", "source", "occurredAt"):
        observation = {"content": "x", "source": "tests", "occurredAt": WHEN}
        del observation[missing]
        body = error(http.post(f"{PROFILES}/{profile_id}/Observations", json={"observations": [observation]}), 400)
        assert missing in body["message"]


def test_observations_filter_by_conversation(http: httpx.Client) -> None:
    profile_id = new_profile(http)
    conversation = "conv_conversation_01jq7z8k9m0n1p2q3r4s5t6v7w"
    observe(http, profile_id, "in that conversation", conversationIds=[conversation])
    observe(http, profile_id, "elsewhere")
    listed = ok(http.get(f"{PROFILES}/{profile_id}/Observations", params={"conversationId": conversation}))
    assert [o["content"] for o in listed["observations"]] == ["in that conversation"]
    assert listed["observations"][0]["conversationIds"] == [conversation]


def test_conversation_summaries_are_created_and_listed(http: httpx.Client) -> None:
    profile_id = new_profile(http)
    summary = {
        "content": "Billing issue solved",
        "conversationId": "conv_conversation_01jq7z8k9m0n1p2q3r4s5t6v7w",
        "occurredAt": WHEN,
    }
    ok(http.post(f"{PROFILES}/{profile_id}/ConversationSummaries", json={"summaries": [summary]}), 202)
    [listed] = ok(http.get(f"{PROFILES}/{profile_id}/ConversationSummaries"))["summaries"]
    assert (listed["content"], listed["conversationId"]) == ("Billing issue solved", summary["conversationId"])


# --- Recall.


def test_recall_ranks_observations_by_the_query_with_scores(http: httpx.Client) -> None:
    profile_id = new_profile(http)
    observe(http, profile_id, "Prefers email follow-ups about billing", "Billing address is in Paris", "Likes the app")
    found = recall(http, profile_id, query="billing address")
    assert [(o["content"], o["score"]) for o in found["observations"]] == [
        ("Billing address is in Paris", 1.0),
        ("Prefers email follow-ups about billing", 0.5),
    ]
    assert (found["summaries"], found["communications"]) == ([], [])
    assert isinstance(found["meta"]["queryTime"], int)
    assert [
        o["content"] for o in recall(http, profile_id, query="billing address", relevanceThreshold=0.6)["observations"]
    ] == ["Billing address is in Paris"]


def test_recall_without_a_query_gives_the_newest_without_scores(http: httpx.Client) -> None:
    profile_id = new_profile(http)
    observe(http, profile_id, "older", occurredAt="2025-01-01T00:00:00Z")
    observe(http, profile_id, "newer", occurredAt="2025-02-01T00:00:00Z")
    found = recall(http, profile_id, observationsLimit=1)
    assert [(o["content"], "score" in o) for o in found["observations"]] == [("newer", False)]


def test_recall_finds_the_profiles_communications_with_participant_names(http: httpx.Client, client: Any) -> None:
    create_configuration(client, channelSettings={"SMS": {"captureRules": [{"from": "*", "to": AGENT}]}})
    answer = ok(http.post("/sandbox/inbound", json={"from": CUSTOMER, "to": AGENT, "body": "Where is my parcel?"}))
    ok(http.post("/sandbox/inbound", json={"from": CUSTOMER, "to": AGENT, "body": "Also, hello"}))
    profile_id = new_profile(http, CUSTOMER)
    found = recall(http, profile_id, query="parcel", communicationsLimit=5)
    [communication] = found["communications"]
    assert communication["id"] == answer["communicationId"]
    assert communication["content"] == {"text": "Where is my parcel?"}
    assert communication["author"] == {
        "id": communication["author"]["id"],
        "name": CUSTOMER,
        "address": CUSTOMER,
        "channel": "SMS",
        "type": "CUSTOMER",
    }
    assert [(r["name"], r["type"], r["deliveryStatus"]) for r in communication["recipients"]] == [
        (AGENT, "AGENT", "DELIVERED")
    ]
    assert recall(http, profile_id, query="parcel")["communications"] == []  # communicationsLimit defaults to 0


def test_recall_with_a_conversation_and_no_query_asks_what_its_last_messages_say(
    http: httpx.Client, client: Any
) -> None:
    create_configuration(client, channelSettings={"SMS": {"captureRules": [{"from": "*", "to": AGENT}]}})
    answer = ok(http.post("/sandbox/inbound", json={"from": CUSTOMER, "to": AGENT, "body": "my invoice is wrong"}))
    profile_id = new_profile(http, CUSTOMER)
    observe(http, profile_id, "Disputed an invoice in March", "Loves hiking")
    found = recall(http, profile_id, conversationId=answer["conversationId"])
    assert [o["content"] for o in found["observations"]] == ["Disputed an invoice in March"]


def test_grouping_by_profile_and_the_memory_api_share_one_identity(http: httpx.Client, client: Any) -> None:
    create_configuration(
        client,
        conversationGroupingType="GROUP_BY_PROFILE",
        channelSettings={"SMS": {"captureRules": [{"from": "*", "to": AGENT}]}},
    )
    answer = ok(http.post("/sandbox/inbound", json={"from": CUSTOMER, "to": AGENT, "body": "hi"}))
    participants = ok(http.get(f"/v2/Conversations/{answer['conversationId']}/Participants"))["participants"]
    [customer] = [p for p in participants if p["type"] == "CUSTOMER"]
    looked_up = ok(http.post(f"{PROFILES}/Lookup", json={"idType": "phone", "value": CUSTOMER}))
    assert looked_up["profiles"] == [customer["profileId"]]
    assert new_profile(http, CUSTOMER) == customer["profileId"]


# --- Scope and errors.


def test_another_accounts_profile_is_404_everywhere(
    http: httpx.Client, server: LiveServer, other_account: Credentials
) -> None:
    profile_id = new_profile(http)
    with httpx.Client(base_url=server.url, auth=(other_account.account_sid, other_account.auth_token)) as other:
        for method, path, body in [
            ("GET", "", None),
            ("PATCH", "", {"traits": {"Contact": {"x": "y"}}}),
            ("GET", "/Identifiers", None),
            ("GET", "/Traits", None),
            ("GET", "/Observations", None),
            ("POST", "/Recall", {}),
            ("DELETE", "", None),
        ]:
            assert error(other.request(method, f"{PROFILES}/{profile_id}{path}", json=body), 404)["code"] == 20404
        assert ok(other.post(f"{PROFILES}/Lookup", json={"idType": "phone", "value": PHONE}))["profiles"] == []
    assert ok(http.get(f"{PROFILES}/{profile_id}"))["id"] == profile_id


@pytest.mark.parametrize(
    "path", ["/v1/Stores/not-a-store/Profiles/Lookup", f"{PROFILES}/mem_profile_00000000000000000000000000/Recall"]
)
def test_an_unknown_store_or_profile_is_404(http: httpx.Client, path: str) -> None:
    error(http.post(path, json={"idType": "phone", "value": PHONE}), 404)


def test_the_memory_api_needs_credentials(server: LiveServer) -> None:
    response = httpx.post(f"{server.url}{PROFILES}/Lookup", json={"idType": "phone", "value": PHONE})
    assert error(response, 401)["code"] == 20003


def test_the_servers_openapi_document_describes_memory_answers(http: httpx.Client) -> None:
    document = ok(http.get("/openapi.json"))
    recall_answer = document["paths"]["/v1/Stores/{storeId}/Profiles/{profileId}/Recall"]["post"]["responses"]["200"]
    assert recall_answer["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/RecallOut"}
    assert "queryTime" in document["components"]["schemas"]["RecallMetaOut"]["properties"]

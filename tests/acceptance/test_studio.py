"""The Studio stand-in (/v2/Flows/{FlowSid}/Executions) through twilio-python and as Twilio Agent Connect posts it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.acceptance.conftest import rest_error
from tests.conftest import Credentials, LiveServer, new_account, sdk_client, test_settings

FLOW = "FW" + "0123456789abcdef" * 2
OTHER_FLOW = "FW" + "fedcba9876543210" * 2
CONVERSATION = "conv_conversation_01jq7z8k9m0n1p2q3r4s5t6v7w"
RUN_S = 60


def studio(server: LiveServer, creds: Credentials) -> Any:
    client: Any = sdk_client(server, creds)
    client.studio.base_url = server.url
    return client.studio.v2


def handoff_form(conversation_id: str = CONVERSATION) -> dict[str, str]:
    """What Twilio Agent Connect's handoff tool posts (tac.tools.handoff.post_studio_handoff)."""
    payload = {
        "conversationId": conversation_id,
        "storeId": "mem_store_x",
        "profileId": "",
        "attributes": {"reason": "asked"},
    }
    return {"To": "+14155550199", "From": "+14155550100", "Parameters": json.dumps({"HandoffData": payload})}


def test_the_sdk_starts_fetches_lists_ends_and_deletes_an_execution(server: LiveServer, account: Credentials) -> None:
    flows = studio(server, account)
    created = flows.flows(FLOW).executions.create(to="+14155550199", from_="+14155550100", parameters={"name": "Zeke"})
    assert created.sid.startswith("FN") and len(created.sid) == 34
    assert (created.account_sid, created.flow_sid, created.status) == (account.account_sid, FLOW, "active")
    assert created.contact_channel_address == "+14155550199"
    assert created.context["flow"]["data"] == {"name": "Zeke"}
    assert created.context["flow"]["channel"] == {"address": "+14155550100"}
    assert created.date_created is not None and created.url.endswith(f"/v2/Flows/{FLOW}/Executions/{created.sid}")
    fetched = flows.flows(FLOW).executions(created.sid).fetch()
    assert (fetched.sid, fetched.status) == (created.sid, "active")
    assert [e.sid for e in flows.flows(FLOW).executions.list()] == [created.sid]
    assert flows.flows(FLOW).executions(created.sid).execution_context().fetch().context["flow"]["data"] == {
        "name": "Zeke"
    }
    assert flows.flows(FLOW).executions(created.sid).update(status="ended").status == "ended"
    assert flows.flows(FLOW).executions(created.sid).delete() is True
    error = rest_error(lambda: flows.flows(FLOW).executions(created.sid).fetch())
    assert (error.status, error.code) == (404, 20404)


def test_the_sdk_lists_page_after_page(server: LiveServer, account: Credentials) -> None:
    flows = studio(server, account)
    made = [flows.flows(FLOW).executions.create(to=f"+1415555010{n}", from_="+14155550100").sid for n in range(5)]
    flows.flows(OTHER_FLOW).executions.create(to="+14155550109", from_="+14155550100")
    assert [e.sid for e in flows.flows(FLOW).executions.list(page_size=2)] == made


def test_a_handoff_as_agent_connect_posts_it_is_recorded_and_shown_by_the_sandbox(
    server: LiveServer, account: Credentials, http: httpx.Client
) -> None:
    response = httpx.post(
        f"{server.url}/v2/Flows/{FLOW}/Executions", data=handoff_form(), auth=(account.account_sid, account.auth_token)
    )
    assert response.status_code == 201, response.text
    assert response.json()["context"]["flow"]["data"]["HandoffData"]["conversationId"] == CONVERSATION
    [shown] = http.get("/sandbox/studio/executions", params={"conversationId": CONVERSATION}).json()["executions"]
    assert (shown["sid"], shown["flowSid"], shown["status"], shown["conversationId"]) == (
        response.json()["sid"],
        FLOW,
        "active",
        CONVERSATION,
    )
    assert (shown["to"], shown["from"]) == ("+14155550199", "+14155550100")
    assert shown["parameters"]["HandoffData"]["attributes"] == {"reason": "asked"}
    assert http.get("/sandbox/studio/executions", params={"conversationId": "conv_conversation_other"}).json() == {
        "executions": []
    }


@pytest.mark.parametrize(
    ("form", "where"),
    [
        ({"From": "+14155550100"}, "To"),
        ({"To": "+14155550199"}, "From"),
        ({"To": "+14155550199", "From": "+14155550100", "Parameters": "{not json"}, "Parameters"),
        ({"To": "+14155550199", "From": "+14155550100", "Parameters": "[1, 2]"}, "Parameters"),
    ],
)
def test_a_malformed_execution_is_400(
    server: LiveServer, account: Credentials, form: dict[str, str], where: str
) -> None:
    response = httpx.post(
        f"{server.url}/v2/Flows/{FLOW}/Executions", data=form, auth=(account.account_sid, account.auth_token)
    )
    assert (response.status_code, response.json()["code"]) == (400, 20001)
    assert where in response.json()["message"]


def test_a_json_body_is_400_as_studio_takes_forms(http: httpx.Client) -> None:
    response = http.post(f"/v2/Flows/{FLOW}/Executions", json={"To": "+14155550199", "From": "+14155550100"})
    assert response.status_code == 400


def test_a_malformed_flow_sid_is_404(http: httpx.Client) -> None:
    response = http.post("/v2/Flows/FWnot-a-flow/Executions", data={"To": "+14155550199", "From": "+14155550100"})
    assert (response.status_code, response.json()["code"]) == (404, 20404)


def test_another_accounts_execution_is_404(
    server: LiveServer, account: Credentials, other_account: Credentials
) -> None:
    created = studio(server, account).flows(FLOW).executions.create(to="+14155550199", from_="+14155550100")
    theirs = studio(server, other_account)
    error = rest_error(lambda: theirs.flows(FLOW).executions(created.sid).fetch())
    assert (error.status, error.code) == (404, 20404)
    assert list(theirs.flows(FLOW).executions.list()) == []


def test_studio_needs_credentials(server: LiveServer) -> None:
    response = httpx.post(f"{server.url}/v2/Flows/{FLOW}/Executions", data={"To": "+1", "From": "+2"})
    assert (response.status_code, response.json()["code"]) == (401, 20003)


# --- An execution ends after the configured run time: watched with the test clock.


@pytest.fixture(scope="module")
def clock_server(private_database_url: str) -> Iterator[LiveServer]:
    settings = test_settings(
        private_database_url, test_clock=True, test_clock_allow_postgres=True, studio_execution_s=float(RUN_S)
    )
    live = LiveServer(settings).start()
    yield live
    live.stop()


def test_an_execution_is_active_then_ended_after_the_configured_time(
    clock_server: LiveServer, private_database_url: str
) -> None:
    creds = new_account(private_database_url)
    flows = studio(clock_server, creds)
    created = flows.flows(FLOW).executions.create(to="+14155550199", from_="+14155550100")
    with httpx.Client(base_url=clock_server.url, auth=(creds.account_sid, creds.auth_token), timeout=30) as http:
        assert http.post("/sandbox/clock/advance", json={"seconds": RUN_S - 5}).is_success
        assert flows.flows(FLOW).executions(created.sid).fetch().status == "active"
        assert http.post("/sandbox/clock/advance", json={"seconds": 10}).is_success
        ended = flows.flows(FLOW).executions(created.sid).fetch()
        assert ended.status == "ended"
        assert ended.date_updated > created.date_updated
        shown = http.get("/sandbox/studio/executions", params={"status": "ended"}).json()["executions"]
        assert [e["sid"] for e in shown] == [created.sid]
        assert http.get("/sandbox/studio/executions", params={"status": "active"}).json() == {"executions": []}

"""Twilio Agent Connect, unchanged but for its base URLs, runs against Orchestrion (both backends).

A real TAC server process (its FastAPI app under uvicorn, agent_connect_app.py)
with an echo agent; Orchestrion with a GROUP_BY_PARTICIPANT_ADDRESSES
configuration, a capture rule to the agent's number and status callbacks to
TAC. Every call TAC makes to Orchestrion is recorded by the app, so each test
also checks that they all answered 2xx (but the one 409 that reuse needs).
Waits are bounded polls; nothing here is about how long anything took.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.acceptance.actions_support import AGENT, CUSTOMER, wait_for
from tests.acceptance.conftest import MEMORY_STORE_ID, create_configuration
from tests.conftest import Credentials, LiveServer, free_port, new_api_key

APP = Path(__file__).with_name("agent_connect_app.py")
FLOW = "FW" + "ab" * 16
PROFILES = f"/v1/Stores/{MEMORY_STORE_ID}/Profiles"


@dataclass
class AgentConnect:
    """The TAC process, and what it saw and did."""

    url: str
    process: subprocess.Popen[bytes]
    log: Path

    def get(self, path: str) -> Any:
        return httpx.get(self.url + path, timeout=10).json()

    def seen(self) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = self.get("/test/seen")
        return found

    def calls(self) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = self.get("/test/calls")
        return found

    def refused(self) -> list[dict[str, Any]]:
        """TAC's calls that did not answer 2xx."""
        return [c for c in self.calls() if not 200 <= c["status"] < 300]


def start_agent_connect(
    server: LiveServer,
    account: Credentials,
    key: Credentials,
    configuration_id: str,
    port: int,
    memory_mode: str,
    log: Path,
) -> AgentConnect:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TWILIO_", "ORCHESTRION_", "TAC_"))}
    env.update(
        ORCHESTRION_URL=server.url,
        TWILIO_ACCOUNT_SID=account.account_sid,
        TWILIO_AUTH_TOKEN=account.auth_token,
        TWILIO_API_KEY=key.account_sid,
        TWILIO_API_SECRET=key.auth_token,
        TWILIO_PHONE_NUMBER=AGENT,
        TWILIO_CONVERSATION_CONFIGURATION_ID=configuration_id,
        TWILIO_STUDIO_HANDOFF_FLOW_SID=FLOW,
        TAC_PORT=str(port),
        TAC_MEMORY_MODE=memory_mode,
        TAC_ANALYTICS_DISABLED="true",
        PYTHONPATH=os.pathsep.join(sys.path),
    )
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, str(APP)], env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    tac = AgentConnect(f"http://127.0.0.1:{port}", process, log)

    def up() -> bool | None:
        if process.poll() is not None:
            raise AssertionError(f"the TAC app exited with {process.returncode}:\n{log.read_text()[-4000:]}")
        try:
            return httpx.get(tac.url + "/test/seen", timeout=1).status_code == 200 or None
        except httpx.TransportError:
            return None

    wait_for(up, "the TAC app to serve", timeout_s=60)
    return tac


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


@pytest.fixture
def agent_connect(
    request: pytest.FixtureRequest,
    server: LiveServer,
    account: Credentials,
    client: Any,
    database_url: str,
    tmp_path: Path,
) -> Iterator[AgentConnect]:
    """TAC with an echo agent; its memory mode is the fixture's indirect parameter (default: never)."""
    memory_mode = getattr(request, "param", "never")
    port = free_port()
    configuration_id = create_configuration(
        client,
        conversationGroupingType="GROUP_BY_PARTICIPANT_ADDRESSES",
        channelSettings={"SMS": {"captureRules": [{"from": "*", "to": AGENT}]}},
        statusCallbacks=[{"url": f"http://127.0.0.1:{port}/webhook", "method": "POST"}],
    )
    tac = start_agent_connect(
        server, account, new_api_key(database_url, account), configuration_id, port, memory_mode, tmp_path / "tac.log"
    )
    try:
        yield tac
    finally:
        stop(tac.process)
        print(tac.log.read_text()[-8000:])  # shown when the test fails


def say(http: httpx.Client, body: str) -> dict[str, Any]:
    """The customer texts the agent's number (as Twilio would post it)."""
    response = http.post("/sandbox/inbound", json={"from": CUSTOMER, "to": AGENT, "body": body})
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    assert answer["captured"], answer
    return answer


def reply_to(http: httpx.Client, conversation_id: str, text: str) -> dict[str, Any]:
    """The message the sandbox sent to the customer with ``text``, once it is delivered."""

    def probe() -> dict[str, Any] | None:
        messages = http.get("/sandbox/messages", params={"to": CUSTOMER, "conversationId": conversation_id}).json()
        return next((m for m in messages["messages"] if m["body"] == text and m["status"] == "delivered"), None)

    return wait_for(probe, f"the reply {text!r}")


def test_an_sms_reaches_the_agent_and_its_echo_goes_out_and_a_second_one_joins_the_conversation(
    agent_connect: AgentConnect, http: httpx.Client, client: Any
) -> None:
    first = say(http, "hello there")
    echo = reply_to(http, first["conversationId"], "echo: hello there")
    action = client.conversations.v2.actions(first["conversationId"], echo["actionId"]).fetch()
    assert (action.status, action.related["messageSid"]) == ("COMPLETED", echo["sid"])
    delivered = http.get(f"/sandbox/conversations/{first['conversationId']}/webhooks").json()["webhooks"]
    assert any(d["eventType"] == "COMMUNICATION_CREATED" and d["status"] == "DELIVERED" for d in delivered)

    second = say(http, "and again")
    assert second["conversationId"] == first["conversationId"]
    reply_to(http, first["conversationId"], "echo: and again")
    assert [(s["message"], s["conversationId"]) for s in agent_connect.seen()] == [
        ("hello there", first["conversationId"]),
        ("and again", first["conversationId"]),
    ]
    assert [c.id for c in client.conversations.v2.conversations.list()] == [first["conversationId"]]
    assert agent_connect.refused() == []


@pytest.mark.parametrize("agent_connect", ["always"], indirect=True)
def test_with_memory_on_the_agent_gets_the_customers_profile_and_recalled_observations(
    agent_connect: AgentConnect, http: httpx.Client
) -> None:
    profile = http.post(PROFILES, json={"traits": {"Contact": {"phone": CUSTOMER, "firstName": "Ada"}}})
    profile_id = profile.json()["id"]
    observations = [
        {"content": "Ada prefers evening deliveries", "source": "crm", "occurredAt": "2025-01-15T10:00:00Z"}
    ]
    assert http.post(f"{PROFILES}/{profile_id}/Observations", json={"observations": observations}).status_code == 202

    answer = say(http, "Are evening deliveries possible?")
    reply_to(http, answer["conversationId"], "echo: Are evening deliveries possible?")
    [saw] = agent_connect.seen()
    assert (saw["profileId"], saw["memoryFromMemoryApi"]) == (profile_id, True)
    assert saw["traits"] == {"Contact": {"phone": CUSTOMER, "firstName": "Ada"}}
    assert saw["observations"] == ["Ada prefers evening deliveries"]
    memory_calls = [(c["method"], c["path"]) for c in agent_connect.calls() if c["path"].startswith("/v1/")]
    assert memory_calls == [
        ("POST", f"{PROFILES}/Lookup"),
        ("GET", f"{PROFILES}/{profile_id}"),
        ("POST", f"{PROFILES}/{profile_id}/Recall"),
    ]
    assert agent_connect.refused() == []


def test_an_outbound_initiation_for_the_same_customer_reuses_the_open_conversation(
    agent_connect: AgentConnect, http: httpx.Client, client: Any
) -> None:
    inbound = say(http, "hi")
    reply_to(http, inbound["conversationId"], "echo: hi")
    started = httpx.post(
        agent_connect.url + "/test/initiate", json={"to": CUSTOMER, "message": "Your parcel left"}, timeout=30
    )
    assert started.status_code == 200, started.text
    assert started.json()["conversationId"] == inbound["conversationId"]
    reply_to(http, inbound["conversationId"], "Your parcel left")
    assert [c.id for c in client.conversations.v2.conversations.list()] == [inbound["conversationId"]]
    assert agent_connect.refused() == [{"method": "POST", "path": "/v2/Conversations", "status": 409}]


def test_a_handoff_leaves_the_conversation_to_studio_and_the_next_message_does_not_reach_the_agent(
    agent_connect: AgentConnect, http: httpx.Client
) -> None:
    first = say(http, "hello")
    conversation_id = first["conversationId"]
    reply_to(http, conversation_id, "echo: hello")
    say(http, "I want a human please")

    def handed_off() -> list[dict[str, Any]] | None:
        shown = http.get("/sandbox/studio/executions", params={"conversationId": conversation_id}).json()
        return shown["executions"] or None

    [execution] = wait_for(handed_off, "the Studio execution of the handoff")
    assert (execution["flowSid"], execution["to"], execution["from"], execution["status"]) == (
        FLOW,
        CUSTOMER,
        AGENT,
        "active",
    )
    assert execution["parameters"] == {
        "HandoffData": {
            "conversationId": conversation_id,
            "storeId": MEMORY_STORE_ID,
            "profileId": "",
            "attributes": {"department": "support", "reason": "the customer asked for a human"},
        }
    }
    conversation = http.get(f"/v2/Conversations/{conversation_id}").json()
    assert (conversation["status"], conversation["configuration"]["statusCallbacks"]) == ("INACTIVE", [])
    assert wait_for(lambda: agent_connect.seen()[-1].get("handoff"), "the tool's answer") == {
        "status": "handoff_initiated",
        "channel": "SMS",
    }

    after = say(http, "hello? anyone?")
    assert after["conversationId"] == conversation_id
    assert http.get(f"/v2/Conversations/{conversation_id}").json()["status"] == "ACTIVE"
    # The change and its status callbacks are written in one transaction: none was written for TAC.
    log = http.get(f"/sandbox/conversations/{conversation_id}/webhooks").json()["webhooks"]
    assert not [d for d in log if d["payload"]["data"].get("id") == after["communicationId"]]
    assert [s["message"] for s in agent_connect.seen()] == ["hello", "I want a human please"]
    assert agent_connect.refused() == []

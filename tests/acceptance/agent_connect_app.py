"""A minimal Twilio Agent Connect app, pointed at Orchestrion: an echo agent, no LLM.

The end-to-end test (test_agent_connect.py) runs this file as its own process,
configured by the environment:

- ``ORCHESTRION_URL``: where Orchestrion serves (one base URL for the
  Conversations, Memory and Studio APIs);
- ``TWILIO_ACCOUNT_SID``, ``TWILIO_AUTH_TOKEN``, ``TWILIO_API_KEY``,
  ``TWILIO_API_SECRET``, ``TWILIO_PHONE_NUMBER``,
  ``TWILIO_CONVERSATION_CONFIGURATION_ID``, ``TWILIO_STUDIO_HANDOFF_FLOW_SID``:
  TAC's own settings;
- ``TAC_PORT`` (where this app listens) and ``TAC_MEMORY_MODE``.

The only change to TAC is the README's recipe: its base URLs point at
Orchestrion. The rest is what an app writes: the agent answers ``echo: ...``,
and hands off to a human (TAC's Studio handoff tool) when asked for one. For
the test to look at, it also keeps what the agent saw (``GET /test/seen``)
and every call TAC made to Orchestrion with its answer's status
(``GET /test/calls``), and starts an outbound conversation on demand
(``POST /test/initiate``).
"""

from __future__ import annotations

import os
from typing import Any

import httpx

os.environ.setdefault("TAC_ANALYTICS_DISABLED", "true")  # no telemetry from a test

# ``tac`` first: tac.core must load before tac.context.base.
import tac
import tac.tools.handoff
from tac.context.base import BaseAPIClient

ORCHESTRION = os.environ["ORCHESTRION_URL"]

# The recipe: every Twilio product TAC talks to is Orchestrion.
BaseAPIClient._build_base_url = staticmethod(lambda product, region: ORCHESTRION)  # type: ignore[method-assign]
tac.tools.handoff.studio_executions_url = lambda flow_sid: f"{ORCHESTRION}/v2/Flows/{flow_sid}/Executions"

from fastapi import Request  # noqa: E402
from tac.channels.sms import SMSChannel  # noqa: E402
from tac.models.outbound import InitiateMessagingConversationOptions  # noqa: E402
from tac.models.session import ConversationSession  # noqa: E402
from tac.models.tac import TACMemoryResponse  # noqa: E402
from tac.server import TACFastAPIServer, TACServerConfig  # noqa: E402
from tac.tools.handoff import create_studio_handoff_tool  # noqa: E402

calls: list[dict[str, Any]] = []
seen: list[dict[str, Any]] = []

# Instrumentation only: record each call TAC's clients make, and the status it got.
_make_client = BaseAPIClient._get_client


async def _record(response: httpx.Response) -> None:
    calls.append({"method": response.request.method, "path": response.request.url.path, "status": response.status_code})


def _recording_client(self: BaseAPIClient) -> httpx.AsyncClient:
    client = _make_client(self)
    client.event_hooks["response"].append(_record)
    return client


BaseAPIClient._get_client = _recording_client  # type: ignore[method-assign]

agent = tac.TAC(tac.TACConfig.from_env())
sms = SMSChannel(agent, {"memory_mode": os.environ.get("TAC_MEMORY_MODE", "never")})


async def on_message(message: str, session: ConversationSession, memory: TACMemoryResponse | None) -> str | None:
    entry: dict[str, Any] = {
        "message": message,
        "conversationId": session.conversation_id,
        "profileId": session.profile_id,
        "traits": None if session.profile is None else session.profile.traits,
        "observations": None if memory is None else [o.content for o in memory.observations],
        "memoryFromMemoryApi": None if memory is None else memory.has_memory_features,
    }
    seen.append(entry)
    if "human" in message.lower():
        tool = create_studio_handoff_tool(agent, session, attributes={"department": "support"})
        entry["handoff"] = await tool(reason="the customer asked for a human")
        return None
    return f"echo: {message}"


agent.on_message_ready(on_message)

port = int(os.environ["TAC_PORT"])
server = TACFastAPIServer(tac=agent, messaging_channels=[sms], config=TACServerConfig(host="127.0.0.1", port=port))


@server.app.get("/test/seen")
async def get_seen() -> list[dict[str, Any]]:
    return seen


@server.app.get("/test/calls")
async def get_calls() -> list[dict[str, Any]]:
    return calls


@server.app.post("/test/initiate")
async def initiate(request: Request) -> dict[str, Any]:
    body = await request.json()
    result = await sms.initiate_outbound_conversation(
        InitiateMessagingConversationOptions(to=body["to"], message=body["message"])
    )
    return {"conversationId": result.conversation_id}


if __name__ == "__main__":
    server.start()

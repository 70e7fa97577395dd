"""Another account's resources: every route of the app, walked with a second account's credentials.

The routes are enumerated from the Starlette app itself, so a new route is
walked without editing this file (and fails it until it knows what the route's
path parameters and body are). Each route is first called by the second
account on its own resources (it must work: the request is a valid one), then
on the first account's: a 404 (a 403 for Twilio's signed webhooks, as
documented), and no effect at all: every row that mentions the first account
is unchanged, its status-callback receiver hears nothing, and its limits are
whole.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from starlette.applications import Starlette
from starlette.routing import Route
from twilio.request_validator import RequestValidator

from orchestrion.runtime import Runtime
from orchestrion.store.tables import metadata
from tests.acceptance.actions_support import wait_for
from tests.acceptance.conftest import MEMORY_STORE_ID
from tests.acceptance.webhook_receiver import Receiver
from tests.conftest import Credentials, LiveServer, new_account, test_settings

SENDER = "+15005550006"
# Routes every account may call and that hold no account's data.
PUBLIC = {("GET", "/healthz"), ("GET", "/openapi.json")}
# The test clock is the server's, not an account's (README): off here, so a 404 for everyone.
SERVER_WIDE = {("GET", "/sandbox/clock"), ("POST", "/sandbox/clock/advance")}


@dataclass
class Tenant:
    """One account and one of each of its resources, made through the API."""

    creds: Credentials
    configuration: str
    operation: str
    conversation: str
    participant: str
    communication: str
    action: str
    message_sid: str

    @property
    def auth(self) -> tuple[str, str]:
        return (self.creds.account_sid, self.creds.auth_token)

    def markers(self) -> tuple[str, ...]:
        return (
            self.creds.account_sid,
            self.configuration,
            self.operation,
            self.conversation,
            self.participant,
            self.communication,
            self.action,
            self.message_sid,
        )


_counter = iter(range(10_000, 99_999))


def _phone() -> str:
    return f"+1415556{next(_counter) % 10_000:04d}"


def _ok(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code < 300, f"{response.request.method} {response.request.url}: {response.text}"
    body: dict[str, Any] = response.json()
    return body


def _configuration_body(callback: str | None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "displayName": f"cfg {next(_counter)}",
        "description": "cross-account walk",
        "conversationGroupingType": "GROUP_BY_PARTICIPANT_ADDRESSES",
        "memoryStoreId": MEMORY_STORE_ID,
        "channelSettings": {"SMS": {"statusTimeouts": {"inactive": 600, "closed": 1200}}},
    }
    if callback is not None:
        body["statusCallbacks"] = [{"url": callback, "method": "POST"}]
    return body


def _participant_body() -> dict[str, Any]:
    return {"type": "CUSTOMER", "addresses": [{"address": _phone(), "channel": "SMS"}]}


def _communication_body() -> dict[str, Any]:
    return {
        "author": {"address": _phone(), "channel": "SMS"},
        "content": {"type": "TEXT", "text": "hi"},
        "recipients": [{"address": SENDER, "channel": "SMS"}],
    }


def _action_body() -> dict[str, Any]:
    return {
        "type": "SEND_MESSAGE",
        "payload": {
            "from": {"address": SENDER, "channel": "SMS"},
            "to": [{"address": _phone(), "channel": "SMS"}],
            "content": {"text": "hello"},
        },
    }


def make_tenant(url: str, creds: Credentials, callback: str | None) -> Tenant:
    with httpx.Client(base_url=url, auth=(creds.account_sid, creds.auth_token), timeout=10) as http:
        accepted = _ok(http.post("/v2/ControlPlane/Configurations", json=_configuration_body(callback)))
        operation = accepted["statusUrl"].rsplit("/", 1)[1]
        wait_for(
            lambda: _ok(http.get(f"/v2/ControlPlane/Operations/{operation}"))["status"] == "COMPLETED" or None,
            "the configuration",
        )
        configuration = accepted["related"]["configurationId"]
        conversation = _ok(http.post("/v2/Conversations", json={"configurationId": configuration}))["id"]
        base = f"/v2/Conversations/{conversation}"
        participant = _ok(http.post(f"{base}/Participants", json=_participant_body()))["id"]
        communication = _ok(http.post(f"{base}/Communications", json=_communication_body()))["id"]
        action = _ok(http.post(f"{base}/Actions", json=_action_body()))["id"]
        done = wait_for(lambda: (a := _ok(http.get(f"{base}/Actions/{action}"))).get("completedAt") and a, "the action")
        message_sid = done["related"]["messageSid"]
    return Tenant(creds, configuration, operation, conversation, participant, communication, action, message_sid)


def _path_value(template: str, name: str, tenant: Tenant) -> str:
    """The tenant's id for one path parameter of a route."""
    if name == "id":
        kind = template.split("/{id}")[0].rsplit("/", 1)[1]
        by_kind = {
            "Configurations": tenant.configuration,
            "Operations": tenant.operation,
            "Conversations": tenant.conversation,
            "Participants": tenant.participant,
            "Communications": tenant.communication,
        }
        if kind in by_kind:
            return by_kind[kind]
    fixed = {
        "ConversationId": tenant.conversation,
        "ActionId": tenant.action,
        "sid": tenant.message_sid,
        "AccountSid": tenant.creds.account_sid,
    }
    if name in fixed:
        return fixed[name]
    raise AssertionError(f"this walk does not know which id fills {{{name}}} in {template}: teach _path_value")


# Collection routes whose body names another resource: naming another account's is a 404.
REFERRING = {
    ("POST", "/v2/Conversations"): lambda t: {"configurationId": t.configuration},
    ("POST", "/sandbox/inbound"): lambda t: {"inReplyTo": t.message_sid, "body": "hi"},
}


def _json_body(method: str, template: str, tenant: Tenant) -> dict[str, Any] | None:
    """A valid body for the route (valid for ``tenant``: only ownership may refuse it)."""
    if (method, template) in REFERRING:
        return REFERRING[(method, template)](tenant)
    bodies: dict[tuple[str, str], Callable[[], dict[str, Any]]] = {
        ("POST", "/v2/ControlPlane/Configurations"): lambda: _configuration_body(None),
        ("PUT", "/v2/ControlPlane/Configurations/{id}"): lambda: _configuration_body(None),
        ("PATCH", "/v2/ControlPlane/Configurations/{id}"): lambda: {"description": "patched"},
        ("PUT", "/v2/Conversations/{id}"): lambda: {"status": "ACTIVE", "name": "replaced"},
        ("PATCH", "/v2/Conversations/{id}"): lambda: {"name": "patched"},
        ("POST", "/v2/Conversations/{ConversationId}/Participants"): _participant_body,
        ("PUT", "/v2/Conversations/{ConversationId}/Participants/{id}"): lambda: {"name": "renamed"},
        ("POST", "/v2/Conversations/{ConversationId}/Communications"): _communication_body,
        ("POST", "/v2/Conversations/{ConversationId}/Actions"): _action_body,
        ("POST", "/sandbox/clock/advance"): lambda: {"seconds": 1},
    }
    if method in ("GET", "DELETE"):
        return None
    make = bodies.get((method, template))
    if make is None:
        raise AssertionError(f"this walk has no valid body for {method} {template}: teach _json_body")
    return make()


def _signed_form(url: str, tenant: Tenant, signer: Credentials) -> tuple[dict[str, str], dict[str, str]]:
    params = {
        "MessageSid": tenant.message_sid,
        "MessageStatus": "failed",
        "ErrorCode": "30003",
        "From": SENDER,
        "To": "+14155550100",
        "Body": "hello",
    }
    signature = RequestValidator(signer.auth_token).compute_signature(url, params)
    return params, {"X-Twilio-Signature": signature}


def call(server: LiveServer, route: Route, method: str, caller: Tenant, owner: Tenant) -> httpx.Response:
    """``caller`` calls ``route`` on ``owner``'s resources, as a client of the API would."""
    path = route.path
    for name in route.param_convertors:
        path = path.replace("{" + name + "}", _path_value(route.path, name, owner))
    url = server.url + path
    if route.path.startswith("/twilio/"):
        params, headers = _signed_form(url, owner, caller.creds)
        return httpx.post(url, data=params, headers=headers, timeout=10)
    return httpx.request(method, url, json=_json_body(method, route.path, owner), auth=caller.auth, timeout=10)


def _app_routes(server: LiveServer) -> list[tuple[Route, str]]:
    app: Any = server.app
    while not isinstance(app, Starlette):
        app = app.app
    found = [(r, m) for r in app.routes if isinstance(r, Route) for m in sorted((r.methods or set()) - {"HEAD"})]
    assert len(found) > 30, "the walk found too few routes: is the app unwrapped right?"
    return found


def snapshot(database_url: str, tenant: Tenant) -> list[str]:
    """Every stored row that mentions the tenant (its account, or one of its resources)."""
    pattern = re.compile("|".join(re.escape(m) for m in tenant.markers()))

    async def read() -> list[str]:
        runtime = Runtime.build(test_settings(database_url))
        rows: list[str] = []
        try:
            async with runtime.ctx.store.read() as tx:
                for table in metadata.sorted_tables:
                    for row in (await tx.conn.execute(sa.select(table))).all():
                        text = f"{table.name}: {tuple(row)!r}"
                        if pattern.search(text):
                            rows.append(text)
        finally:
            await runtime.ctx.store.close()
        return sorted(rows)

    return asyncio.run(read())


def settle(database_url: str, within_ms: int = 60_000) -> None:
    """Wait until no job is due within a minute (timers set hours ahead may stay)."""

    async def due() -> int:
        runtime = Runtime.build(test_settings(database_url))
        try:
            async with runtime.ctx.store.read() as tx:
                horizon = runtime.ctx.clock.now_ms() + within_ms
                query = sa.select(sa.func.count()).select_from(metadata.tables["jobs"])
                return int((await tx.conn.execute(query.where(sa.column("run_at_ms") < horizon))).scalar_one())
        finally:
            await runtime.ctx.store.close()

    deadline = time.monotonic() + 30
    while asyncio.run(due()):
        assert time.monotonic() < deadline, "jobs still due after 30 s"
        time.sleep(0.05)


@pytest.fixture(scope="module")
def walk(private_database_url: str) -> Iterator[tuple[LiveServer, Tenant, Tenant, Receiver]]:
    receiver = Receiver(answer=lambda _r: 204)
    # A conversation takes two actions, then one every 1000 s: the owner's one spare action is
    # the witness that nobody else drew from its bucket.
    settings = test_settings(private_database_url, actions_per_conversation_per_second=0.001, rate_limit_burst=2)
    server = LiveServer(settings).start()
    try:
        owner = make_tenant(server.url, new_account(private_database_url), receiver.url("/owner"))
        intruder = make_tenant(server.url, new_account(private_database_url), None)
        settle(private_database_url)
        yield server, owner, intruder, receiver
    finally:
        server.stop()
        receiver.close()


def test_every_route_refuses_another_accounts_resources_with_no_effect(
    walk: tuple[LiveServer, Tenant, Tenant, Receiver], private_database_url: str
) -> None:
    server, owner, intruder, receiver = walk
    settle(private_database_url)
    before = snapshot(private_database_url, owner)
    heard = len(receiver.requests())
    assert before and heard > 0, "the owner's state and callbacks must exist for the walk to mean anything"

    refusals: list[str] = []
    routes = _app_routes(server)
    # Deletes last, so the intruder's own resources serve every other route's control call.
    for route, method in sorted(routes, key=lambda rm: rm[1] == "DELETE"):
        key = (method, route.path)
        if key in PUBLIC:
            continue
        if method != "DELETE" and key not in SERVER_WIDE:
            own = call(server, route, method, intruder, intruder)
            assert own.status_code < 300, f"control call {method} {route.path} failed: {own.text}"
        answer = call(server, route, method, intruder, owner)
        if not route.param_convertors and key not in REFERRING and key not in SERVER_WIDE:
            expected = answer.status_code if answer.status_code < 300 else 200  # the caller's own collection
        else:
            expected = 403 if route.path.startswith("/twilio/") else 404
        asked = str(answer.request.url) + answer.request.content.decode()
        if answer.status_code != expected:
            refusals.append(f"{method} {route.path}: {answer.status_code} {answer.text[:200]}")
        elif any(m in answer.text and m not in asked for m in owner.markers()):
            refusals.append(f"{method} {route.path}: the answer shows the owner's resources")
    assert refusals == [], "routes that did not refuse another account's resources:\n" + "\n".join(refusals)

    settle(private_database_url)
    assert snapshot(private_database_url, owner) == before
    assert len(receiver.requests()) == heard, "the owner's status callbacks were called"
    spare = httpx.post(
        f"{server.url}/v2/Conversations/{owner.conversation}/Actions", json=_action_body(), auth=owner.auth, timeout=10
    )
    assert spare.status_code == 202, "another account spent this conversation's action limit"


def test_list_filters_naming_another_accounts_resources_find_nothing(
    walk: tuple[LiveServer, Tenant, Tenant, Receiver], private_database_url: str
) -> None:
    server, owner, intruder, _ = walk
    answers = {
        "sandbox messages of the owner's conversation": ("/sandbox/messages", {"conversationId": owner.conversation}),
        "sandbox messages to the owner's recipient": ("/sandbox/messages", {"from": SENDER}),
        "conversations of the owner's configuration": ("/v2/Conversations", {"configurationId": owner.configuration}),
    }
    for what, (path, params) in answers.items():
        answer = httpx.get(server.url + path, params=params, auth=intruder.auth, timeout=10)
        assert answer.status_code == 200, f"{what}: {answer.status_code} {answer.text}"
        shown = [m for m in owner.markers() if m in answer.text and m not in str(answer.request.url)]
        assert shown == [], f"{what} shows the owner's resources"

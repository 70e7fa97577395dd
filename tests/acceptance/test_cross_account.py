"""Another account's resources: every route of the app, walked with a second account's credentials.

The routes are enumerated from the Starlette app itself, so a new route is
walked without editing this file (and fails it until it knows what the route's
path parameters and body are). Each route is first called by the second
account on its own resources (it must work: the request is a valid one), then
on the first account's: a 404 (a 403 for Twilio's and the providers' signed
webhooks, as documented), and no effect at all: every row that mentions the first account
is unchanged, its status-callback receiver hears nothing, and its limits are
whole.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
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

from orchestrion.domain.channels import Channel
from orchestrion.domain.providers import ProviderConfig
from orchestrion.runtime import Runtime
from orchestrion.store.store import Tx
from orchestrion.store.tables import metadata
from tests.acceptance.actions_support import settle, wait_for
from tests.acceptance.conftest import MEMORY_STORE_ID, in_store
from tests.acceptance.console_client import ConsoleClient
from tests.acceptance.webhook_receiver import Receiver
from tests.conftest import Credentials, LiveServer, new_account, test_settings

SENDER = "+15005550006"
# Routes every account may call and that hold no account's data.
# /metrics counts by route template, method and status: server-wide figures that name no account.
PUBLIC = {("GET", "/healthz"), ("GET", "/openapi.json"), ("GET", "/metrics")}
# The test clock is the server's, not an account's (README): off here, so a 404 for everyone.
SERVER_WIDE = {
    ("GET", "/sandbox/clock"),
    ("POST", "/sandbox/clock/advance"),
    ("GET", "/console/clock"),
    ("POST", "/console/clock/advance"),
}
# Path parameters that name no account's resource: a route whose parameters are all of these
# works on the caller's own collection (Twilio's Memory store id and Studio flow SIDs are the
# caller's to choose; the data under them is still the account's).
SHARED_PARAMS = {"storeId", "FlowSid"}
# The console signs in with a session, not Basic auth: its pages are walked by their own test.
CONSOLE = "/console"
# A flow SID both accounts start executions of.
FLOW = "FW" + "0123456789abcdef" * 2


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
    phone: str
    profile: str
    observation: str
    summary: str
    execution: str
    delivery: str | None

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
            self.profile,
            self.observation,
            self.summary,
            self.execution,
            *([self.delivery] if self.delivery else []),
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
        phone = _phone()
        profiles = f"/v1/Stores/{MEMORY_STORE_ID}/Profiles"
        profile = _ok(http.post(profiles, json={"traits": {"Contact": {"phone": phone}}}))["id"]
        _ok(http.post(f"{profiles}/{profile}/Observations", json={"observations": [_memory()]}))
        observation = _ok(http.get(f"{profiles}/{profile}/Observations"))["observations"][0]["id"]
        _ok(http.post(f"{profiles}/{profile}/ConversationSummaries", json={"summaries": [_summary(conversation)]}))
        summary = _ok(http.get(f"{profiles}/{profile}/ConversationSummaries"))["summaries"][0]["id"]
        execution = _ok(http.post(f"/v2/Flows/{FLOW}/Executions", data=_execution_form()))["sid"]
    return Tenant(
        creds,
        configuration,
        operation,
        conversation,
        participant,
        communication,
        action,
        message_sid,
        phone,
        profile,
        observation,
        summary,
        execution,
        None,
    )


def _memory() -> dict[str, Any]:
    return {"content": "Prefers email", "source": "tests", "occurredAt": "2025-01-15T10:15:30Z"}


def _summary(conversation: str) -> dict[str, Any]:
    return {"content": "Billing solved", "conversationId": conversation, "occurredAt": "2025-01-15T10:15:30Z"}


def _execution_form() -> dict[str, str]:
    return {"To": _phone(), "From": SENDER}


def _delivery_of(database_url: str, tenant: Tenant) -> str:
    """One of the tenant's status-callback deliveries (the console can redeliver it)."""

    async def read() -> str:
        runtime = Runtime.build(test_settings(database_url))
        try:
            async with runtime.ctx.store.read() as tx:
                table = metadata.tables["webhook_deliveries"]
                query = sa.select(table.c.id).where(table.c.account_sid == tenant.creds.account_sid).limit(1)
                return str((await tx.conn.execute(query)).scalar_one())
        finally:
            await runtime.ctx.store.close()

    return asyncio.run(read())


def _path_value(template: str, name: str, tenant: Tenant) -> str:
    """The tenant's id for one path parameter of a route."""
    if name == "id":
        kind = template.split("/{id}")[0].rsplit("/", 1)[1]
        by_kind = {
            "Configurations": tenant.configuration,
            "configurations": tenant.configuration,
            "conversations": tenant.conversation,
            "Operations": tenant.operation,
            "Conversations": tenant.conversation,
            "Participants": tenant.participant,
            "Communications": tenant.communication,
        }
        if kind in by_kind:
            return by_kind[kind]
    if name == "memoryId":
        return tenant.summary if "/ConversationSummaries/" in template else tenant.observation
    fixed = {
        "ConversationId": tenant.conversation,
        "ActionId": tenant.action,
        "sid": tenant.message_sid,
        "MessageSid": tenant.message_sid,
        "AccountSid": tenant.creds.account_sid,
        "storeId": MEMORY_STORE_ID,
        "profileId": tenant.profile,
        "idType": "phone",
        "FlowSid": FLOW,
        "Sid": tenant.execution,
        "delivery": tenant.delivery or "",
        "rest": "no-such-page",
    }
    if name in fixed:
        return fixed[name]
    raise AssertionError(f"this walk does not know which id fills {{{name}}} in {template}: teach _path_value")


PROFILES = "/v1/Stores/{storeId}/Profiles"
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
        ("POST", PROFILES): lambda: {"traits": {"Contact": {"phone": _phone()}}},
        ("PATCH", PROFILES + "/{profileId}"): lambda: {"traits": {"Contact": {"firstName": "Ann"}}},
        ("POST", PROFILES + "/{profileId}/Identifiers"): lambda: {
            "idType": "email",
            "value": f"{_phone()}@example.com",
        },
        ("POST", PROFILES + "/{profileId}/Observations"): lambda: {"observations": [_memory()]},
        ("PATCH", PROFILES + "/{profileId}/Observations/{memoryId}"): lambda: {"content": "changed"},
        ("POST", PROFILES + "/{profileId}/ConversationSummaries"): lambda: {
            "summaries": [_summary(tenant.conversation)]
        },
        ("PATCH", PROFILES + "/{profileId}/ConversationSummaries/{memoryId}"): lambda: {"content": "changed"},
        ("POST", PROFILES + "/{profileId}/Recall"): lambda: {"query": "email"},
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


def _gateway_secret(creds: Credentials) -> str:
    """The signing secret of the tenant's webhook provider (each tenant has one, on RCS)."""
    return hashlib.sha256(b"gateway:" + creds.auth_token.encode()).hexdigest()


def _gateway_report(url: str, signer: Credentials) -> httpx.Response:
    body = json.dumps({"messageId": "gw-unknown", "status": "sent"}).encode()
    stamp = int(time.time())
    mac = hmac.new(_gateway_secret(signer).encode(), f"{stamp}.".encode() + body, hashlib.sha256).hexdigest()
    headers = {"X-Orchestrion-Timestamp": str(stamp), "X-Orchestrion-Signature": f"v1={mac}"}
    return httpx.post(url, content=body, headers=headers, timeout=10)


def give_webhook_provider(database_url: str, creds: Credentials) -> None:
    secret = _gateway_secret(creds)
    config = ProviderConfig(
        creds.account_sid,
        "webhook",
        frozenset({Channel.RCS}),
        {"url": "http://127.0.0.1:9/"},
        {"signingSecret": secret},
    )

    async def put(tx: Tx) -> None:
        await tx.providers.put(config)

    in_store(database_url, put)


def call(server: LiveServer, route: Route, method: str, caller: Tenant, owner: Tenant) -> httpx.Response:
    """``caller`` calls ``route`` on ``owner``'s resources, as a client of the API would."""
    path = route.path
    for name in route.param_convertors:
        path = path.replace("{" + name + "}", _path_value(route.path, name, owner))
    url = server.url + path
    if route.path.startswith("/twilio/"):
        params, headers = _signed_form(url, owner, caller.creds)
        return httpx.post(url, data=params, headers=headers, timeout=10)
    if route.path.startswith("/providers/webhook/"):
        return _gateway_report(url, caller.creds)
    if route.path.startswith("/2010-04-01/") and method == "POST":  # Twilio's Messages API takes forms
        form = {"To": _phone(), "From": SENDER, "Body": "from the Messages API"}
        return httpx.post(url, data=form, auth=caller.auth, timeout=10)
    if route.path.startswith("/v2/Flows/") and method == "POST":
        form = {"Status": "ended"} if route.path.endswith("{Sid}") else _execution_form()
        return httpx.post(url, data=form, auth=caller.auth, timeout=10)
    if (method, route.path) == ("POST", PROFILES + "/Lookup"):
        # The owner's customer, looked up in the caller's own profiles: none of them.
        return httpx.post(url, json={"idType": "phone", "value": owner.phone}, auth=caller.auth, timeout=10)
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
        for tenant in (owner, intruder):
            give_webhook_provider(private_database_url, tenant.creds)
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
        if key in PUBLIC or route.path.startswith(CONSOLE):
            continue
        if method != "DELETE" and key not in SERVER_WIDE:
            own = call(server, route, method, intruder, intruder)
            assert own.status_code < 300, f"control call {method} {route.path} failed: {own.text}"
        answer = call(server, route, method, intruder, owner)
        if set(route.param_convertors) <= SHARED_PARAMS and key not in REFERRING and key not in SERVER_WIDE:
            expected = answer.status_code if answer.status_code < 300 else 200  # the caller's own collection
        else:
            expected = 403 if route.path.startswith(("/twilio/", "/providers/")) else 404
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


# Console forms and the fields that make each a valid submission (so only ownership may refuse it).
CONSOLE_FORMS = {
    "/console/conversations/{id}/status": {"move": "close"},
    "/console/conversations/{id}/reply": {"body": "hi"},
    "/console/inbox/{sid}/reply": {"body": "hi"},
    "/console/clock/advance": {"minutes": "1"},
}
# Signing in and out changes the caller's session only; the walk keeps its own.
CONSOLE_SESSION = {"/console/sign-in", "/console/sign-out"}


def test_every_console_page_refuses_another_accounts_resources_with_no_effect(
    walk: tuple[LiveServer, Tenant, Tenant, Receiver], private_database_url: str
) -> None:
    server, owner, intruder, receiver = walk
    owner.delivery = _delivery_of(private_database_url, owner)
    settle(private_database_url)
    before = snapshot(private_database_url, owner)
    heard = len(receiver.requests())
    console = ConsoleClient(server.url)
    try:
        assert console.sign_in(intruder.creds.account_sid, intruder.creds.auth_token).status_code == 303
        csrf = console.csrf("/console/inbox")
        refusals: list[str] = []
        walked = 0
        for route, method in _app_routes(server):
            if not route.path.startswith(CONSOLE) or route.path in CONSOLE_SESSION:
                continue
            walked += 1
            path = route.path
            for name in route.param_convertors:
                path = path.replace("{" + name + "}", _path_value(route.path, name, owner))
            if method == "POST":
                fields = {"csrf": csrf, **CONSOLE_FORMS.get(route.path, {})}
                answer = console.http.post(path, data=fields)
            else:
                answer = console.get(path)
            owns_nothing = set(route.param_convertors) <= {"rest"} or (method, route.path) in SERVER_WIDE
            if owns_nothing:
                ok = answer.status_code < 500 and answer.headers.get("location", "").find("sign-in") < 0
            else:
                ok = answer.status_code == 404
            if not ok:
                refusals.append(f"{method} {route.path}: {answer.status_code} {answer.text[:200]}")
            elif any(m in answer.text and m not in str(answer.request.url) for m in owner.markers()):
                refusals.append(f"{method} {route.path}: the page shows the owner's resources")
        assert walked > 10, "the walk found too few console routes"
        assert refusals == [], "console routes that did not refuse another account's resources:\n" + "\n".join(refusals)
    finally:
        console.close()

    settle(private_database_url)
    assert snapshot(private_database_url, owner) == before
    assert len(receiver.requests()) == heard, "the owner's status callbacks were called"

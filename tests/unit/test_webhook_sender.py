"""The callback sender against an in-memory transport: headers, signature, outcomes, public-only pinning."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from twilio.request_validator import RequestValidator

from orchestrion.webhooks.envelope import envelope
from orchestrion.webhooks.sender import Outbound, Outcome, WebhookPolicy, WebhookSender
from tests.builders import public_address

pytestmark = pytest.mark.asyncio(loop_scope="function")

TOKEN = "0123456789abcdef0123456789abcdef"
BODY = envelope("CONVERSATION_CREATED", 1_774_866_600_000, {"id": "conv_conversation_x", "name": "Ada & Bob"})


def outbound(url: str = "https://hooks.example.com/status?tenant=7", method: str = "POST") -> Outbound:
    return Outbound(url=url, method=method, body=BODY, auth_token=TOKEN, idempotency_token="webhook_delivery_1")


async def send_with(
    answer: Callable[[httpx.Request], httpx.Response],
    out: Outbound | None = None,
    *,
    policy: WebhookPolicy | None = None,
    addresses: list[str] | None = None,
) -> tuple[Outcome, list[httpx.Request]]:
    seen: list[httpx.Request] = []

    async def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return answer(request)

    async def resolver(host: str, port: int) -> list[str]:
        return addresses or await public_address(host, port)

    sender = WebhookSender(policy, transport=httpx.MockTransport(handler), resolver=resolver)
    try:
        return await sender.send(out or outbound()), seen
    finally:
        await sender.aclose()


def as_received(request: httpx.Request) -> str:
    """The URL the receiver sees: the connection goes to the checked address, the Host header keeps the name."""
    return str(request.url.copy_with(netloc=request.headers["host"].encode()))


def ok(_request: httpx.Request) -> httpx.Response:
    return httpx.Response(200)


async def test_post_sends_the_exact_envelope_signed_like_twilio() -> None:
    outcome, [request] = await send_with(ok)
    assert outcome.delivered and outcome.error is None
    assert request.method == "POST"
    assert request.content == BODY.encode()
    assert request.headers["content-type"] == "application/json"
    assert RequestValidator(TOKEN).validate(as_received(request), BODY, request.headers["x-twilio-signature"])


async def test_every_request_names_its_event_and_attempt() -> None:
    outcome, [request] = await send_with(ok)
    assert request.headers["i-twilio-idempotency-token"] == "webhook_delivery_1"
    assert request.headers["x-request-id"] == outcome.request_id
    assert outcome.request_id.startswith("RQ") and len(outcome.request_id) == 34


async def test_get_carries_the_envelope_in_the_query_and_signs_the_full_url() -> None:
    outcome, [request] = await send_with(ok, outbound(method="GET"))
    assert outcome.delivered
    assert request.method == "GET" and request.content == b""
    query = parse_qs(urlsplit(as_received(request)).query)
    assert query["tenant"] == ["7"]
    assert query["EventType"] == ["CONVERSATION_CREATED"]
    assert query["Timestamp"] == ["2026-03-30T10:30:00Z"]
    assert query["Data"] == ['{"id":"conv_conversation_x","name":"Ada & Bob"}']
    assert RequestValidator(TOKEN).validate(as_received(request), {}, request.headers["x-twilio-signature"])


@pytest.mark.parametrize(("status", "retryable"), [(500, True), (503, True), (400, False), (404, False), (302, False)])
async def test_failed_answers_say_whether_to_retry(status: int, retryable: bool) -> None:
    outcome, _ = await send_with(lambda _r: httpx.Response(status, headers={"location": "https://elsewhere.example/"}))
    assert not outcome.delivered
    assert (outcome.status_code, outcome.retryable) == (status, retryable)
    assert outcome.error is not None and str(status) in outcome.error


async def test_an_unreachable_receiver_is_retryable() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("Connection refused", request=request)

    outcome, _ = await send_with(refuse)
    assert (outcome.status_code, outcome.retryable) == (None, True)
    assert outcome.error == "ConnectError: Connection refused"


async def test_an_attempt_is_cut_at_twice_the_timeout_and_is_retryable() -> None:
    release = asyncio.Event()
    seen: list[httpx.Request] = []

    async def stall(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        await release.wait()
        return httpx.Response(200)

    sender = WebhookSender(WebhookPolicy(timeout_s=0.05), transport=httpx.MockTransport(stall), resolver=public_address)
    try:
        outcome = await sender.send(outbound())
    finally:
        release.set()
        await sender.aclose()
    assert len(seen) == 1
    assert (outcome.status_code, outcome.retryable, outcome.error) == (None, True, "the attempt took longer than 0.1 s")


@pytest.mark.parametrize(
    ("kind", "error"),
    [
        (httpx.ConnectTimeout, "could not connect within 10 s"),
        (httpx.WriteTimeout, "could not send the request within 10 s"),
        (httpx.ReadTimeout, "no answer within 10 s"),
        (httpx.PoolTimeout, "no answer within 10 s"),
    ],
)
async def test_each_kind_of_timeout_is_retryable_and_named(kind: type[httpx.TimeoutException], error: str) -> None:
    def slow(request: httpx.Request) -> httpx.Response:
        raise kind("timed out", request=request)

    outcome, _ = await send_with(slow)
    assert (outcome.status_code, outcome.retryable, outcome.error) == (None, True, error)


async def test_public_only_refuses_a_name_that_resolves_to_a_private_address_without_calling_it() -> None:
    outcome, seen = await send_with(ok, policy=WebhookPolicy(public_only=True), addresses=["93.184.215.14", "10.0.0.7"])
    assert seen == []
    assert (outcome.retryable, outcome.error) == (
        False,
        "refused: hooks.example.com resolves to a non-public address (10.0.0.7 is a private or reserved address)",
    )


async def test_public_only_refuses_plain_http_at_delivery() -> None:
    outcome, seen = await send_with(ok, outbound("http://hooks.example.com/"), policy=WebhookPolicy(public_only=True))
    assert seen == [] and not outcome.retryable
    assert outcome.error is not None and "https" in outcome.error


async def test_public_only_connects_to_the_checked_address_keeping_the_name() -> None:
    outcome, [request] = await send_with(ok, policy=WebhookPolicy(public_only=True), addresses=["93.184.215.14"])
    assert outcome.delivered
    assert request.url.host == "93.184.215.14"
    assert request.headers["host"] == "hooks.example.com"
    assert request.extensions["sni_hostname"] == "hooks.example.com"
    signed_url = str(request.url).replace("93.184.215.14", "hooks.example.com")
    assert RequestValidator(TOKEN).validate(signed_url, BODY, request.headers["x-twilio-signature"])


async def test_check_url_resolves_names_in_public_only_mode() -> None:
    async def private(host: str, port: int) -> list[str]:
        return ["192.168.1.20"]

    sender = WebhookSender(WebhookPolicy(public_only=True), resolver=private)
    reason = await sender.check_url("https://intranet.example.com/hooks")
    assert reason == "resolves to a non-public address (192.168.1.20 is a private or reserved address)"


async def test_check_url_accepts_a_name_that_does_not_resolve_yet() -> None:
    async def unknown(host: str, port: int) -> list[str]:
        raise OSError("Name or service not known")

    sender = WebhookSender(WebhookPolicy(public_only=True), resolver=unknown)
    assert await sender.check_url("https://not-yet.example.com/hooks") is None


async def test_check_url_never_resolves_an_ip_address() -> None:
    async def never(host: str, port: int) -> list[str]:
        raise AssertionError("resolved")

    sender = WebhookSender(WebhookPolicy(), resolver=never)
    assert await sender.check_url("http://127.0.0.1:9/hooks") is None


async def test_check_url_refuses_a_name_resolving_to_a_metadata_address_by_default() -> None:
    async def metadata(host: str, port: int) -> list[str]:
        return ["10.0.0.5", "169.254.169.254"]

    sender = WebhookSender(WebhookPolicy(), resolver=metadata)
    reason = await sender.check_url("http://hooks.internal.example/h")
    assert reason is not None and "169.254.169.254" in reason


async def test_by_default_a_name_resolving_to_a_metadata_address_is_refused_at_delivery() -> None:
    outcome, seen = await send_with(ok, outbound("http://rebinding.example/h"), addresses=["169.254.169.254"])
    assert seen == [] and not outcome.retryable
    assert outcome.error is not None and "169.254.169.254" in outcome.error


async def test_by_default_the_connection_goes_to_the_checked_address_keeping_the_name() -> None:
    outcome, [request] = await send_with(ok, outbound("http://hooks.example.com:8080/h"), addresses=["10.0.0.7"])
    assert outcome.delivered
    assert (request.url.host, request.url.port) == ("10.0.0.7", 8080)
    assert request.headers["host"] == "hooks.example.com:8080"


async def test_the_next_checked_address_is_tried_when_one_refuses_connections() -> None:
    def first_unreachable(request: httpx.Request) -> httpx.Response:
        if request.url.host == "::1":
            raise httpx.ConnectError("Connection refused")
        return httpx.Response(204)

    outcome, seen = await send_with(first_unreachable, outbound("http://localhost:9/h"), addresses=["::1", "127.0.0.1"])
    assert outcome.delivered
    assert [r.url.host for r in seen] == ["::1", "127.0.0.1"]

"""Sends status callbacks over HTTP: one shared client per process, a deadline on every call.

``WebhookSender.send`` makes ONE attempt and says what happened; it never
retries (retries are the dispatcher's, with its one backoff policy). An
attempt is retryable when the receiver could not be reached, did not answer
within the timeout, or answered 5xx; a 2xx delivers; anything else (4xx, a
redirect, which is never followed, a refused address) fails for good.

Timeouts: connecting, sending the request and waiting for the answer each
get ``timeout_s`` (httpx's own timeouts, which close the connection cleanly);
the whole attempt is cut at twice that at worst (a receiver that trickles its
answer), so keep ``2 * timeout_s`` below the job lease.

Every attempt of one event carries the same ``I-Twilio-Idempotency-Token``
(the delivery id) so a receiver can drop duplicates, and its own
``X-Request-Id``.

Destinations (``domain.webhooks``): link-local and cloud-metadata addresses are
refused in every mode; with ``public_only`` (ORCHESTRION_WEBHOOK_PUBLIC_ONLY)
plain http and every non-public address too. The host is resolved before each
attempt, every address it resolves to must be allowed, and the connection goes
to an address that was checked (the next one if it refuses the connection; the
Host header and TLS SNI keep the name), so a DNS answer that changes between the
check and the connection cannot steer a callback to a refused address. Proxies
from the environment are not used: callbacks connect directly.
"""

from __future__ import annotations

import asyncio
import ipaddress
import secrets
import socket
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

import httpx

from orchestrion.domain.inbound import twilio_signature
from orchestrion.domain.tracecontext import current_traceparent
from orchestrion.domain.webhooks import address_refusal, url_refusal
from orchestrion.webhooks.envelope import query_params
from orchestrion.webhooks.signing import SIGNATURE_HEADER, signature, with_body_hash, with_query

IDEMPOTENCY_HEADER = "I-Twilio-Idempotency-Token"
REQUEST_ID_HEADER = "X-Request-Id"
RESOLVE_TIMEOUT_S = 2.0  # for the configuration-time check; deliveries use the attempt's deadline

Resolver = Callable[[str, int], Awaitable[list[str]]]


@dataclass(frozen=True, slots=True)
class WebhookPolicy:
    timeout_s: float = 10.0  # each of: connecting, sending, waiting for the answer (an attempt: 2x at most)
    max_attempts: int = 10
    max_age_ms: int = 60 * 60 * 1000  # no retry is scheduled for an event older than this
    public_only: bool = False
    log_retention_ms: int = 7 * 24 * 60 * 60 * 1000  # finished deliveries are kept this long


@dataclass(frozen=True, slots=True)
class Outbound:
    url: str
    method: str  # "POST" | "GET"
    body: str  # the envelope, UTF-8 JSON; with ``form``, form-encoded fields
    auth_token: str = field(repr=False)
    idempotency_token: str
    # A form POST signed as Twilio signs its messaging callbacks (over the URL and the sorted fields)
    # instead of Orchestrion's JSON envelope signed with bodySHA256.
    form: bool = False


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one attempt came to."""

    request_id: str
    status_code: int | None
    latency_ms: int
    error: str | None
    retryable: bool

    @property
    def delivered(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


class Refused(Exception):
    """The destination is not allowed (public-only mode)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


async def system_resolver(host: str, port: int) -> list[str]:
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return False
    return True


def judge(status_code: int) -> tuple[str | None, bool]:
    """(error, retryable) for an HTTP answer; no error for a 2xx."""
    if 200 <= status_code < 300:
        return None, False
    if status_code >= 500:
        return f"HTTP {status_code}", True
    if 300 <= status_code < 400:
        return f"HTTP {status_code}: redirects are not followed", False
    return f"HTTP {status_code}: not retried", False


class WebhookSender:
    def __init__(
        self,
        policy: WebhookPolicy | None = None,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        resolver: Resolver | None = None,
        user_agent: str = "Orchestrion-Webhooks",
    ) -> None:
        self.policy = policy or WebhookPolicy()
        self._transport = transport
        self._resolver = resolver or system_resolver
        self._user_agent = user_agent
        self._client: httpx.AsyncClient | None = None

    def _http(self) -> httpx.AsyncClient:
        # Made on first use, inside the event loop of the process that delivers.
        if self._client is None:
            self._client = httpx.AsyncClient(
                timeout=httpx.Timeout(self.policy.timeout_s),
                follow_redirects=False,
                trust_env=False,
                transport=self._transport,
                headers={"User-Agent": self._user_agent},
            )
        return self._client

    async def aclose(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            await client.aclose()

    async def check_url(self, url: str) -> str | None:
        """Why ``url`` cannot be a callback, or None. A name is resolved and its addresses judged too.

        A name that does not resolve (yet) is accepted: each delivery checks again.
        """
        public_only = self.policy.public_only
        reason = url_refusal(url, public_only=public_only)
        parsed = httpx.URL(url)
        if reason is not None or _is_ip(parsed.host):
            return reason
        try:
            async with asyncio.timeout(RESOLVE_TIMEOUT_S):
                addresses = await self._resolver(parsed.host, parsed.port or 443)
        except (OSError, TimeoutError):
            return None
        for address in addresses:
            refusal = address_refusal(address, public_only=public_only)
            if refusal is not None:
                return f"resolves to a {'non-public' if public_only else 'refused'} address ({refusal})"
        return None

    async def send(self, out: Outbound) -> Outcome:
        """One attempt: each step bounded by the policy's timeout, the whole by twice it."""
        request_id = "RQ" + secrets.token_hex(16)
        started = time.monotonic()
        status_code: int | None = None
        error: str | None
        retryable = False
        try:
            # A safety net only: httpx's timeouts end a slow attempt first, without cancelling it midway.
            async with asyncio.timeout(2 * self.policy.timeout_s):
                status_code = await self._attempt(out, request_id)
        except Refused as refused:
            error = f"refused: {refused.reason}"
        except httpx.ConnectTimeout:
            error, retryable = f"could not connect within {self.policy.timeout_s:g} s", True
        except httpx.WriteTimeout:
            error, retryable = f"could not send the request within {self.policy.timeout_s:g} s", True
        except httpx.TimeoutException:
            error, retryable = f"no answer within {self.policy.timeout_s:g} s", True
        except TimeoutError:
            error, retryable = f"the attempt took longer than {2 * self.policy.timeout_s:g} s", True
        except (httpx.UnsupportedProtocol, httpx.InvalidURL) as bad:
            error = f"{type(bad).__name__}: {bad}"
        except (httpx.TransportError, OSError) as unreachable:
            error, retryable = f"{type(unreachable).__name__}: {unreachable}".rstrip(": "), True
        else:
            error, retryable = judge(status_code)
        latency_ms = int((time.monotonic() - started) * 1000)
        return Outcome(request_id, status_code, latency_ms, error, retryable)

    async def _attempt(self, out: Outbound, request_id: str) -> int:
        url = httpx.URL(out.url).copy_with(fragment=None)
        body = out.body.encode()
        content: bytes | None
        if out.form:
            target = url
            content = body
        elif out.method == "GET":
            target = httpx.URL(with_query(str(url), query_params(out.body)))
            content = None
        else:
            target = httpx.URL(with_body_hash(str(url), body))
            content = body
        signed_on = str(target)
        signed = (
            twilio_signature(signed_on, parse_qsl(out.body, keep_blank_values=True), out.auth_token)
            if out.form
            else signature(signed_on, out.auth_token)
        )
        headers = {
            SIGNATURE_HEADER: signed,
            IDEMPOTENCY_HEADER: out.idempotency_token,
            REQUEST_ID_HEADER: request_id,
        }
        if content is not None:
            headers["Content-Type"] = "application/x-www-form-urlencoded" if out.form else "application/json"
        if (traceparent := current_traceparent()) is not None:
            headers["traceparent"] = traceparent  # the receiver's spans join the Action's trace
        addresses = await self._checked_addresses(target)
        client = self._http()
        for n, address in enumerate(addresses, start=1):
            extensions: dict[str, Any] = {}
            pinned = target
            if address != target.host:
                # Connect to the address that was checked; the Host header and TLS SNI keep the name.
                headers["Host"] = target.netloc.decode("ascii")
                extensions["sni_hostname"] = target.host
                pinned = target.copy_with(host=address)
            request = client.build_request(out.method, pinned, content=content, headers=headers, extensions=extensions)
            try:
                response = await client.send(request, stream=True)
            except httpx.ConnectError:
                if n == len(addresses):
                    raise
                continue  # nothing was sent: the next checked address may answer
            await response.aclose()  # the status is the answer; the body is not read
            return response.status_code
        raise AssertionError("unreachable: _checked_addresses returns at least one address")

    async def _checked_addresses(self, target: httpx.URL) -> list[str]:
        """Every address the host resolves to, each allowed by the rule; Refused when one is not."""
        public_only = self.policy.public_only
        reason = url_refusal(str(target), public_only=public_only)
        if reason is not None:
            raise Refused(f"the URL {reason}")
        host = target.host
        if _is_ip(host):
            return [host]
        async with asyncio.timeout(self.policy.timeout_s):
            addresses = await self._resolver(host, target.port or (443 if target.scheme == "https" else 80))
        if not addresses:
            raise OSError(f"{host} has no address")
        for address in addresses:
            refusal = address_refusal(address, public_only=public_only)
            if refusal is not None:
                kind = "non-public" if public_only else "refused"
                raise Refused(f"{host} resolves to a {kind} address ({refusal})")
        return addresses

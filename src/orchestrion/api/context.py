"""What route handlers reach through ``request.app.state``."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

from starlette.requests import Request

from orchestrion.api.pagination import PageTokens
from orchestrion.domain.errors import Unauthenticated
from orchestrion.services.accounts import Authenticator
from orchestrion.services.context import Context
from orchestrion.services.providers import SigningTokens
from orchestrion.services.ratelimits import RateLimits
from orchestrion.services.testclock import TestClock


class MetricsExposition(Protocol):
    def render(self, outbox: Mapping[str, tuple[int, int]] | None = None) -> tuple[bytes, str]:
        """The metrics page (e.g. Prometheus text) and its content type; ``outbox``: jobs and dead letters by kind."""
        ...


@dataclass(slots=True)
class ApiState:
    ctx: Context
    auth: Authenticator
    tokens: PageTokens
    limits: RateLimits
    signing: SigningTokens  # the accounts' inbound signing tokens, remembered briefly
    test_clock: TestClock | None = None  # POST /sandbox/clock/advance, when enabled
    public_url: str | None = None  # the base URL Twilio signs inbound requests with (else from the request)
    max_body_bytes: int = 1024 * 1024  # ORCHESTRION_MAX_BODY_BYTES: larger bodies get 413
    # The console and /metrics: None turns each off.
    console_key: bytes | None = field(default=None, repr=False)  # signs console sessions
    metrics: MetricsExposition | None = None
    metrics_token: str | None = field(default=None, repr=False)  # bearer token /metrics asks for, if set


def state(request: Request) -> ApiState:
    api: ApiState = request.app.state.api
    return api


def credentials_from_header(header: str | None) -> tuple[str, str]:
    if not header or not header[:6].lower() == "basic ":
        raise Unauthenticated("Authentication required: use HTTP Basic with an Account SID or API key")
    try:
        username, _, password = base64.b64decode(header[6:].strip(), validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError) as error:
        raise Unauthenticated("Malformed Authorization header") from error
    return username, password


async def authenticate(request: Request) -> str:
    """The caller's account SID: set by the gate (api.gate) before routing."""
    account_sid: str | None = request.scope.get("state", {}).get("account_sid")
    if account_sid is not None:
        return account_sid
    username, password = credentials_from_header(request.headers.get("authorization"))
    return await state(request).auth.authenticate(username, password)


def base_url(request: Request) -> str:
    """The scheme://host[:port] the client used, for absolute URLs in responses."""
    return f"{request.url.scheme}://{request.url.netloc}"

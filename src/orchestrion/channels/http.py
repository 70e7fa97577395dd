"""What HTTP answers and failures mean to a provider: sent, retry later (and when), or never.

- a connection that was never made: nothing was sent, retry;
- a timeout or a broken connection after the request went out: unknown (the
  message may exist), retry;
- 429 and 5xx: retry, after ``Retry-After`` when the server gives one;
- any other 4xx: permanent, with the service's own code and text.
"""

from __future__ import annotations

import email.utils
import time
from typing import Any

import httpx

from orchestrion.domain.errors import ProviderError
from orchestrion.domain.outcomes import failure_reason

# Twilio's "Service unavailable": what a network failure reads as in failureReason.
UNAVAILABLE = 20503
_MAX_TEXT = 300


def client(timeout_s: float) -> httpx.AsyncClient:
    """A client for one provider: every call bounded by ``timeout_s`` (connecting by at most 5 s of it)."""
    return httpx.AsyncClient(timeout=httpx.Timeout(timeout_s, connect=min(5.0, timeout_s)), follow_redirects=False)


def retry_after_s(value: str | None, now_s: float | None = None) -> float | None:
    """``Retry-After`` in seconds: a number of seconds or an HTTP date; None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (time.time() if now_s is None else now_s))


def never_sent(error: httpx.HTTPError) -> bool:
    """The request never reached the server (so nothing can have been sent)."""
    return isinstance(error, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout)


def network_error(service: str, error: httpx.HTTPError) -> ProviderError:
    text = f"{service} could not be reached: {type(error).__name__}"
    return ProviderError(failure_reason(UNAVAILABLE, text), transient=True, code=UNAVAILABLE)


def _error_body(response: httpx.Response) -> tuple[int | None, str | None]:
    try:
        body: Any = response.json()
    except ValueError:
        return None, None
    if not isinstance(body, dict):
        return None, None
    code = body.get("code")
    message = body.get("message")
    return (
        code if isinstance(code, int) and not isinstance(code, bool) else None,
        message[:_MAX_TEXT] if isinstance(message, str) else None,
    )


def refused(service: str, response: httpx.Response) -> ProviderError:
    """The ProviderError an error answer means (``{"code", "message"}`` bodies, Twilio's shape, are read)."""
    code, message = _error_body(response)
    text = message or f"{service} answered HTTP {response.status_code}"
    transient = response.status_code == 429 or response.status_code >= 500
    hint = retry_after_s(response.headers.get("retry-after")) if transient else None
    return ProviderError(failure_reason(code, text), transient=transient, code=code, retry_after_s=hint)

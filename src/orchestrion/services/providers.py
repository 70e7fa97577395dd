"""Downstream providers per account: their configuration, and which one sends each message.

``set_provider`` / ``remove_provider`` / ``account_providers`` are what
``orchestrion providers set | remove | show`` do. ``AccountProviders`` is the
dispatcher's lookup: an account's configured providers serve their channels,
the sandbox every other channel.

Configuration changes are made by another process (the CLI), so each
process reads an account's configuration again once it is older than
ORCHESTRION_PROVIDERS_REFRESH_S (default 2 s; 0 reads it on every send): a
change applies to the sends that start after that, everywhere. An account
with nothing configured costs one indexed read per refresh, none per send.

``StoreLedger`` is the ``SendLedger`` port over the store (``provider_attempts``).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import structlog

from orchestrion.channels import plugins, twilio
from orchestrion.channels.base import ChannelProvider, OutboundMessage, ProviderSetup, SendReceipt
from orchestrion.channels.registry import ChannelRegistry
from orchestrion.domain import ids
from orchestrion.domain.channels import Channel
from orchestrion.domain.clock import WallClock
from orchestrion.domain.errors import Forbidden, InvalidInput, NotFound, OrchestrionError, ProviderError
from orchestrion.domain.outcomes import MessageStatus, StatusReport
from orchestrion.domain.providers import (
    REPLAY_WINDOW_S,
    ProviderConfig,
    check_channels_free,
    check_name,
    gateway_message_sid,
    verify,
)
from orchestrion.services import outcomes
from orchestrion.services.context import Context
from orchestrion.store.store import Store

log = structlog.get_logger("orchestrion.providers")
# Signed reports are checked against real time: the test clock moves domain time only.
_WALL = WallClock()


class StoreLedger:
    """The providers' send attempts, each in its own short transaction (inside the run's fence)."""

    def __init__(self, ctx: Context) -> None:
        self._ctx = ctx

    async def begin(self, key: str) -> int | None:
        async with self._ctx.store.write() as tx:
            return await tx.providers.begin_attempt(key, self._ctx.clock.now_ms())

    async def forget(self, key: str) -> None:
        async with self._ctx.store.write() as tx:
            await tx.providers.forget_attempt(key)

    async def taken(self, message_sid: str, key: str) -> bool:
        async with self._ctx.store.read() as tx:
            action = await tx.actions.get_by_message_sid(message_sid)
        return action is not None and action.id != key


async def _report(ctx: Context, report: StatusReport) -> outcomes.Applied:
    with Store.unfenced():
        return await outcomes.report_status(ctx, report)


def setup_for(ctx: Context, config: ProviderConfig) -> ProviderSetup:
    s = ctx.providers
    return ProviderSetup(
        config=config,
        public_url=s.public_url,
        ledger=StoreLedger(ctx),
        report=lambda report: _report(ctx, report),
        timeout_s=s.timeout_s,
        twilio_api_url=s.twilio_api_url,
    )


async def _close(provider: object) -> None:
    close = getattr(provider, "aclose", None)
    if close is not None:
        await close()


async def set_provider(
    ctx: Context,
    account_sid: str,
    name: str,
    *,
    channels: frozenset[Channel],
    options: Mapping[str, str],
    secrets: Mapping[str, str],
) -> ProviderConfig:
    """Configure (or replace) the account's provider ``name``; InvalidInput when it could not work as given."""
    check_name(name)
    make = plugins.factory(name)
    config = ProviderConfig(account_sid, name, channels, dict(options), dict(secrets), ctx.clock.now_ms())
    await _close(make(setup_for(ctx, config)))  # the factory checks the options, the secrets and the server
    async with ctx.store.write() as tx:
        if await tx.accounts.get(account_sid) is None:
            raise NotFound("Account", account_sid)
        check_channels_free(await tx.providers.of_account(account_sid), name, channels)
        await tx.providers.put(config)
    log.info("provider_set", account_sid=account_sid, provider=name, channels=sorted(channels))
    return config


async def remove_provider(ctx: Context, account_sid: str, name: str) -> None:
    async with ctx.store.write() as tx:
        removed = await tx.providers.remove(account_sid, name)
    if not removed:
        raise NotFound("provider", f"{name} of account {account_sid}")
    log.info("provider_removed", account_sid=account_sid, provider=name)


async def account_providers(ctx: Context, account_sid: str) -> list[ProviderConfig]:
    async with ctx.store.read() as tx:
        if await tx.accounts.get(account_sid) is None:
            raise NotFound("Account", account_sid)
        return await tx.providers.of_account(account_sid)


async def twilio_signing_tokens(ctx: Context, account_sid: str) -> list[str]:
    """The tokens a request to ``/twilio/{AccountSid}/...`` may be signed with; none for an unknown account.

    The Orchestrion account's auth token, and the auth token of the Twilio
    account its ``twilio`` provider sends through when one is configured:
    Twilio signs its callbacks with the latter.
    """
    if not ids.is_sid(account_sid, "AC"):
        return []
    async with ctx.store.read() as tx:
        account = await tx.accounts.get(account_sid)
        if account is None:
            return []
        configs = await tx.providers.of_account(account_sid)
    tokens = [account.auth_token]
    for config in configs:
        token = config.secrets.get("authToken")
        if config.name == twilio.NAME and token:
            tokens.append(token)
    return tokens


class SigningTokens:
    """``twilio_signing_tokens`` of each account, read again once older than ORCHESTRION_PROVIDERS_REFRESH_S.

    Every inbound message is checked against its account's tokens: reading them
    (two rows, each decrypted) for each message cost more than the check. A
    signature the remembered tokens do not match is checked again against
    tokens read afresh, so a new auth token or provider works at once; a token
    replaced or removed keeps working for at most the refresh interval (the
    same rule as the providers' configuration). Unknown accounts are not
    remembered.
    """

    def __init__(
        self, ctx: Context, *, max_accounts: int = 10_000, monotonic: Callable[[], float] = time.monotonic
    ) -> None:
        self._ctx = ctx
        self._max = max_accounts
        self._monotonic = monotonic
        self._read: dict[str, tuple[float, list[str]]] = {}

    async def signed_by(self, account_sid: str, matches: Callable[[Sequence[str]], bool]) -> bool:
        """Whether ``matches`` holds for the account's tokens (remembered ones first, then fresh ones)."""
        now = self._monotonic()
        kept = self._read.get(account_sid)
        if kept is not None and now - kept[0] < self._ctx.providers.refresh_s and matches(kept[1]):
            return True
        tokens = await twilio_signing_tokens(self._ctx, account_sid)
        if not tokens:
            self._read.pop(account_sid, None)
            return False
        if len(self._read) >= self._max:
            self._read.clear()
        self._read[account_sid] = (now, tokens)
        return matches(tokens)


async def webhook_signing_secret(ctx: Context, account_sid: str) -> str | None:
    """The secret the account's ``webhook`` provider signs with; None when it has none."""
    if not ids.is_sid(account_sid, "AC"):
        return None
    async with ctx.store.read() as tx:
        configs = await tx.providers.of_account(account_sid)
    return next((c.secrets.get("signingSecret") for c in configs if c.name == "webhook"), None)


class _Unusable:
    """Stands for a configured provider that cannot be built (a plugin gone, a setting missing)."""

    def __init__(self, reason: str) -> None:
        self._reason = reason

    async def send(self, message: OutboundMessage, *, idempotency_key: str) -> SendReceipt:
        raise ProviderError(self._reason, transient=False)


@dataclass(slots=True)
class _Loaded:
    read_at: float
    versions: tuple[tuple[str, int], ...]
    registry: ChannelRegistry
    built: list[ChannelProvider] = field(default_factory=list)


class AccountProviders:
    """The ``ProviderLookup`` of the dispatcher: per account, from its configuration (see the module)."""

    def __init__(
        self, ctx: Context, default: ChannelRegistry, *, monotonic: Callable[[], float] = time.monotonic
    ) -> None:
        self._ctx = ctx
        self._default = default
        self._monotonic = monotonic
        self._loaded: dict[str, _Loaded] = {}
        self._retired: list[ChannelProvider] = []

    async def provider_for(self, account_sid: str, channel: Channel) -> ChannelProvider:
        return (await self._registry(account_sid)).for_channel(channel)

    async def _registry(self, account_sid: str) -> ChannelRegistry:
        now = self._monotonic()
        loaded = self._loaded.get(account_sid)
        if loaded is not None and now - loaded.read_at < self._ctx.providers.refresh_s:
            return loaded.registry
        async with self._ctx.store.read() as tx:
            configs = await tx.providers.of_account(account_sid)
        versions = tuple((c.name, c.updated_ms) for c in configs)
        loaded = self._loaded.get(account_sid)  # again: a concurrent send may have read it meanwhile
        if loaded is not None and loaded.versions == versions:
            loaded.read_at = now
            return loaded.registry
        if loaded is not None:
            self._retired.extend(loaded.built)  # sends may still be using them: closed with the process
        fresh = self._build(account_sid, configs, now, versions)
        self._loaded[account_sid] = fresh
        return fresh.registry

    def _build(
        self, account_sid: str, configs: list[ProviderConfig], now: float, versions: tuple[tuple[str, int], ...]
    ) -> _Loaded:
        registry = self._default
        built: list[ChannelProvider] = []
        for config in configs:
            provider: ChannelProvider
            try:
                provider = plugins.factory(config.name)(setup_for(self._ctx, config))
                built.append(provider)
            except OrchestrionError as error:
                log.error("provider_unusable", account_sid=account_sid, provider=config.name, error=error.message)
                provider = _Unusable(f"Provider {config.name} cannot send: {error.message}")
            for channel in sorted(config.channels):
                registry = registry.with_provider(channel, provider)
        return _Loaded(now, versions, registry, built)

    async def aclose(self) -> None:
        for loaded in self._loaded.values():
            self._retired.extend(loaded.built)
        self._loaded.clear()
        for provider in self._retired:
            await _close(provider)
        self._retired.clear()


# --- status reports of the webhook provider's gateway

_WEBHOOK_STATUSES = {s.value: s for s in MessageStatus}


def _report_of(account_sid: str, body: bytes) -> StatusReport:
    try:
        document = json.loads(body)
    except ValueError:
        raise InvalidInput("The status report is not JSON") from None
    if not isinstance(document, dict):
        raise InvalidInput("The status report must be a JSON object")
    gateway_id, status = document.get("messageId"), document.get("status")
    if not isinstance(gateway_id, str) or not gateway_id:
        raise InvalidInput("Missing parameter messageId")
    known = _WEBHOOK_STATUSES.get(status) if isinstance(status, str) else None
    if known is None:
        raise InvalidInput(f"Invalid parameter status: one of {', '.join(_WEBHOOK_STATUSES)}")
    code, text, key = document.get("errorCode"), document.get("errorMessage"), document.get("id")
    return StatusReport(
        gateway_message_sid(account_sid, gateway_id),
        known,
        error_code=code if isinstance(code, int) and not isinstance(code, bool) else None,
        error_message=text if isinstance(text, str) else None,
        idempotency_key=key if isinstance(key, str) else None,
        account_sid=account_sid,
    )


async def webhook_status(
    ctx: Context, account_sid: str, body: bytes, timestamp: str | None, signature: str | None
) -> str:
    """Apply a signed status report from the account's gateway: ``applied`` or ``ignored`` (unknown message).

    Forbidden when the account has no webhook provider, the signature is wrong
    or stale, or the report was already accepted (a replay).
    """
    secret = await webhook_signing_secret(ctx, account_sid)
    if secret is None:
        raise Forbidden("The status report's signature is missing or wrong")
    try:
        stamp = verify(secret, timestamp, signature, body, _WALL.now_ms() / 1000)
    except InvalidInput as error:
        raise Forbidden(error.message) from None
    report = _report_of(account_sid, body)
    assert signature is not None  # verified
    now = _WALL.now_ms()
    async with ctx.store.write() as tx:
        fresh = await tx.providers.accept_signature(
            signature, now_ms=now, expires_ms=(stamp + REPLAY_WINDOW_S) * 1000 + 1
        )
    if not fresh:
        raise Forbidden("This status report was already accepted: a replay is refused")
    try:
        await outcomes.report_status(ctx, report)
    except NotFound:
        log.info("provider_status_for_unknown_message", account_sid=account_sid, message_sid=report.message_sid)
        return "ignored"
    return "applied"

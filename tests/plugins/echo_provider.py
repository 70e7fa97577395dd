"""A complete, minimal third-party provider: ``echo`` (the example of docs/providers.md).

It "delivers" every message at once: ``send`` answers a message SID made
from the idempotency key (so a repeated send of one Action is the same
message, never a second one), then reports ``sent`` and ``delivered``
through ``setup.report``. A real provider would call its API in ``send`` and
learn the statuses from its own callbacks or by polling.

Installed by the tests as the entry point ``echo`` of the group
``orchestrion.providers`` (``tests/plugins/install.py``); a real package
declares it in its pyproject.toml::

    [project.entry-points."orchestrion.providers"]
    echo = "echo_provider:make"
"""

from __future__ import annotations

import asyncio
import hashlib

from orchestrion.channels.base import OutboundMessage, ProviderSetup, SendReceipt
from orchestrion.domain.errors import InvalidInput, ProviderError
from orchestrion.domain.outcomes import MessageStatus, StatusReport


def make(setup: ProviderSetup) -> EchoProvider:
    """The factory Orchestrion calls with an account's configuration; InvalidInput refuses it."""
    prefix = setup.config.options.get("prefix", "")
    if len(prefix) > 20:
        raise InvalidInput("The echo provider's prefix is at most 20 characters")
    return EchoProvider(setup, prefix)


class EchoProvider:
    def __init__(self, setup: ProviderSetup, prefix: str) -> None:
        self._setup = setup
        self._prefix = prefix
        self._reporting: set[asyncio.Task[None]] = set()  # kept, so a report is not collected mid-way

    async def send(self, message: OutboundMessage, *, idempotency_key: str) -> SendReceipt:
        if message.text is not None and message.text.startswith("fail:"):
            raise ProviderError("30007: Message filtered", transient=False, code=30007)
        sid = "SM" + hashlib.sha256(f"echo:{idempotency_key}".encode()).hexdigest()[:32]
        task = asyncio.create_task(self._report(sid, idempotency_key))
        self._reporting.add(task)
        task.add_done_callback(self._reporting.discard)
        return SendReceipt(sid)

    async def _report(self, sid: str, key: str) -> None:
        for status in (MessageStatus.SENT, MessageStatus.DELIVERED):
            await self._setup.report(StatusReport(sid, status, idempotency_key=key))

"""For the providers' acceptance tests: a server that knows its own public URL, and configuring a provider."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

from orchestrion.domain.channels import Channel
from orchestrion.runtime import Runtime
from orchestrion.services import providers
from tests.conftest import LiveServer, free_port, test_settings


def public_server(database_url: str, **overrides: object) -> LiveServer:
    """A live server whose ORCHESTRION_PUBLIC_URL is its own loopback URL (callbacks reach it)."""
    port = free_port()
    settings = test_settings(database_url, public_url=f"http://127.0.0.1:{port}", providers_refresh_s=0, **overrides)
    return LiveServer(settings).start(port=port)


def set_provider(
    server: LiveServer,
    account_sid: str,
    name: str,
    channels: frozenset[Channel],
    options: Mapping[str, str],
    secrets: Mapping[str, str],
) -> None:
    async def run() -> None:
        runtime = Runtime.build(server.settings)
        try:
            await providers.set_provider(
                runtime.ctx, account_sid, name, channels=channels, options=options, secrets=secrets
            )
        finally:
            await runtime.ctx.store.close()

    asyncio.run(run())

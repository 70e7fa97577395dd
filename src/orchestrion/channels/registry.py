"""Which provider sends on which channel, for which account."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from orchestrion.channels.base import ChannelProvider
from orchestrion.domain.channels import Channel


class ProviderLookup(Protocol):
    async def provider_for(self, account_sid: str, channel: Channel) -> ChannelProvider:
        """The provider that sends ``account_sid``'s messages on ``channel``."""
        ...


class ChannelRegistry:
    """Maps a channel to its provider; ``default`` (the sandbox) serves every channel not mapped.

    The same for every account; ``services.providers.AccountProviders`` gives
    each account its own, from its configuration.
    """

    def __init__(self, default: ChannelProvider, providers: Mapping[Channel, ChannelProvider] | None = None) -> None:
        self._default = default
        self._providers = dict(providers or {})

    def for_channel(self, channel: Channel) -> ChannelProvider:
        return self._providers.get(channel, self._default)

    async def provider_for(self, account_sid: str, channel: Channel) -> ChannelProvider:
        return self.for_channel(channel)

    def with_provider(self, channel: Channel, provider: ChannelProvider) -> ChannelRegistry:
        """A copy with ``provider`` serving ``channel``."""
        return ChannelRegistry(self._default, {**self._providers, channel: provider})

"""Which provider sends on which channel."""

from __future__ import annotations

from collections.abc import Mapping

from orchestrion.channels.base import ChannelProvider
from orchestrion.domain.channels import Channel


class ChannelRegistry:
    """Maps a channel to its provider; ``default`` (the sandbox) serves every channel not mapped."""

    def __init__(self, default: ChannelProvider, providers: Mapping[Channel, ChannelProvider] | None = None) -> None:
        self._default = default
        self._providers = dict(providers or {})

    def provider_for(self, channel: Channel) -> ChannelProvider:
        return self._providers.get(channel, self._default)

    def with_provider(self, channel: Channel, provider: ChannelProvider) -> ChannelRegistry:
        """A copy with ``provider`` serving ``channel``."""
        return ChannelRegistry(self._default, {**self._providers, channel: provider})

"""Finding a provider by name: the built-in ones, then the ``orchestrion.providers`` entry points.

A package ships a provider by declaring, in its own ``pyproject.toml``::

    [project.entry-points."orchestrion.providers"]
    vonage = "orchestrion_vonage:make"

where ``make(setup: ProviderSetup) -> ChannelProvider`` (``channels.base``).
Installed next to Orchestrion, ``orchestrion providers set ACCOUNT_SID vonage
--channels sms --option ... --secret ...`` configures it. A plugin cannot
take a built-in name.
"""

from __future__ import annotations

from importlib.metadata import entry_points

from orchestrion.channels import twilio, webhook
from orchestrion.channels.base import ProviderFactory
from orchestrion.domain.errors import InvalidInput

GROUP = "orchestrion.providers"
BUILT_IN: dict[str, ProviderFactory] = {twilio.NAME: twilio.make, webhook.NAME: webhook.make}


def available() -> list[str]:
    """Every provider name this installation knows, built-in first."""
    found = sorted({ep.name for ep in entry_points(group=GROUP)} - set(BUILT_IN))
    return [*BUILT_IN, *found]


def factory(name: str) -> ProviderFactory:
    """The factory of the provider called ``name``; InvalidInput naming the known ones if there is none."""
    if name in BUILT_IN:
        return BUILT_IN[name]
    for point in entry_points(group=GROUP, name=name):
        loaded = point.load()
        if not callable(loaded):
            raise InvalidInput(f"The {GROUP} entry point {name} ({point.value}) is not a provider factory")
        made: ProviderFactory = loaded
        return made
    raise InvalidInput(f"Unknown provider {name!r}: one of {', '.join(available())}")

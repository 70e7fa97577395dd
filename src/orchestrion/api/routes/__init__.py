"""All API routes, one module per resource."""

from __future__ import annotations

from starlette.routing import BaseRoute

from orchestrion.api.routes import (
    actions,
    clock,
    communications,
    configurations,
    conversations,
    inbound,
    memories,
    messages_api,
    operations,
    participants,
    profiles,
    providers,
    sandbox,
    sandbox_inbound,
    sandbox_studio,
    studio,
    webhooks,
)

# Starlette tries routes in order: the polled action status comes first.
ROUTES: list[BaseRoute] = [
    *actions.routes,
    *configurations.routes,
    *operations.routes,
    *conversations.routes,
    *participants.routes,
    *communications.routes,
    *sandbox.routes,
    *clock.routes,
    *sandbox_inbound.routes,
    *inbound.routes,
    *providers.routes,
    *webhooks.routes,
    *profiles.routes,
    *memories.routes,
    *studio.routes,
    *sandbox_studio.routes,
    *messages_api.routes,
]

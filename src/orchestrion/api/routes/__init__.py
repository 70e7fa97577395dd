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
    operations,
    participants,
    sandbox,
    sandbox_inbound,
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
    *webhooks.routes,
]

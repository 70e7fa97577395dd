"""All API routes, one module per resource."""

from __future__ import annotations

from starlette.routing import BaseRoute

from orchestrion.api.routes import (
    actions,
    communications,
    configurations,
    conversations,
    operations,
    participants,
    sandbox,
)

ROUTES: list[BaseRoute] = [
    *configurations.routes,
    *operations.routes,
    *conversations.routes,
    *participants.routes,
    *communications.routes,
    *actions.routes,
    *sandbox.routes,
]

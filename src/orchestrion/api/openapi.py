"""The server's own OpenAPI document, generated from the routes and request models."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from pydantic import BaseModel
from starlette.routing import BaseRoute, Route

import orchestrion

F = TypeVar("F", bound=Callable[..., Any])

SECURITY_SCHEMES: dict[str, Any] = {
    "basic": {"type": "http", "scheme": "basic"},
    # Twilio's own webhooks: no Basic auth, a signature keyed with the account's auth token (403 when wrong).
    "twilioSignature": {"type": "apiKey", "in": "header", "name": "X-Twilio-Signature"},
}

_ERROR_SCHEMA = {
    "type": "object",
    "required": ["code", "message", "more_info", "status"],
    "properties": {
        "code": {"type": "integer"},
        "message": {"type": "string"},
        "more_info": {"type": "string"},
        "status": {"type": "integer"},
    },
}


def documented(
    operation_id: str,
    summary: str,
    *,
    body: type[BaseModel] | None = None,
    status: int = 200,
    tag: str = "Conversations",
    security: str = "basic",
) -> Callable[[F], F]:
    """Attach OpenAPI facts to a route handler (``security``: a scheme of ``SECURITY_SCHEMES``)."""

    def mark(handler: F) -> F:
        handler.__openapi__ = {  # type: ignore[attr-defined]
            "operationId": operation_id,
            "summary": summary,
            "body": body,
            "status": status,
            "tag": tag,
            "security": security,
        }
        return handler

    return mark


def openapi_document(routes: Sequence[BaseRoute]) -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    components: dict[str, Any] = {"Error": _ERROR_SCHEMA}
    for route in routes:
        if not isinstance(route, Route):
            continue
        meta = getattr(route.endpoint, "__openapi__", None)
        if meta is None:
            continue
        operation: dict[str, Any] = {
            "operationId": meta["operationId"],
            "summary": meta["summary"],
            "tags": [meta["tag"]],
            "security": [{meta["security"]: []}],
            "parameters": [
                {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
                for name in route.param_convertors
            ],
            "responses": {
                str(meta["status"]): {"description": "Success"},
                "default": {
                    "description": "Error",
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
                },
            },
        }
        body: type[BaseModel] | None = meta["body"]
        if body is not None:
            schema = body.model_json_schema(ref_template="#/components/schemas/{model}", by_alias=True)
            for name, definition in schema.pop("$defs", {}).items():
                components[name] = definition
            components[body.__name__] = schema
            operation["requestBody"] = {
                "required": True,
                "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{body.__name__}"}}},
            }
        for method in sorted((route.methods or set()) - {"HEAD"}):
            paths.setdefault(route.path, {})[method.lower()] = operation
    return {
        "openapi": "3.1.0",
        "info": {"title": "Orchestrion", "version": orchestrion.__version__},
        "paths": paths,
        "components": {
            "schemas": components,
            "securitySchemes": SECURITY_SCHEMES,
        },
        "security": [{"basic": []}],
    }

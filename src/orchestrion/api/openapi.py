"""The server's own OpenAPI document, generated from the routes and request models."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Literal, TypeVar

from pydantic import BaseModel
from starlette.routing import BaseRoute, Route

import orchestrion

F = TypeVar("F", bound=Callable[..., Any])

SECURITY_SCHEMES: dict[str, Any] = {
    "basic": {"type": "http", "scheme": "basic"},
    # Twilio's own webhooks: no Basic auth, a signature keyed with the account's auth token (403 when wrong).
    "twilioSignature": {"type": "apiKey", "in": "header", "name": "X-Twilio-Signature"},
    "orchestrionSignature": {"type": "apiKey", "in": "header", "name": "X-Orchestrion-Signature"},
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
    response: type[BaseModel] | None = None,
    media_type: str = "application/json",
    security: str = "basic",
) -> Callable[[F], F]:
    """Attach OpenAPI facts to a route handler (``response``: the model of its success body; ``security``: a
    scheme of ``SECURITY_SCHEMES``)."""

    def mark(handler: F) -> F:
        handler.__openapi__ = {  # type: ignore[attr-defined]
            "operationId": operation_id,
            "summary": summary,
            "body": body,
            "status": status,
            "tag": tag,
            "response": response,
            "media_type": media_type,
            "security": security,
        }
        return handler

    return mark


def _component(
    components: dict[str, Any], model: type[BaseModel], mode: Literal["validation", "serialization"]
) -> dict[str, str]:
    """Register ``model`` (and the models it uses) as components; a reference to it."""
    schema = model.model_json_schema(ref_template="#/components/schemas/{model}", by_alias=True, mode=mode)
    for name, definition in schema.pop("$defs", {}).items():
        components[name] = definition
    components[model.__name__] = schema
    return {"$ref": f"#/components/schemas/{model.__name__}"}


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
            operation["requestBody"] = {
                "required": True,
                "content": {meta["media_type"]: {"schema": _component(components, body, "validation")}},
            }
        response: type[BaseModel] | None = meta["response"]
        if response is not None:
            operation["responses"][str(meta["status"])]["content"] = {
                "application/json": {"schema": _component(components, response, "serialization")}
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

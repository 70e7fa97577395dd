"""JSON in (size, content type, syntax, schema) and JSON out; form bodies in (the Studio API's)."""

from __future__ import annotations

from typing import Any, TypeVar
from urllib.parse import parse_qsl

import orjson
from pydantic import BaseModel, ValidationError
from starlette.requests import Request
from starlette.responses import Response

from orchestrion.api.context import state
from orchestrion.api.schemas.common import missing
from orchestrion.domain.errors import InvalidInput, PayloadTooLarge

M = TypeVar("M", bound=BaseModel)


class JSONResponse(Response):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


async def read_body(request: Request) -> bytes:
    """The whole body, refused with 413 past the server's limit (ORCHESTRION_MAX_BODY_BYTES) before it is all read."""
    limit = state(request).max_body_bytes
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"Request body is larger than {limit} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"Request body is larger than {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def _location(loc: tuple[int | str, ...]) -> str:
    path = ""
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path or "body"


def _where(loc: tuple[int | str, ...]) -> str:
    return _location(tuple(p for p in loc if not (isinstance(p, str) and p.startswith("function-"))))


def describe(error: ValidationError) -> str:
    """Every missing required parameter at once; otherwise the first problem found."""
    errors = error.errors(include_url=False)
    absent = list(dict.fromkeys(_where(e["loc"]) for e in errors if e["type"] == "missing"))
    if absent:
        return str(missing(absent))
    first = errors[0]
    where = _where(first["loc"])
    if first["type"] == "extra_forbidden":
        return f"Unknown parameter {where}"
    return f"Invalid parameter {where}: {first['msg']}"


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_nul(v) for v in value)
    return False


async def read_json(request: Request, model: type[M]) -> M:
    body = await read_body(request)
    content_type = request.headers.get("content-type", "")
    if content_type.split(";")[0].strip().lower() != "application/json":
        raise InvalidInput("Content-Type must be application/json")
    if not body:
        raise InvalidInput("Request body is empty: a JSON object is required")
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError as error:
        raise InvalidInput(f"Request body is not valid JSON: {error.msg} at position {error.pos}") from error
    if not isinstance(data, dict):
        raise InvalidInput("Request body must be a JSON object")
    if b"\\u0000" in body and _has_nul(data):
        # PostgreSQL cannot store NUL in text; refuse it the same way on every backend.
        raise InvalidInput("Request body must not contain NUL characters (\\u0000)")
    try:
        return model.model_validate(data)
    except ValidationError as error:
        raise InvalidInput(describe(error)) from error


async def read_form(request: Request, model: type[M]) -> M:
    """A form-encoded body (``application/x-www-form-urlencoded``), as Twilio's older APIs take them."""
    body = await read_body(request)
    content_type = request.headers.get("content-type", "")
    if content_type.split(";")[0].strip().lower() != "application/x-www-form-urlencoded":
        raise InvalidInput("Content-Type must be application/x-www-form-urlencoded")
    try:
        fields = dict(parse_qsl(body.decode(), keep_blank_values=True, strict_parsing=bool(body)))
    except (UnicodeDecodeError, ValueError) as error:
        raise InvalidInput("Request body is not a valid form") from error
    if _has_nul(fields):
        raise InvalidInput("Request body must not contain NUL characters")
    try:
        return model.model_validate(fields)
    except ValidationError as error:
        raise InvalidInput(describe(error)) from error

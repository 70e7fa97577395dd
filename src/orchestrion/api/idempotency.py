"""The Idempotency-Key header of control-plane writes.

A key is a UUID, scoped to the account. The first 202 answer given for a key
is kept for 24 hours; the same request with the same key gets that answer
again, byte for byte, and changes nothing. The same key on a different
request (method, path or body) is a 422. Errors are not kept: a request that
failed may be retried with its key. Two requests are the same when method,
path and body match, the body compared as validated JSON (keys sorted, nulls
dropped, since null means absent).
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from orchestrion.api.schemas.common import drop_nulls
from orchestrion.domain.errors import InvalidInput
from orchestrion.store.idempotency import StoredResponse

HEADER = "Idempotency-Key"
_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


def key_from(request: Request) -> str | None:
    """The request's key, lower-cased; None when absent or empty (as the SDKs send "no key")."""
    value = request.headers.get(HEADER, "").strip()
    if not value:
        return None
    if not _UUID.fullmatch(value):
        raise InvalidInput(f"{HEADER} must be a UUID such as 01890a5d-aa0f-7c80-b8e6-0242ac140004")
    return value.lower()


def fingerprint(method: str, path: str, body: Any) -> str:
    canonical = b"" if body is None else orjson.dumps(drop_nulls(body), option=orjson.OPT_SORT_KEYS)
    digest = hashlib.sha256()
    for part in (method.upper().encode(), path.encode(), canonical):
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.hexdigest()


def to_response(stored: StoredResponse) -> Response:
    return Response(stored.body, status_code=stored.status_code, headers=stored.headers, media_type="application/json")

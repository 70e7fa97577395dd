"""The body of a status callback: ``{"eventType", "timestamp", "data"}``.

``data`` is the resource exactly as a GET returns it when the event happens.
POST callbacks carry the envelope as the JSON body; GET callbacks carry it in
the query string as ``EventType``, ``Timestamp`` and ``Data`` (``data`` as JSON).
"""

from __future__ import annotations

from typing import Any

import orjson

from orchestrion.domain.clock import to_wire


def envelope(event_type: str, at_ms: int, data: dict[str, Any]) -> str:
    """The envelope as the exact UTF-8 JSON text that is sent and signed."""
    return orjson.dumps({"eventType": event_type, "timestamp": to_wire(at_ms), "data": data}).decode()


def query_params(body: str) -> list[tuple[str, str]]:
    """A GET callback's query parameters for the envelope ``body``."""
    parsed = orjson.loads(body)
    return [
        ("EventType", str(parsed["eventType"])),
        ("Timestamp", str(parsed["timestamp"])),
        ("Data", orjson.dumps(parsed["data"]).decode()),
    ]

"""Pieces shared by several request bodies."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints
from pydantic.alias_generators import to_camel

from orchestrion.domain.channels import Channel
from orchestrion.domain.errors import InvalidInput


class Wire(BaseModel):
    """Base of request bodies: camelCase on the wire, unknown fields ignored, null = absent."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore", frozen=True)


class Out(BaseModel):
    """Base of response bodies: camelCase on the wire, absent fields left out (``wire()``)."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, frozen=True)

    def wire(self) -> dict[str, Any]:
        out: dict[str, Any] = self.model_dump(mode="json", by_alias=True, exclude_none=True)
        return out


class StrictWire(Wire):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid", frozen=True)


def missing(names: list[str]) -> InvalidInput:
    """One 400 naming every missing required parameter of a body."""
    if len(names) == 1:
        return InvalidInput(f"Missing required parameter {names[0]}")
    return InvalidInput(f"Missing required parameters {', '.join(names)}")


ShortText = Annotated[str, StringConstraints(max_length=256)]
LongText = Annotated[str, StringConstraints(max_length=4096)]
Metadata = Annotated[dict[str, Annotated[str, StringConstraints(max_length=512)]], Field(max_length=8)]


class ParticipantType(StrEnum):
    HUMAN_AGENT = "HUMAN_AGENT"
    CUSTOMER = "CUSTOMER"
    AI_AGENT = "AI_AGENT"
    AGENT = "AGENT"
    UNKNOWN = "UNKNOWN"


class AddressIn(Wire):
    channel: Channel
    address: Annotated[str, StringConstraints(min_length=1, max_length=256)]
    channel_id: ShortText | None = None


class StatusCallbackIn(Wire):
    url: Annotated[str, StringConstraints(min_length=1, max_length=2048)]
    method: Annotated[str, StringConstraints(pattern=r"^(POST|GET)$")] | None = None


def drop_nulls(value: Any) -> Any:
    """Nulls mean "absent": remove them from nested JSON before storing."""
    if isinstance(value, dict):
        return {k: drop_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [drop_nulls(v) for v in value]
    return value

"""Participant request bodies."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field, StringConstraints, model_validator

from orchestrion.api.schemas.common import AddressIn, ParticipantType, ShortText, Wire
from orchestrion.domain.errors import InvalidInput
from orchestrion.domain.models import Address
from orchestrion.services.participants import MAX_ADDRESSES, ParticipantFields

ProfileId = Annotated[str, StringConstraints(min_length=1, max_length=64)]
Addresses = Annotated[list[AddressIn], Field(max_length=MAX_ADDRESSES)]


def _refuse_nul(value: Any) -> None:
    # PostgreSQL cannot store U+0000 in text or JSONB: refuse it here rather than fail in the store.
    if isinstance(value, str):
        if "\x00" in value:
            raise ValueError("text must not contain the NUL character (\\u0000)")
    elif isinstance(value, dict):
        for key, item in value.items():
            _refuse_nul(key)
            _refuse_nul(item)
    elif isinstance(value, list):
        for item in value:
            _refuse_nul(item)


def text_param(value: str | None, name: str) -> str | None:
    """A free-text query parameter: empty means absent; NUL is refused like in bodies."""
    if not value:
        return None
    if "\x00" in value:
        raise InvalidInput(f"Invalid parameter {name}: text must not contain the NUL character")
    return value


class Body(Wire):
    """A request body where a null field is an absent one, also for required fields."""

    @model_validator(mode="before")
    @classmethod
    def _nulls_are_absent(cls, data: Any) -> Any:
        if isinstance(data, dict):
            _refuse_nul(data)
            return {k: v for k, v in data.items() if v is not None}
        return data


def to_addresses(items: list[AddressIn]) -> tuple[Address, ...]:
    return tuple(Address(channel=a.channel, address=a.address, channel_id=a.channel_id) for a in items)


class ParticipantBody(Body):
    name: ShortText | None = None
    type: ParticipantType | None = None
    profile_id: ProfileId | None = None
    addresses: Addresses | None = None

    def fields(self) -> ParticipantFields:
        return ParticipantFields(
            name=self.name,
            type=None if self.type is None else str(self.type),
            profile_id=self.profile_id,
            addresses=None if self.addresses is None else to_addresses(self.addresses),
        )


class CreateParticipantBody(ParticipantBody):
    addresses: Addresses  # required; may be empty (a participant reachable nowhere yet)


class UpdateParticipantBody(ParticipantBody):
    """PUT replaces the participant: a field left out (or null) is cleared, ``addresses`` included."""

"""Memory API bodies: profiles, their lookup, identifiers and traits (requests and responses)."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field, StringConstraints

from orchestrion.api.schemas.common import Out
from orchestrion.api.schemas.participants import Body
from orchestrion.domain.clock import to_wire
from orchestrion.domain.memory import Profile, Trait, Traits
from orchestrion.services.profiles import IdentifierSet

IdType = Annotated[str, StringConstraints(min_length=2, max_length=30)]
Value = Annotated[str, StringConstraints(min_length=1, max_length=255)]
TraitGroups = Annotated[dict[str, dict[str, Any]], Field(max_length=50)]


class IdentifierBody(Body):
    """``{"idType", "value"}``: Lookup, and adding an identifier to a profile."""

    id_type: IdType
    value: Value


class ProfileBody(Body):
    """Create (``traits`` must hold an identifier) or PATCH (a null trait value removes the trait)."""

    traits: TraitGroups


class MessageOut(Out):
    message: str


class CreatedProfileOut(Out):
    message: str
    id: str


class LookupOut(Out):
    normalized_value: str
    profiles: list[str]


class ProfileOut(Out):
    id: str
    created_at: str
    traits: dict[str, dict[str, Any]]

    @classmethod
    def of(cls, profile: Profile, traits: Traits) -> ProfileOut:
        return cls(id=profile.id, created_at=to_wire(profile.created_ms), traits=traits)


class MetaOut(Out):
    key: str
    page_size: int
    next_token: str | None = None
    previous_token: str | None = None


class ProfileListOut(Out):
    profiles: list[str]
    meta: MetaOut


class IdentifierSetOut(Out):
    id_type: str
    values: list[str]

    @classmethod
    def of(cls, found: IdentifierSet) -> IdentifierSetOut:
        return cls(id_type=found.id_type, values=list(found.values))


class IdentifiersOut(Out):
    identifiers: list[IdentifierSetOut]


class TraitOut(Out):
    name: str
    value: Any
    trait_group: str
    timestamp: str

    @classmethod
    def of(cls, trait: Trait) -> TraitOut:
        return cls(name=trait.name, value=trait.value, trait_group=trait.group, timestamp=to_wire(trait.updated_ms))


class TraitListOut(Out):
    traits: list[TraitOut]
    meta: MetaOut

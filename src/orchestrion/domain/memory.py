"""The records of the Conversation Memory stand-in: profiles, their traits and what is remembered of them.

A profile belongs to one account; its identifiers (``domain.identity``) find
it, its traits describe it (``group -> name -> value``), and its memories are
observations (facts, ``mem_observation_...``) and conversation summaries
(``mem_summary_...``), both plain text searched by Recall (``domain.recall``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from orchestrion.domain.errors import InvalidInput

MAX_TRAIT_GROUPS = 50
MAX_TRAITS_PER_GROUP = 99
_TRAIT_GROUP = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
_TRAIT_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_.-]{0,63}$")

Traits = dict[str, dict[str, Any]]


@dataclass(frozen=True, slots=True)
class Profile:
    id: str
    account_sid: str
    created_ms: int
    updated_ms: int


@dataclass(frozen=True, slots=True)
class Trait:
    group: str
    name: str
    value: Any  # a string, number, boolean, or a list of these
    updated_ms: int


class MemoryKind(StrEnum):
    OBSERVATION = "observation"
    SUMMARY = "summary"


@dataclass(frozen=True, slots=True)
class Memory:
    """An observation or a conversation summary of a profile."""

    id: str
    profile_id: str
    kind: MemoryKind
    content: str
    source: str | None
    conversation_ids: tuple[str, ...]
    occurred_ms: int
    created_ms: int
    updated_ms: int


def _scalar(value: Any) -> bool:
    return isinstance(value, str | bool | int | float)


def check_traits(traits: Mapping[str, Mapping[str, Any]], *, removals: bool = False) -> None:
    """Trait groups and names well formed, values a scalar or a flat list (None too when ``removals``)."""
    if len(traits) > MAX_TRAIT_GROUPS:
        raise InvalidInput(f"A profile has at most {MAX_TRAIT_GROUPS} trait groups")
    for group, values in traits.items():
        if not _TRAIT_GROUP.match(group):
            raise InvalidInput(f"Invalid trait group {group!r}: 1 to 64 letters, digits, '_', '.' or '-'")
        if len(values) > MAX_TRAITS_PER_GROUP:
            raise InvalidInput(f"Trait group {group} has more than {MAX_TRAITS_PER_GROUP} traits")
        for name, value in values.items():
            if not _TRAIT_NAME.match(name):
                raise InvalidInput(f"Invalid trait name {group}.{name}: a letter, then letters, digits, '_', '.', '-'")
            if value is None and removals:
                continue
            if not (_scalar(value) or (isinstance(value, list) and all(_scalar(v) for v in value))):
                raise InvalidInput(f"Trait {group}.{name} must be a string, number, boolean or a list of these")


def as_traits(rows: list[Trait], groups: frozenset[str] | None = None) -> Traits:
    """Traits as the wire shows them, ``group -> name -> value``, optionally only some groups."""
    out: Traits = {}
    for trait in rows:
        if groups is None or trait.group in groups:
            out.setdefault(trait.group, {})[trait.name] = trait.value
    return out

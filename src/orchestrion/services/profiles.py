"""The profile store: who a customer is, and the Memory API's profiles, identifiers and traits.

Identity has one definition (``resolve``) for every way into the store:
GROUP_BY_PROFILE ingestion and conversation create (``profile_of_address``),
and the Memory API's Lookup and Create. An identifier belongs to one profile
at most; the first of the identifiers given that has a profile names it (the
others, if free, are added to it), else a new profile takes them all. The
identifiers' locks (PostgreSQL; SQLite has one writer) make two concurrent
resolutions of one customer agree on one profile.

A profile lives in the account, not in one Memory Store: every well-formed
``storeId`` of the account reaches the same profiles (docs/memory.md).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import structlog

from orchestrion.domain import ids
from orchestrion.domain.channels import Channel
from orchestrion.domain.errors import Conflict, InvalidInput, NotFound
from orchestrion.domain.grouping import number_forms
from orchestrion.domain.identity import Identifier, identifier_of, normalize, promoted
from orchestrion.domain.memory import Profile, Trait, Traits, as_traits, check_traits
from orchestrion.services.context import Context
from orchestrion.store.paging import Page, PageRequest
from orchestrion.store.store import Tx

log = structlog.get_logger("orchestrion.profiles")

_STORE_ID = re.compile(r"^mem_(store|service)_[0-7][0-9a-z]{25}$")
_PROFILE_ID = re.compile(r"^mem_profile_[0-7][0-9a-z]{25}$")


async def _lock(tx: Tx, account_sid: str, identifiers: Iterable[Identifier]) -> None:
    # Always in one order, so two resolutions never wait on each other crosswise.
    for identifier in sorted(set(identifiers), key=lambda i: (i.id_type, i.value)):
        await tx.grouping.lock(f"identity|{account_sid}|{identifier.id_type}|{identifier.value}")


async def resolve(
    ctx: Context, tx: Tx, account_sid: str, identifiers: Sequence[Identifier], *, create: bool
) -> str | None:
    """The profile of ``identifiers`` (see the module); None when none has one and ``create`` is off."""
    await _lock(tx, account_sid, identifiers)
    found = None
    for identifier in identifiers:
        found = await tx.profiles.owner(account_sid, identifier)
        if found is not None:
            break
    now = ctx.clock.now_ms()
    if found is None:
        if not create:
            return None
        found = ids.new_id(ids.PROFILE)
        await tx.profiles.insert(Profile(found, account_sid, now, now))
        log.info("profile_created", account_sid=account_sid, profile_id=found)
    for identifier in identifiers:
        await tx.profiles.claim(account_sid, identifier, found, now)
    return found


async def profile_of_address(
    ctx: Context, tx: Tx, account_sid: str, channel: Channel, address: str, *, create: bool
) -> str | None:
    """A customer's profile: linked by a participant's profileId, else found by the address's identifier, else new."""
    identifier = identifier_of(channel, address)
    await _lock(tx, account_sid, [identifier])
    explicit = await tx.profiles.linked_by_participant(account_sid, number_forms(channel, address))
    if explicit is not None:
        return explicit
    return await resolve(ctx, tx, account_sid, [identifier], create=create)


# --- The Memory API (/v1/Stores/{storeId}/Profiles...).


def check_store(store_id: str) -> None:
    if not _STORE_ID.match(store_id):
        raise NotFound("Memory Store", store_id)


async def load_profile(tx: Tx, account_sid: str, store_id: str, profile_id: str) -> Profile:
    """The account's profile, or NotFound (a malformed id, another account's profile: the same)."""
    check_store(store_id)
    profile = await tx.profiles.get(account_sid, profile_id) if _PROFILE_ID.match(profile_id) else None
    if profile is None:
        raise NotFound("Profile", profile_id)
    return profile


async def lookup(ctx: Context, account_sid: str, store_id: str, id_type: str, value: str) -> tuple[str, list[str]]:
    """The normalized value, and the profiles holding it (one at most)."""
    check_store(store_id)
    identifier = normalize(id_type, value)
    async with ctx.store.read() as tx:
        owner = await tx.profiles.owner(account_sid, identifier)
    return identifier.value, [] if owner is None else [owner]


async def _set_traits(tx: Tx, profile_id: str, traits: Mapping[str, Mapping[str, Any]], now_ms: int) -> None:
    for group, values in traits.items():
        for name, value in values.items():
            await tx.profiles.set_trait(profile_id, Trait(group, name, value, now_ms))
    await tx.profiles.touch(profile_id, now_ms)


async def create_profile(ctx: Context, account_sid: str, store_id: str, traits: Traits) -> str:
    """Resolve the identity the traits give (their promoted identifiers), then set the traits on that profile."""
    check_store(store_id)
    check_traits(traits)
    identifiers = list(dict.fromkeys(promoted(traits)))
    if not identifiers:
        raise InvalidInput("traits must hold at least one identifier: a trait named phone or email")
    async with ctx.store.write() as tx:
        profile_id = await resolve(ctx, tx, account_sid, identifiers, create=True)
        assert profile_id is not None
        await _set_traits(tx, profile_id, traits, ctx.clock.now_ms())
    return profile_id


async def get_profile(
    ctx: Context, account_sid: str, store_id: str, profile_id: str, groups: frozenset[str] | None = None
) -> tuple[Profile, Traits]:
    async with ctx.store.read() as tx:
        profile = await load_profile(tx, account_sid, store_id, profile_id)
        traits = await tx.profiles.traits(profile.id)
    return profile, as_traits(traits, groups)


async def list_profiles(ctx: Context, account_sid: str, store_id: str, page: PageRequest) -> Page[Profile]:
    check_store(store_id)
    async with ctx.store.read() as tx:
        return await tx.profiles.list(account_sid, page)


async def patch_traits(ctx: Context, account_sid: str, store_id: str, profile_id: str, traits: Traits) -> None:
    """Set the traits given; a null value removes its trait; the others stay. Promoted ones add identifiers."""
    check_traits(traits, removals=True)
    kept = {g: {n: v for n, v in values.items() if v is not None} for g, values in traits.items()}
    async with ctx.store.write() as tx:
        profile = await load_profile(tx, account_sid, store_id, profile_id)
        now = ctx.clock.now_ms()
        for identifier in promoted(kept):
            await _add_identifier(tx, profile, identifier, now)
        await _set_traits(tx, profile.id, traits, now)


async def delete_profile(ctx: Context, account_sid: str, store_id: str, profile_id: str) -> None:
    async with ctx.store.write() as tx:
        profile = await load_profile(tx, account_sid, store_id, profile_id)
        await tx.profiles.delete(account_sid, profile.id)
    log.info("profile_deleted", account_sid=account_sid, profile_id=profile_id)


@dataclass(frozen=True, slots=True)
class IdentifierSet:
    id_type: str
    values: tuple[str, ...]  # oldest first


async def identifiers(ctx: Context, account_sid: str, store_id: str, profile_id: str) -> list[IdentifierSet]:
    async with ctx.store.read() as tx:
        profile = await load_profile(tx, account_sid, store_id, profile_id)
        rows = await tx.profiles.identifiers(profile.id)
    grouped: dict[str, list[str]] = {}
    for identifier, _ in rows:
        grouped.setdefault(identifier.id_type, []).append(identifier.value)
    return [IdentifierSet(t, tuple(v)) for t, v in grouped.items()]


async def identifier_set(ctx: Context, account_sid: str, store_id: str, profile_id: str, id_type: str) -> IdentifierSet:
    for found in await identifiers(ctx, account_sid, store_id, profile_id):
        if found.id_type == id_type:
            return found
    raise NotFound("Identifier", id_type)


async def _add_identifier(tx: Tx, profile: Profile, identifier: Identifier, now_ms: int) -> None:
    await _lock(tx, profile.account_sid, [identifier])
    owner = await tx.profiles.claim(profile.account_sid, identifier, profile.id, now_ms)
    if owner != profile.id:
        raise Conflict(f"Identifier {identifier.id_type} {identifier.value} belongs to profile {owner}", owner)


async def add_identifier(
    ctx: Context, account_sid: str, store_id: str, profile_id: str, id_type: str, value: str
) -> None:
    """Give the profile one more identifier (409 naming the profile that has it already)."""
    identifier = normalize(id_type, value)
    async with ctx.store.write() as tx:
        profile = await load_profile(tx, account_sid, store_id, profile_id)
        now = ctx.clock.now_ms()
        await _add_identifier(tx, profile, identifier, now)
        await tx.profiles.touch(profile.id, now)


async def remove_identifier(
    ctx: Context, account_sid: str, store_id: str, profile_id: str, id_type: str, *, remove_all: bool
) -> None:
    """Remove the identifier type's oldest value (the Memory API's default ``fifo``), or all of them."""
    async with ctx.store.write() as tx:
        profile = await load_profile(tx, account_sid, store_id, profile_id)
        values = [i.value for i, _ in await tx.profiles.identifiers(profile.id) if i.id_type == id_type]
        if not values:
            raise NotFound("Identifier", id_type)
        await tx.profiles.remove_identifiers(profile.id, id_type, values if remove_all else values[:1])
        await tx.profiles.touch(profile.id, ctx.clock.now_ms())


async def traits(
    ctx: Context, account_sid: str, store_id: str, profile_id: str, groups: frozenset[str] | None
) -> list[Trait]:
    """The profile's traits, one by one, by group then name."""
    async with ctx.store.read() as tx:
        profile = await load_profile(tx, account_sid, store_id, profile_id)
        rows = await tx.profiles.traits(profile.id)
    return [t for t in rows if groups is None or t.group in groups]

"""The Conversation Memory stand-in, profiles: /v1/Stores/{storeId}/Profiles[...].

Authenticated like /v2 and scoped to the account (another account's profile
is a 404). Writes that Twilio's Memory API accepts asynchronously (202) are
committed before the 202 here. See docs/memory.md.
"""

from __future__ import annotations

import dataclasses

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from orchestrion.api.context import authenticate, state
from orchestrion.api.jsonio import JSONResponse, read_json
from orchestrion.api.openapi import documented
from orchestrion.api.pagination import descending, page_meta, page_request
from orchestrion.api.schemas.profiles import (
    CreatedProfileOut,
    IdentifierBody,
    IdentifierSetOut,
    IdentifiersOut,
    LookupOut,
    MessageOut,
    ProfileBody,
    ProfileListOut,
    ProfileOut,
    TraitListOut,
    TraitOut,
)
from orchestrion.domain.errors import InvalidInput
from orchestrion.domain.memory import Trait
from orchestrion.services import profiles
from orchestrion.store.paging import slice_page

PROFILES = "/v1/Stores/{storeId}/Profiles"
LOOKUP = PROFILES + "/Lookup"
ONE = PROFILES + "/{profileId}"
IDENTIFIERS = ONE + "/Identifiers"
IDENTIFIER = IDENTIFIERS + "/{idType}"
TRAITS = ONE + "/Traits"
TAG = "Memory"


def _groups(request: Request) -> frozenset[str] | None:
    raw = request.query_params.get("traitGroups")
    if not raw:
        return None
    return frozenset(g.strip() for g in raw.split(",") if g.strip())


def _accepted(message: str) -> Response:
    return JSONResponse(MessageOut(message=message).wire(), status_code=202)


@documented(
    "CreateProfilesLookup", "Find the profiles holding an identifier", body=IdentifierBody, tag=TAG, response=LookupOut
)
async def lookup(request: Request) -> Response:
    account_sid = await authenticate(request)
    body = await read_json(request, IdentifierBody)
    normalized, found = await profiles.lookup(
        state(request).ctx, account_sid, request.path_params["storeId"], body.id_type, body.value
    )
    return JSONResponse(LookupOut(normalized_value=normalized, profiles=found).wire())


@documented(
    "CreateProfile",
    "Resolve or create a profile from its traits",
    body=ProfileBody,
    status=202,
    tag=TAG,
    response=CreatedProfileOut,
)
async def create(request: Request) -> Response:
    account_sid = await authenticate(request)
    body = await read_json(request, ProfileBody)
    profile_id = await profiles.create_profile(
        state(request).ctx, account_sid, request.path_params["storeId"], body.traits
    )
    out = CreatedProfileOut(message="Profile resolved and accepted for processing.", id=profile_id)
    return JSONResponse(out.wire(), status_code=202)


@documented("ListProfiles", "List the profiles, newest first unless orderBy=ASC", tag=TAG, response=ProfileListOut)
async def list_(request: Request) -> Response:
    account_sid = await authenticate(request)
    api = state(request)
    store_id = request.path_params["storeId"]
    newest_first = descending(request)
    scope = f"profiles\x00{account_sid}\x00{newest_first}"
    page = dataclasses.replace(page_request(request, api.tokens, scope), newest_first=newest_first)
    found = await profiles.list_profiles(api.ctx, account_sid, store_id, page)
    meta = page_meta("profiles", found, page.limit, api.tokens, scope, lambda p: p.id)
    return JSONResponse({"profiles": [p.id for p in found.items], "meta": meta})


@documented("FetchProfile", "Fetch a profile with its traits", tag=TAG, response=ProfileOut)
async def fetch(request: Request) -> Response:
    account_sid = await authenticate(request)
    p = request.path_params
    profile, traits = await profiles.get_profile(
        state(request).ctx, account_sid, p["storeId"], p["profileId"], _groups(request)
    )
    return JSONResponse(ProfileOut.of(profile, traits).wire())


@documented(
    "PatchProfileTraits",
    "Set some traits (null removes one)",
    body=ProfileBody,
    status=202,
    tag=TAG,
    response=MessageOut,
)
async def patch(request: Request) -> Response:
    account_sid = await authenticate(request)
    body = await read_json(request, ProfileBody)
    p = request.path_params
    await profiles.patch_traits(state(request).ctx, account_sid, p["storeId"], p["profileId"], body.traits)
    return _accepted("Trait modifications accepted for processing.")


@documented("DeleteProfile", "Delete a profile and all it holds", status=202, tag=TAG, response=MessageOut)
async def delete(request: Request) -> Response:
    account_sid = await authenticate(request)
    p = request.path_params
    await profiles.delete_profile(state(request).ctx, account_sid, p["storeId"], p["profileId"])
    return _accepted("Profile accepted for deletion.")


@documented("ListProfileIdentifiers", "List a profile's identifiers", tag=TAG, response=IdentifiersOut)
async def list_identifiers(request: Request) -> Response:
    account_sid = await authenticate(request)
    p = request.path_params
    found = await profiles.identifiers(state(request).ctx, account_sid, p["storeId"], p["profileId"])
    return JSONResponse(IdentifiersOut(identifiers=[IdentifierSetOut.of(f) for f in found]).wire())


@documented(
    "CreateProfileIdentifier",
    "Add an identifier to a profile",
    body=IdentifierBody,
    status=202,
    tag=TAG,
    response=MessageOut,
)
async def add_identifier(request: Request) -> Response:
    account_sid = await authenticate(request)
    body = await read_json(request, IdentifierBody)
    p = request.path_params
    await profiles.add_identifier(
        state(request).ctx, account_sid, p["storeId"], p["profileId"], body.id_type, body.value
    )
    return _accepted("Identifier accepted for processing.")


@documented("FetchProfileIdentifier", "The values of one identifier type", tag=TAG, response=IdentifierSetOut)
async def fetch_identifier(request: Request) -> Response:
    account_sid = await authenticate(request)
    p = request.path_params
    found = await profiles.identifier_set(state(request).ctx, account_sid, p["storeId"], p["profileId"], p["idType"])
    return JSONResponse(IdentifierSetOut.of(found).wire())


@documented(
    "DeleteProfileIdentifier",
    "Remove an identifier's oldest value (all: removeAll=true)",
    status=202,
    tag=TAG,
    response=MessageOut,
)
async def delete_identifier(request: Request) -> Response:
    account_sid = await authenticate(request)
    p = request.path_params
    raw = (request.query_params.get("removeAll") or "false").lower()
    if raw not in ("true", "false"):
        raise InvalidInput("Invalid parameter removeAll: must be true or false")
    await profiles.remove_identifier(
        state(request).ctx, account_sid, p["storeId"], p["profileId"], p["idType"], remove_all=raw == "true"
    )
    return _accepted("Identifier removal accepted.")


@documented("ListProfileTraits", "A profile's traits one by one", tag=TAG, response=TraitListOut)
async def list_traits(request: Request) -> Response:
    account_sid = await authenticate(request)
    api = state(request)
    p = request.path_params
    newest_first = descending(request)
    groups = _groups(request)
    scope = f"traits\x00{account_sid}\x00{p['profileId']}\x00{newest_first}\x00{','.join(sorted(groups or ()))}"
    page = page_request(request, api.tokens, scope)
    found = await profiles.traits(api.ctx, account_sid, p["storeId"], p["profileId"], groups)
    window = slice_page(found, _trait_key, dataclasses.replace(page, newest_first=newest_first))
    meta = page_meta("traits", window, page.limit, api.tokens, scope, _trait_key)
    return JSONResponse({"traits": [TraitOut.of(t).wire() for t in window.items], "meta": meta})


def _trait_key(trait: Trait) -> str:
    """Traits list by when they were set, then group and name."""
    return f"{trait.updated_ms:015d}\x00{trait.group}\x00{trait.name}"


routes: list[BaseRoute] = [
    Route(LOOKUP, lookup, methods=["POST"]),
    Route(PROFILES, create, methods=["POST"]),
    Route(PROFILES, list_, methods=["GET"]),
    Route(ONE, fetch, methods=["GET"]),
    Route(ONE, patch, methods=["PATCH"]),
    Route(ONE, delete, methods=["DELETE"]),
    Route(IDENTIFIERS, list_identifiers, methods=["GET"]),
    Route(IDENTIFIERS, add_identifier, methods=["POST"]),
    Route(IDENTIFIER, fetch_identifier, methods=["GET"]),
    Route(IDENTIFIER, delete_identifier, methods=["DELETE"]),
    Route(TRAITS, list_traits, methods=["GET"]),
]

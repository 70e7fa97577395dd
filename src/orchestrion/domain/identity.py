"""Identity: which identifiers name a customer, and how their values are written.

A profile of the profile store is found by its identifiers: an ``idType`` and a
normalized value, each owned by at most one profile of the account (the Memory
API's ``enforceUnique``). The same identifiers serve both doors into the
store, so they always agree on who a customer is:

- ingestion (``GROUP_BY_PROFILE``) and conversation create: the customer's
  address gives one identifier (``identifier_of``): a number on SMS, WhatsApp,
  RCS or Voice is ``phone`` (one person whatever the channel), any other
  address is its channel's name in lower case (``chat``...);
- the Memory API: an identifier given as such, or a promoted trait
  (``promoted``): a trait named ``phone`` or ``email``, in any trait group.

Normalization (``normalize``) follows the Memory API's identifier settings:
``phone`` to E.164, ``email`` lower-cased without spaces, anything else trimmed.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from orchestrion.domain.channels import Channel
from orchestrion.domain.errors import InvalidInput
from orchestrion.domain.inbound import bare, on_channel

PHONE = "phone"
EMAIL = "email"
# The channels where an address is a phone number (RCS: when it is one).
PHONE_CHANNELS = (Channel.SMS, Channel.WHATSAPP, Channel.RCS, Channel.VOICE)
# Trait names whose values are also identifiers of the profile (idTypePromotion).
PROMOTED_TRAITS = {PHONE: PHONE, EMAIL: EMAIL}

_ID_TYPE = re.compile(r"^[A-Za-z0-9_.-]{2,30}$")
_E164 = re.compile(r"^\+[1-9][0-9]{1,14}$")
_PHONE_NOISE = re.compile(r"[\s().-]")
MAX_VALUE_LENGTH = 255


@dataclass(frozen=True, slots=True)
class Identifier:
    id_type: str
    value: str


def check_id_type(id_type: str) -> str:
    if not _ID_TYPE.match(id_type):
        raise InvalidInput(f"Invalid idType {id_type!r}: 2 to 30 letters, digits, '_', '.' or '-'")
    return id_type


def _phone(value: str) -> str:
    number = _PHONE_NOISE.sub("", bare(value.strip()))
    if number.startswith("tel:"):
        number = number[4:]
    digits = number.lstrip("+")
    if not digits.isdigit():
        raise InvalidInput(f"{value!r} is not a phone number")
    if not number.startswith("+"):
        # As Twilio's phone normalization does: a national number without country code is a US one.
        digits = "1" + digits if len(digits) == 10 else digits
    normalized = "+" + digits
    if not _E164.match(normalized):
        raise InvalidInput(f"{value!r} is not a phone number in E.164 form")
    return normalized


def normalize(id_type: str, value: str) -> Identifier:
    """The identifier as stored and matched (raises InvalidInput when it cannot be one)."""
    check_id_type(id_type)
    if not value or not value.strip() or len(value) > MAX_VALUE_LENGTH:
        raise InvalidInput(f"An identifier value is 1 to {MAX_VALUE_LENGTH} characters")
    if id_type == PHONE:
        return Identifier(id_type, _phone(value))
    if id_type == EMAIL:
        return Identifier(id_type, "".join(value.split()).lower())
    return Identifier(id_type, value.strip())


def identifier_of(channel: Channel, address: str) -> Identifier:
    """The identifier a customer's address gives (no validation: addresses are checked on their way in)."""
    if channel in PHONE_CHANNELS:
        return Identifier(PHONE, bare(address))
    return Identifier(str(channel).lower(), address)


def addresses_of(identifier: Identifier) -> tuple[tuple[Channel, str], ...]:
    """Every participant address that gives ``identifier``."""
    if identifier.id_type == PHONE:
        return tuple((c, on_channel(c, identifier.value)) for c in PHONE_CHANNELS)
    try:
        channel = Channel(identifier.id_type.upper())
    except ValueError:
        return ()
    return ((channel, identifier.value),)


def promoted(traits: Mapping[str, Mapping[str, Any]]) -> Iterator[Identifier]:
    """The identifiers among ``traits`` (group -> name -> value): promoted trait names, string values."""
    for group in traits.values():
        for name, value in group.items():
            id_type = PROMOTED_TRAITS.get(name)
            if id_type is not None and isinstance(value, str):
                yield normalize(id_type, value)

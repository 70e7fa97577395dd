"""Channels and the address formats each one accepts."""

from __future__ import annotations

import re
from enum import StrEnum

from orchestrion.domain.errors import InvalidInput


class Channel(StrEnum):
    VOICE = "VOICE"
    SMS = "SMS"
    RCS = "RCS"
    WHATSAPP = "WHATSAPP"
    CHAT = "CHAT"
    VIDEO = "VIDEO"


SENDABLE = frozenset({Channel.SMS, Channel.RCS, Channel.WHATSAPP, Channel.CHAT})
SINGLE_RECIPIENT = frozenset({Channel.SMS, Channel.RCS, Channel.WHATSAPP})

_E164 = re.compile(r"^\+[1-9][0-9]{1,14}$")
_RCS = re.compile(r"^rcs:\S+$")
MAX_ADDRESS_LENGTH = 256


def is_e164(number: str) -> bool:
    """A phone number in E.164 form: ``+`` and up to 15 digits."""
    return _E164.match(number) is not None


def validate_address(channel: Channel, address: str) -> str:
    """Return ``address`` if it is well formed for ``channel``, else raise."""
    if not address or len(address) > MAX_ADDRESS_LENGTH:
        raise InvalidInput(f"Address for channel {channel} must be 1 to {MAX_ADDRESS_LENGTH} characters")
    if channel in (Channel.SMS, Channel.VOICE):
        if not _E164.match(address):
            raise InvalidInput(f"Address {address!r} is not an E.164 phone number, as channel {channel} requires")
    elif channel is Channel.WHATSAPP:
        if not address.startswith("whatsapp:") or not _E164.match(address[len("whatsapp:") :]):
            raise InvalidInput(f"Address {address!r} is not of the form whatsapp:+<E.164 number>")
    elif channel is Channel.RCS:
        if not _RCS.match(address):
            raise InvalidInput(f"Address {address!r} is not of the form rcs:<sender or number>")
    elif address != address.strip():
        raise InvalidInput(f"Address {address!r} must not start or end with white space")
    return address

"""SEND_MESSAGE cases that both the service-level and the end-to-end tests check."""

from __future__ import annotations

import itertools
from typing import Any

AGENT = "+14155550100"
CUSTOMER = "+14155550199"


# One sequence per test process: numbers drawn at random from 10,000 met again within a module
# (two tests then saw each other's messages in one inbox: CI, December 2026).
_NUMBERS = itertools.count()


def fresh_number(prefix: str) -> str:
    """A phone number no other call in this process returns: ``prefix`` (8 characters) + 4 digits."""
    n = next(_NUMBERS)
    if n >= 10_000:
        raise RuntimeError("fresh_number ran out of 4-digit suffixes in this process")
    return prefix + str(n).zfill(4)


def sms(address: str) -> dict[str, Any]:
    return {"address": address, "channel": "SMS"}


# Twilio's magic test numbers: (recipient, error code, part of the failure reason).
MAGIC_FAILURES = [
    ("+15005550001", 21211, "The 'To' number +15005550001 is not a valid phone number."),
    ("+15005550002", 21612, "is not currently reachable"),
    ("+15005550003", 21408, "Permission to send an SMS has not been enabled"),
    ("+15005550004", 21610, "unsubscribed recipient"),
    ("+15005550009", 21614, "is not a valid mobile number"),
]

# A request body's ``from``/``to``/``content`` (as ``sender``/``to``/``content``) and what its refusal says.
INVALID_SENDS: list[tuple[dict[str, Any], str]] = [
    ({"to": [{"address": CUSTOMER}]}, "payload.to[0].channel is required"),
    ({"to": [{"channel": "SMS"}]}, "needs a participantId, or an address and a channel"),
    ({"to": [{"address": "whatsapp:+14155550199", "channel": "WHATSAPP"}]}, "one message uses one channel"),
    (
        {"sender": {"address": AGENT, "channel": "VOICE"}, "to": [{"address": CUSTOMER, "channel": "VOICE"}]},
        "VOICE cannot send",
    ),
    (
        {"sender": {"address": "room", "channel": "VIDEO"}, "to": [{"address": "bob", "channel": "VIDEO"}]},
        "VIDEO cannot send",
    ),
    ({"to": [sms(CUSTOMER), sms("+14155550198")]}, "exactly one recipient"),
    ({"to": [sms("0014155550199")]}, "not an E.164 phone number"),
    ({"to": [sms(AGENT)]}, "sender's own address"),
    (
        {"sender": {"address": "bot", "channel": "CHAT"}, "to": [{"address": "a", "channel": "CHAT"}] * 2},
        "listed twice",
    ),
    ({"to": []}, "payload.to"),
    ({"content": {"text": ""}}, "non-empty text or a contentId"),
    ({"content": {"mediaUrls": ["https://example.com/a.jpg"]}}, "non-empty text or a contentId"),
]

# The status-callback events of a conversation (with callbacks, no participants yet) whose
# first Action completes and is delivered, in order.
SENT_MESSAGE_EVENTS = [
    "CONVERSATION_CREATED",
    "PARTICIPANT_ADDED",  # the sender's address, new to the conversation
    "PARTICIPANT_ADDED",  # the recipient's
    "COMMUNICATION_CREATED",
    "ACTION_UPDATED",
    "COMMUNICATION_UPDATED",
]

"""Identifiers: TypeID-style resource ids and Twilio-style SIDs.

Resource ids are ``prefix_`` + 26 lowercase Crockford base32 characters that
encode a UUIDv7 (48-bit millisecond timestamp, then random bits), so they sort
by creation time. Within one process, ids created in the same millisecond
still increase, which keeps keyset pagination stable.
"""

from __future__ import annotations

import re
import secrets
import threading
import time

_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"

CONFIGURATION = "conv_configuration"
CONVERSATION = "conv_conversation"
PARTICIPANT = "conv_participant"
COMMUNICATION = "conv_communication"
ACTION = "conv_action"
OPERATION = "proc_job"
# The Conversation Memory stand-in.
PROFILE = "mem_profile"
OBSERVATION = "mem_observation"
SUMMARY = "mem_summary"

_SUFFIX = re.compile(r"^[0-7][0-9a-hjkmnp-tv-z]{25}$")

_lock = threading.Lock()
_last_ms = 0
_last_rand = 0


def _uuid7_int(now_ms: int | None = None) -> int:
    global _last_ms, _last_rand
    with _lock:
        ms = int(time.time() * 1000) if now_ms is None else now_ms
        if ms <= _last_ms:
            # Same (or earlier, clock stepped back) millisecond: keep increasing.
            ms = _last_ms
            rand = _last_rand + 1 + secrets.randbits(16)
        else:
            rand = secrets.randbits(74) >> 1  # leave headroom for increments
        _last_ms, _last_rand = ms, rand
    rand_a = (rand >> 62) & 0xFFF
    rand_b = rand & ((1 << 62) - 1)
    return (ms << 80) | (0x7 << 76) | (rand_a << 64) | (0b10 << 62) | rand_b


def _encode(value: int) -> str:
    chars = []
    for _ in range(26):
        chars.append(_ALPHABET[value & 31])
        value >>= 5
    return "".join(reversed(chars))


def new_id(prefix: str) -> str:
    """A new time-ordered id with ``prefix``."""
    return f"{prefix}_{_encode(_uuid7_int())}"


def is_id(value: str, prefix: str) -> bool:
    head, sep, tail = value.rpartition("_")
    return bool(sep) and head == prefix and bool(_SUFFIX.match(tail))


def _sid(prefix: str) -> str:
    return prefix + secrets.token_hex(16)


def new_account_sid() -> str:
    return _sid("AC")


def new_api_key_sid() -> str:
    return _sid("SK")


def new_message_sid() -> str:
    return _sid("SM")


def new_execution_sid() -> str:
    """A Studio Execution SID: ``FN`` + 32 hex, time-ordered like resource ids (so lists sort by creation)."""
    return f"FN{_uuid7_int():032x}"


def new_secret() -> str:
    """A 32 hex-character secret, the shape of a Twilio auth token."""
    return secrets.token_hex(16)


_SID = re.compile(r"^[A-Z]{2}[0-9a-f]{32}$")


def is_sid(value: str, prefix: str) -> bool:
    return value.startswith(prefix) and bool(_SID.match(value))

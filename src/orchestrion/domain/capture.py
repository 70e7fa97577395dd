"""Capture rules: which configuration, if any, takes in a message.

A configuration's ``channelSettings.<CHANNEL>.captureRules`` is a list of
``{"from", "to", "metadata"?}``. A rule matches a message on its channel when
``from`` is ``*`` or the message's sender, ``to`` is ``*`` or its recipient
(an address matches with or without its ``whatsapp:``/``rcs:`` prefix), and
every ``metadata`` entry of the rule is in the message's metadata.

When rules of several configurations match one message, the most specific
rule wins: two addresses beat one address and a wildcard, which beat two
wildcards; then more metadata entries win. Equally specific rules of two
configurations: the configuration created first (lowest id) wins. A message
no rule matches is not captured.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from orchestrion.domain.channels import Channel
from orchestrion.domain.inbound import bare

WILDCARD = "*"


@dataclass(frozen=True, slots=True)
class CaptureRule:
    from_address: str
    to_address: str
    metadata: Mapping[str, str] = field(default_factory=dict)


def rules_of(settings: Mapping[str, Any], channel: Channel) -> list[CaptureRule]:
    """The capture rules of one channel in a configuration's settings (malformed entries skipped)."""
    channels = settings.get("channelSettings")
    if not isinstance(channels, Mapping):
        return []
    channel_settings = channels.get(str(channel))
    if not isinstance(channel_settings, Mapping):
        return []
    out: list[CaptureRule] = []
    for raw in channel_settings.get("captureRules") or []:
        if not isinstance(raw, Mapping):
            continue
        sender, recipient = raw.get("from"), raw.get("to")
        if not isinstance(sender, str) or not isinstance(recipient, str):
            continue
        metadata = raw.get("metadata") or {}
        out.append(CaptureRule(sender, recipient, {str(k): str(v) for k, v in dict(metadata).items()}))
    return out


def _address_matches(rule: str, address: str) -> bool:
    return rule in (WILDCARD, address) or bare(rule) == bare(address)


def specificity(rule: CaptureRule, from_address: str, to_address: str, metadata: Mapping[str, str]) -> int | None:
    """How specific the rule is if it matches (higher is more), or None when it does not match."""
    if not (_address_matches(rule.from_address, from_address) and _address_matches(rule.to_address, to_address)):
        return None
    if any(metadata.get(key) != value for key, value in rule.metadata.items()):
        return None
    addresses = (rule.from_address != WILDCARD) + (rule.to_address != WILDCARD)
    return addresses * 1000 + len(rule.metadata)


def best_match(
    rules: Iterable[CaptureRule], from_address: str, to_address: str, metadata: Mapping[str, str]
) -> int | None:
    scores = [s for r in rules if (s := specificity(r, from_address, to_address, metadata)) is not None]
    return max(scores) if scores else None


def choose(candidates: Iterable[tuple[str, int]]) -> str | None:
    """The configuration id that captures a message, from ``(configuration id, best match)`` pairs."""
    ranked = sorted(candidates, key=lambda c: (-c[1], c[0]))
    return ranked[0][0] if ranked else None

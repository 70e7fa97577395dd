"""Grouping: which conversation a captured message belongs to.

A conversation's group is given by its configuration's
``conversationGroupingType`` and the two addresses of a message (the
customer's and the agent's):

- ``GROUP_BY_PARTICIPANT_ADDRESSES_AND_CHANNEL_TYPE``: the same two addresses
  on the same channel.
- ``GROUP_BY_PARTICIPANT_ADDRESSES``: the same two numbers on SMS, WhatsApp
  or RCS (``+1...``, ``whatsapp:+1...`` and ``rcs:+1...`` are one number).
- ``GROUP_BY_PROFILE``: the customer's profile (the built-in profile store),
  whatever the address or channel: the profile a participant with a
  ``profileId`` links the address to (the newest such participant of the
  account, looking at every form of the number), else the profile the address
  was given before, else a new ``mem_profile_...`` one.

A message joins the newest ACTIVE or INACTIVE conversation of its
configuration whose participants hold both addresses (in the forms above),
or by profile, one with a participant of that profile; with none, it starts a
new conversation.
"""

from __future__ import annotations

from dataclasses import dataclass

from orchestrion.domain.channels import Channel
from orchestrion.domain.inbound import bare, on_channel

BY_ADDRESSES = "GROUP_BY_PARTICIPANT_ADDRESSES"
BY_ADDRESSES_AND_CHANNEL = "GROUP_BY_PARTICIPANT_ADDRESSES_AND_CHANNEL_TYPE"
BY_PROFILE = "GROUP_BY_PROFILE"

# The channels on which one phone number is the same person.
NUMBER_CHANNELS = (Channel.SMS, Channel.WHATSAPP, Channel.RCS)


@dataclass(frozen=True, slots=True)
class GroupQuery:
    """Find a conversation with a participant at one of ``customer`` and one at one of ``agent``."""

    customer: tuple[tuple[Channel, str], ...]
    agent: tuple[tuple[Channel, str], ...]


def _forms(channel: Channel, address: str, across_channels: bool) -> tuple[tuple[Channel, str], ...]:
    if not across_channels or channel not in NUMBER_CHANNELS:
        return ((channel, address),)
    number = bare(address)
    return tuple((c, on_channel(c, number)) for c in NUMBER_CHANNELS)


def address_forms(address: str) -> tuple[str, ...]:
    """``address`` and, for a phone number, the same number on each number channel (for searching)."""
    number = bare(address)
    if not number.startswith("+"):
        return (address,)
    return tuple(dict.fromkeys((address, *(on_channel(c, number) for c in NUMBER_CHANNELS))))


def group_query(grouping_type: str, channel: Channel, customer: str, agent: str) -> GroupQuery:
    across = grouping_type != BY_ADDRESSES_AND_CHANNEL
    return GroupQuery(_forms(channel, customer, across), _forms(channel, agent, across))


PROFILE_ID = "mem_profile"


def profile_key(channel: Channel, address: str) -> str:
    """What a profile is linked to: the bare number on SMS, WhatsApp and RCS (one person), else the address."""
    return bare(address) if channel in NUMBER_CHANNELS else f"{channel}:{address}"

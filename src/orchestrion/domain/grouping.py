"""Grouping: when two things belong to the same conversation.

One definition serves both ways into a conversation: a captured message joins
the conversation of its group (ingestion), and ``POST /v2/Conversations``
whose participants already form an open conversation of the configuration is
refused with a 409 naming it (conversation create). A group is given by the
configuration's ``conversationGroupingType``:

- ``GROUP_BY_PARTICIPANT_ADDRESSES_AND_CHANNEL_TYPE``: the same addresses on
  the same channel.
- ``GROUP_BY_PARTICIPANT_ADDRESSES``: the same numbers on SMS, WhatsApp or RCS
  (``+1...``, ``whatsapp:+1...`` and ``rcs:+1...`` are one number).
- ``GROUP_BY_PROFILE``: the customer's profile (the built-in profile store),
  whatever the address or channel (see ``domain.identity``).

By addresses, a group has one side per participant (for a message: the
customer and the agent), each side the forms of that participant's addresses;
a conversation is of the group when, for every side, one of its participants
holds one of the side's forms. It takes two sides to make a group. By
profile, a conversation is of the group when one of its participants has the
profile. Either way only ACTIVE and INACTIVE conversations of the same
configuration count, the newest first.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from orchestrion.domain.channels import Channel
from orchestrion.domain.inbound import bare, on_channel

BY_ADDRESSES = "GROUP_BY_PARTICIPANT_ADDRESSES"
BY_ADDRESSES_AND_CHANNEL = "GROUP_BY_PARTICIPANT_ADDRESSES_AND_CHANNEL_TYPE"
BY_PROFILE = "GROUP_BY_PROFILE"

# The channels on which one phone number is the same person.
NUMBER_CHANNELS = (Channel.SMS, Channel.WHATSAPP, Channel.RCS)

Form = tuple[Channel, str]


@dataclass(frozen=True, slots=True)
class GroupQuery:
    """Conversations holding, for each side, a participant at one of its forms."""

    sides: tuple[tuple[Form, ...], ...]

    @property
    def customer(self) -> tuple[Form, ...]:
        return self.sides[0]

    @property
    def agent(self) -> tuple[Form, ...]:
        return self.sides[1]

    def lock_key(self, configuration_id: str) -> str:
        """What serializes the searches of one group, whatever the order its sides came in."""
        sides = sorted(",".join(sorted(a for _, a in side)) for side in self.sides)
        return "|".join([configuration_id, *sides])


def number_forms(channel: Channel, address: str, across_channels: bool = True) -> tuple[Form, ...]:
    """The forms of an address that stand for the same person (only itself unless ``across_channels``)."""
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


def participants_group(grouping_type: str, participants: Iterable[Iterable[Form]]) -> GroupQuery | None:
    """The address group of participants given by their addresses (None: fewer than two have any)."""
    across = grouping_type != BY_ADDRESSES_AND_CHANNEL
    sides: list[tuple[Form, ...]] = []
    for addresses in participants:
        side = dict.fromkeys(form for c, a in addresses for form in number_forms(c, a, across))
        if side:
            sides.append(tuple(side))
    return GroupQuery(tuple(sides)) if len(sides) >= 2 else None


def group_query(grouping_type: str, channel: Channel, customer: str, agent: str) -> GroupQuery:
    """The address group of a message between ``customer`` and ``agent``."""
    query = participants_group(grouping_type, [[(channel, customer)], [(channel, agent)]])
    assert query is not None  # two sides, each with an address
    return query


def lock_key_of_profile(configuration_id: str, profile_id: str) -> str:
    return f"{configuration_id}|{profile_id}"

"""SEND_MESSAGE: what a send request says, and the rules it must satisfy.

Pure functions over plain records. The services resolve participants from the
store and hand them here; the resolved request (``SendRequest``) is what an
Action carries to the dispatcher, as JSON in ``Action.request``.

Resolution modes for ``from`` and each ``to`` entry:

1. ``participantId`` + ``channel``: that participant's address on the channel.
2. ``participantId`` alone: the participant's only address.
3. ``address`` + ``channel``: the participant owning the address in the
   conversation, or a new participant created for it (the services do that).

``participantId`` with an ``address`` (and optionally a ``channel``) is
accepted too: the address must be one of the participant's.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from orchestrion.domain.channels import SENDABLE, SINGLE_RECIPIENT, Channel, validate_address
from orchestrion.domain.errors import InvalidInput
from orchestrion.domain.models import Address, Json, Participant

ACTION_TYPE = "SEND_MESSAGE"
MAX_CHAT_RECIPIENTS = 100

# Participant types given to participants created for an unknown address: the
# sender speaks for the business, the recipients are its customers.
SENDER_TYPE = "AGENT"
RECIPIENT_TYPE = "CUSTOMER"


@dataclass(frozen=True, slots=True)
class EndpointRef:
    """One side of a message as the request names it; any field may be absent."""

    participant_id: str | None = None
    address: str | None = None
    channel: Channel | None = None


@dataclass(frozen=True, slots=True)
class MessageContent:
    text: str | None = None
    content_id: str | None = None
    variables: Mapping[str, str] | None = None
    media_urls: tuple[str, ...] | None = None

    def to_json(self) -> Json:
        out: Json = {}
        if self.text is not None:
            out["text"] = self.text
        if self.content_id is not None:
            out["contentId"] = self.content_id
        if self.variables is not None:
            out["variables"] = dict(self.variables)
        if self.media_urls is not None:
            out["mediaUrls"] = list(self.media_urls)
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> MessageContent:
        media = data.get("mediaUrls")
        return cls(
            text=data.get("text"),
            content_id=data.get("contentId"),
            variables=data.get("variables"),
            media_urls=None if media is None else tuple(media),
        )


@dataclass(frozen=True, slots=True)
class SendMessageCommand:
    """A validated-for-shape SEND_MESSAGE request, before address resolution."""

    sender: EndpointRef
    to: tuple[EndpointRef, ...]
    content: MessageContent
    channel_settings: Json | None = None


@dataclass(frozen=True, slots=True)
class ResolvedEndpoint:
    address: str
    participant_id: str


@dataclass(frozen=True, slots=True)
class SendRequest:
    """The resolved send, stored with the Action and read by the dispatcher."""

    channel: Channel
    sender: ResolvedEndpoint
    to: tuple[ResolvedEndpoint, ...]
    content: MessageContent
    channel_settings: Json | None = None

    def to_json(self) -> Json:
        out: Json = {
            "channel": str(self.channel),
            "from": {"address": self.sender.address, "participantId": self.sender.participant_id},
            "to": [{"address": t.address, "participantId": t.participant_id} for t in self.to],
            "content": self.content.to_json(),
        }
        if self.channel_settings is not None:
            out["channelSettings"] = self.channel_settings
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> SendRequest:
        return cls(
            channel=Channel(data["channel"]),
            sender=ResolvedEndpoint(data["from"]["address"], data["from"]["participantId"]),
            to=tuple(ResolvedEndpoint(t["address"], t["participantId"]) for t in data["to"]),
            content=MessageContent.from_json(data["content"]),
            channel_settings=data.get("channelSettings"),
        )


def check_content(content: MessageContent) -> None:
    """A message says something: a non-empty text, or a content template."""
    if not content.text and not content.content_id:
        raise InvalidInput("payload.content needs a non-empty text or a contentId")


def check_command(command: SendMessageCommand) -> None:
    """The rules that need no participant data."""
    check_content(command.content)
    if not command.to:
        raise InvalidInput("payload.to needs at least one recipient")
    for where, ref in endpoint_refs(command):
        check_ref(ref, where)


def endpoint_refs(command: SendMessageCommand) -> list[tuple[str, EndpointRef]]:
    """Every endpoint with the name an error message uses for it."""
    return [("payload.from", command.sender), *((f"payload.to[{i}]", ref) for i, ref in enumerate(command.to))]


def check_ref(ref: EndpointRef, where: str) -> None:
    if ref.participant_id is None:
        if ref.address is None:
            raise InvalidInput(f"{where} needs a participantId, or an address and a channel")
        if ref.channel is None:
            raise InvalidInput(f"{where}.channel is required with an address")
    if ref.channel is not None:
        check_can_send(ref.channel, where)
    if ref.address is not None and ref.channel is not None:
        validate_address(ref.channel, ref.address)


def check_can_send(channel: Channel, where: str = "payload") -> None:
    if channel not in SENDABLE:
        raise InvalidInput(f"{where}: channel {channel} cannot send messages (sendable: {', '.join(sorted(SENDABLE))})")


def pick_address(participant: Participant, ref: EndpointRef, where: str) -> Address:
    """The one address of ``participant`` that ``ref`` designates, else a clear 400."""
    candidates = [
        a
        for a in participant.addresses
        if (ref.channel is None or a.channel is ref.channel) and (ref.address is None or a.address == ref.address)
    ]
    if len(candidates) == 1:
        return candidates[0]
    who = f"participant {participant.id}"
    if candidates:
        channels = sorted({str(a.channel) for a in candidates})
        hint = "give a channel" if ref.channel is None else "give the address"
        raise InvalidInput(
            f"{where}: {who} has {len(candidates)} addresses ({', '.join(channels)}); {hint} to choose one"
        )
    if not participant.addresses:
        raise InvalidInput(f"{where}: {who} has no address to send with")
    if ref.address is not None:
        on = f" on channel {ref.channel}" if ref.channel is not None else ""
        raise InvalidInput(f"{where}: address {ref.address}{on} does not belong to {who}")
    raise InvalidInput(f"{where}: {who} has no address on channel {ref.channel}")


def resolved_channel(channels: Sequence[tuple[str, Channel]]) -> Channel:
    """The one channel every endpoint uses; a 400 naming the first that differs."""
    first_where, channel = channels[0]
    for where, other in channels[1:]:
        if other is not channel:
            raise InvalidInput(
                f"{where} is on channel {other} but {first_where} is on {channel}: one message uses one channel"
            )
    check_can_send(channel)
    return channel


def check_recipients(channel: Channel, sender_address: str, to_addresses: Sequence[str]) -> None:
    """How many recipients the channel allows; none twice, none the sender."""
    if channel in SINGLE_RECIPIENT and len(to_addresses) != 1:
        raise InvalidInput(f"A {channel} message has exactly one recipient in payload.to, got {len(to_addresses)}")
    if len(to_addresses) > MAX_CHAT_RECIPIENTS:
        raise InvalidInput(f"A message has at most {MAX_CHAT_RECIPIENTS} recipients, got {len(to_addresses)}")
    seen: set[str] = set()
    for i, address in enumerate(to_addresses):
        if address == sender_address:
            raise InvalidInput(f"payload.to[{i}] is the sender's own address {sender_address}")
        if address in seen:
            raise InvalidInput(f"payload.to[{i}]: recipient {address} is listed twice")
        seen.add(address)


def communication_text(content: MessageContent) -> str:
    """The text recorded in the Communication for what was sent.

    The text itself when there is one; for a template sent without text, a
    rendering that names the template and its variables, e.g.
    ``[template HX123… {"name":"Alice"}]`` (templates are not expanded here).
    """
    if content.text:
        return content.text
    rendered = f"[template {content.content_id}"
    if content.variables:
        rendered += " " + json.dumps(dict(sorted(content.variables.items())), separators=(",", ":"), ensure_ascii=False)
    return rendered + "]"

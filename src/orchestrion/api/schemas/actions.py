"""Request bodies of /v2/Conversations/{ConversationId}/Actions.

The body is read in two passes: ``ActionEnvelope`` (the ``type`` and a raw
``payload``), then, once the type is known to be SEND_MESSAGE,
``SendMessageBody``, so that an unsupported type is reported as such rather
than as a payload of the wrong shape. Shape is checked here; the rules of
sending (which channel, how many recipients, address formats, resolution)
live in ``domain.sending``.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import AfterValidator, Field, StringConstraints

from orchestrion.api.schemas.common import LongText, StrictWire, Wire, missing
from orchestrion.domain.channels import Channel
from orchestrion.domain.sending import EndpointRef, MessageContent, SendMessageCommand

MAX_RECIPIENTS = 100
MAX_MEDIA = 10
MAX_VARIABLES = 100


def _absolute_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc or any(c.isspace() for c in value):
        raise ValueError(f"{value!r} is not an absolute http(s) URL")
    return value


MediaUrl = Annotated[str, StringConstraints(min_length=1, max_length=2048), AfterValidator(_absolute_url)]
Identifier = Annotated[str, StringConstraints(min_length=1, max_length=64)]
VariableName = Annotated[str, StringConstraints(min_length=1, max_length=256)]
VariableValue = Annotated[str, StringConstraints(max_length=4096)]


class ActionEnvelope(Wire):
    type: str | None = None
    payload: dict[str, Any] | None = None


class EndpointIn(Wire):
    participant_id: Identifier | None = None
    address: Annotated[str, StringConstraints(min_length=1, max_length=256)] | None = None
    channel: Channel | None = None

    def to_ref(self) -> EndpointRef:
        return EndpointRef(participant_id=self.participant_id, address=self.address, channel=self.channel)


class ContentIn(StrictWire):
    """No unknown keys: a misspelt field must not silently send an empty message."""

    text: LongText | None = None
    content_id: Identifier | None = None
    variables: Annotated[dict[VariableName, VariableValue], Field(max_length=MAX_VARIABLES)] | None = None
    media_urls: Annotated[list[MediaUrl], Field(max_length=MAX_MEDIA)] | None = None

    def to_content(self) -> MessageContent:
        return MessageContent(
            text=self.text,
            content_id=self.content_id,
            variables=self.variables,
            media_urls=None if self.media_urls is None else tuple(self.media_urls),
        )


class SendMessagePayload(Wire):
    sender: EndpointIn | None = Field(default=None, alias="from")
    to: Annotated[list[EndpointIn], Field(max_length=MAX_RECIPIENTS)] | None = None
    content: ContentIn | None = None
    # Forwarded untouched to the channel provider.
    channel_settings: dict[str, Any] | None = None


class SendMessageBody(Wire):
    type: str
    payload: SendMessagePayload

    def to_command(self) -> SendMessageCommand:
        """The command; a missing ``from``/``to``/``content`` reads as a missing parameter."""
        p = self.payload
        absent = [
            name
            for name, value in (("payload.from", p.sender), ("payload.to", p.to), ("payload.content", p.content))
            if not value
        ]
        if absent:
            raise missing(absent)
        assert p.sender is not None and p.to and p.content is not None
        return SendMessageCommand(
            sender=p.sender.to_ref(),
            to=tuple(t.to_ref() for t in p.to),
            content=p.content.to_content(),
            channel_settings=p.channel_settings,
        )

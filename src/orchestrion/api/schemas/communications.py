"""Communication request bodies."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, StringConstraints

from orchestrion.api.schemas.common import ShortText
from orchestrion.api.schemas.participants import Body
from orchestrion.domain.channels import Channel
from orchestrion.domain.clock import from_wire, to_wire
from orchestrion.domain.models import Endpoint, Json
from orchestrion.services.communications import NewCommunication

MAX_TEXT = 65_536
MAX_RECIPIENTS = 100
MAX_WORDS = 10_000
_LATEST_MS = from_wire("9999-12-31T23:59:59Z")


def _timestamp_ms(value: str) -> int:
    try:
        ms = from_wire(value)
    except (ValueError, OverflowError) as error:
        raise ValueError("must be an RFC 3339 timestamp with a time zone, e.g. 2026-03-30T10:30:00Z") from error
    if not 0 <= ms <= _LATEST_MS:
        raise ValueError("must be from 1970-01-01T00:00:00Z to 9999-12-31T23:59:59Z")
    return ms


def _checked_timestamp(value: str) -> str:
    _timestamp_ms(value)
    return value


def _wire_timestamp(value: str) -> str:
    # Stored as the API renders every time: UTC, whole seconds.
    return to_wire(_timestamp_ms(value))


Timestamp = Annotated[str, StringConstraints(max_length=64), AfterValidator(_wire_timestamp)]
Text = Annotated[str, StringConstraints(max_length=MAX_TEXT)]


class DeliveryStatus(StrEnum):
    INITIATED = "INITIATED"
    IN_PROGRESS = "IN_PROGRESS"
    DELIVERED = "DELIVERED"
    READ = "READ"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"


class EndpointBody(Body):
    address: Annotated[str, StringConstraints(min_length=1, max_length=256)]
    channel: Channel
    participant_id: Annotated[str, StringConstraints(min_length=1, max_length=64)] | None = None

    def endpoint(self) -> Endpoint:
        return Endpoint(address=self.address, channel=self.channel, participant_id=self.participant_id)


class RecipientBody(EndpointBody):
    delivery_status: DeliveryStatus | None = None

    def endpoint(self) -> Endpoint:
        return Endpoint(
            address=self.address,
            channel=self.channel,
            participant_id=self.participant_id,
            delivery_status=None if self.delivery_status is None else str(self.delivery_status),
        )


class TextContentBody(Body):
    type: Literal["TEXT"]
    text: Text


class WordBody(Body):
    text: Annotated[str, StringConstraints(max_length=1024)]
    start_time: Timestamp | None = None
    end_time: Timestamp | None = None


class TranscriptionBody(Body):
    channel: Annotated[int, Field(strict=True, ge=0, le=255)] | None = None
    confidence: Annotated[float, Field(strict=True, ge=0.0, le=1.0, allow_inf_nan=False)] | None = None
    engine: ShortText | None = None
    words: Annotated[list[WordBody], Field(max_length=MAX_WORDS)] | None = None


class TranscriptionContentBody(Body):
    type: Literal["TRANSCRIPTION"]
    text: Text
    transcription: TranscriptionBody | None = None


class CreateCommunicationBody(Body):
    author: EndpointBody
    content: Annotated[TextContentBody | TranscriptionContentBody, Field(discriminator="type")]
    recipients: Annotated[list[RecipientBody], Field(min_length=1, max_length=MAX_RECIPIENTS)]
    channel_id: Annotated[str, StringConstraints(min_length=1, max_length=128)] | None = None
    resource_id: Annotated[str, StringConstraints(min_length=1, max_length=256)] | None = None
    occurred_at: Annotated[str, StringConstraints(max_length=64), AfterValidator(_checked_timestamp)] | None = None

    def to_new(self) -> NewCommunication:
        content: Json = self.content.model_dump(mode="json", by_alias=True, exclude_none=True)
        return NewCommunication(
            author=self.author.endpoint(),
            content=content,
            recipients=tuple(r.endpoint() for r in self.recipients),
            channel_id=self.channel_id,
            resource_id=self.resource_id,
            occurred_ms=None if self.occurred_at is None else _timestamp_ms(self.occurred_at),
        )

"""Memory API bodies: observations, conversation summaries and Recall (requests and responses)."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, Field, StringConstraints

from orchestrion.api.schemas.common import Out
from orchestrion.api.schemas.participants import Body
from orchestrion.api.schemas.profiles import MetaOut
from orchestrion.domain.clock import from_wire, to_wire
from orchestrion.domain.memory import Memory
from orchestrion.domain.models import Communication, Endpoint, Participant
from orchestrion.domain.recall import Hit
from orchestrion.services.memories import MemoryChange, NewMemory
from orchestrion.services.recall import Recalled, RecallRequest
from orchestrion.wire.participants import display_name


def _timestamp(value: str) -> str:
    try:
        from_wire(value)
    except ValueError as error:
        raise ValueError("must be an RFC 3339 date-time with a time zone, such as 2025-01-15T10:15:30Z") from error
    return value


def _ms(value: str | None) -> int | None:
    return None if value is None else from_wire(value)


Timestamp = Annotated[str, StringConstraints(max_length=40), AfterValidator(_timestamp)]
Content = Annotated[str, StringConstraints(min_length=1, max_length=4096)]
Source = Annotated[str, StringConstraints(min_length=1, max_length=100, pattern=r"^[a-zA-Z0-9 _.-]+$")]
ConversationId = Annotated[str, StringConstraints(pattern=r"^conv_conversation_[0-7][0-9a-z]{25}$")]
ConversationIds = Annotated[list[ConversationId], Field(max_length=10)]
Limit = Annotated[int, Field(ge=0, le=100)]


class ObservationBody(Body):
    content: Content
    source: Source
    occurred_at: Timestamp
    conversation_ids: ConversationIds | None = None

    def new(self) -> NewMemory:
        return NewMemory(self.content, self.source, _ms(self.occurred_at), tuple(self.conversation_ids or ()))


class CreateObservationsBody(Body):
    observations: Annotated[list[ObservationBody], Field(min_length=1, max_length=10)]


class SummaryBody(Body):
    content: Content
    conversation_id: ConversationId
    occurred_at: Timestamp
    source: Source | None = None

    def new(self) -> NewMemory:
        return NewMemory(self.content, self.source, _ms(self.occurred_at), (self.conversation_id,))


class CreateSummariesBody(Body):
    summaries: Annotated[list[SummaryBody], Field(min_length=1, max_length=10)]


class PatchMemoryBody(Body):
    """PATCH an observation or a summary: only what is given changes."""

    content: Content | None = None
    source: Source | None = None
    occurred_at: Timestamp | None = None
    conversation_ids: ConversationIds | None = None
    conversation_id: ConversationId | None = None

    def change(self) -> MemoryChange:
        ids = self.conversation_ids if self.conversation_id is None else [self.conversation_id]
        return MemoryChange(self.content, self.source, _ms(self.occurred_at), None if ids is None else tuple(ids))


class RecallBody(Body):
    conversation_id: ConversationId | None = None
    query: Annotated[str, StringConstraints(max_length=1024)] | None = None
    begin_date: Timestamp | None = None
    end_date: Timestamp | None = None
    observations_limit: Limit = 20
    summaries_limit: Limit = 5
    communications_limit: Limit = 0
    relevance_threshold: Annotated[float, Field(ge=0, le=1)] = 0.0

    def request(self) -> RecallRequest:
        return RecallRequest(
            conversation_id=self.conversation_id,
            query=self.query,
            begin_ms=_ms(self.begin_date),
            end_ms=_ms(self.end_date),
            observations_limit=self.observations_limit,
            summaries_limit=self.summaries_limit,
            communications_limit=self.communications_limit,
            relevance_threshold=self.relevance_threshold,
        )


class ObservationOut(Out):
    id: str
    content: str
    source: str | None = None
    occurred_at: str
    conversation_ids: list[str] | None = None
    created_at: str
    updated_at: str
    score: float | None = None

    @classmethod
    def of(cls, m: Memory, score: float | None = None) -> ObservationOut:
        return cls(
            id=m.id,
            content=m.content,
            source=m.source,
            occurred_at=to_wire(m.occurred_ms),
            conversation_ids=list(m.conversation_ids) or None,
            created_at=to_wire(m.created_ms),
            updated_at=to_wire(m.updated_ms),
            score=score,
        )


class SummaryOut(Out):
    id: str
    content: str
    source: str | None = None
    occurred_at: str
    conversation_id: str | None = None
    created_at: str
    updated_at: str
    score: float | None = None

    @classmethod
    def of(cls, m: Memory, score: float | None = None) -> SummaryOut:
        return cls(
            id=m.id,
            content=m.content,
            source=m.source,
            occurred_at=to_wire(m.occurred_ms),
            conversation_id=m.conversation_ids[0] if m.conversation_ids else None,
            created_at=to_wire(m.created_ms),
            updated_at=to_wire(m.updated_ms),
            score=score,
        )


class ObservationListOut(Out):
    observations: list[ObservationOut]
    meta: MetaOut


class SummaryListOut(Out):
    summaries: list[SummaryOut]
    meta: MetaOut


class MemoryParticipantOut(Out):
    """A communication's author or recipient as Memory shows it: the participant's name, type and profile."""

    id: str | None = None  # absent when no participant holds the address
    name: str
    address: str
    channel: str
    type: str | None = None
    profile_id: str | None = None
    delivery_status: str | None = None

    @classmethod
    def of(cls, endpoint: Endpoint, participants: dict[str, Participant]) -> MemoryParticipantOut:
        found = participants.get(endpoint.participant_id or "")
        return cls(
            id=endpoint.participant_id,
            name=endpoint.address if found is None else display_name(found),
            address=endpoint.address,
            channel=str(endpoint.channel),
            type=None if found is None else found.type,
            profile_id=None if found is None else found.profile_id,
            delivery_status=endpoint.delivery_status,
        )


class MemoryContentOut(Out):
    text: str | None = None


class MemoryCommunicationOut(Out):
    id: str
    author: MemoryParticipantOut
    content: MemoryContentOut
    recipients: list[MemoryParticipantOut]
    channel_id: str | None = None
    created_at: str
    updated_at: str

    @classmethod
    def of(cls, c: Communication, participants: dict[str, Participant]) -> MemoryCommunicationOut:
        text = c.content.get("text")
        return cls(
            id=c.id,
            author=MemoryParticipantOut.of(c.author, participants),
            content=MemoryContentOut(text=text if isinstance(text, str) else None),
            recipients=[MemoryParticipantOut.of(r, participants) for r in c.recipients],
            channel_id=c.channel_id,
            created_at=to_wire(c.created_ms),
            updated_at=to_wire(c.updated_ms),
        )


class RecallMetaOut(Out):
    query_time: int


class RecallOut(Out):
    observations: list[ObservationOut]
    summaries: list[SummaryOut]
    communications: list[MemoryCommunicationOut]
    meta: RecallMetaOut

    @classmethod
    def of(cls, r: Recalled) -> RecallOut:
        def scored(hits: list[Hit[Memory]]) -> list[tuple[Memory, float | None]]:
            return [(h.item, h.score) for h in hits]

        return cls(
            observations=[ObservationOut.of(m, s) for m, s in scored(r.observations)],
            summaries=[SummaryOut.of(m, s) for m, s in scored(r.summaries)],
            communications=[MemoryCommunicationOut.of(h.item, r.participants) for h in r.communications],
            meta=RecallMetaOut(query_time=r.query_ms),
        )

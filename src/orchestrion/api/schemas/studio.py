"""Studio API bodies: Flow Executions (form-encoded requests, snake_case responses, as Twilio's Studio v2)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from orchestrion.api.schemas.common import Out
from orchestrion.domain.clock import to_wire
from orchestrion.domain.models import Json
from orchestrion.domain.studio import Execution, status_at, updated_at
from orchestrion.services.studio import NewExecution

Address = Annotated[str, StringConstraints(min_length=1, max_length=256)]


class Form(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="ignore", frozen=True)


class CreateExecutionForm(Form):
    to: Address = Field(alias="To")
    from_: Address = Field(alias="From")
    parameters: Json | None = Field(default=None, alias="Parameters")

    @field_validator("parameters", mode="before")
    @classmethod
    def _json_object(cls, value: Any) -> Any:
        if value is None or value == "":
            return None
        try:
            parsed = orjson.loads(value) if isinstance(value, str) else value
        except orjson.JSONDecodeError as error:
            raise ValueError("must be a JSON object, given as a string") from error
        if not isinstance(parsed, dict):
            raise ValueError("must be a JSON object, given as a string")
        return parsed

    def new(self) -> NewExecution:
        return NewExecution(self.to, self.from_, self.parameters)


class UpdateExecutionForm(Form):
    status: Literal["active", "ended"] = Field(alias="Status")


class ExecutionOut(BaseModel):
    sid: str
    account_sid: str
    flow_sid: str
    contact_sid: str | None
    contact_channel_address: str
    flow_version: int | None
    context: dict[str, Any]
    status: str
    date_created: str
    date_updated: str
    initiated_by: str | None
    url: str
    links: dict[str, str]

    @classmethod
    def of(cls, e: Execution, now_ms: int, base_url: str) -> ExecutionOut:
        url = f"{base_url}/v2/Flows/{e.flow_sid}/Executions/{e.sid}"
        return cls(
            sid=e.sid,
            account_sid=e.account_sid,
            flow_sid=e.flow_sid,
            contact_sid=None,
            contact_channel_address=e.contact_address,
            flow_version=None,
            context=context(e),
            status=status_at(e, now_ms),
            date_created=to_wire(e.created_ms),
            date_updated=to_wire(updated_at(e, now_ms)),
            initiated_by=None,
            url=url,
            links={"steps": f"{url}/Steps", "execution_context": f"{url}/Context"},
        )


def context(e: Execution) -> dict[str, Any]:
    """The flow's context as Studio would start it: the trigger's parameters as ``flow.data``, both addresses."""
    data = dict(e.parameters or {})
    return {
        "trigger": {"request": {"parameters": data}},
        "flow": {
            "flow_sid": e.flow_sid,
            "sid": e.sid,
            "channel": {"address": e.from_address},
            "data": data,
            "variables": {},
        },
        "contact": {"channel": {"address": e.contact_address}},
        "widgets": {},
    }


class ExecutionContextOut(BaseModel):
    account_sid: str
    context: dict[str, Any]
    flow_sid: str
    execution_sid: str
    url: str


class ListMetaOut(BaseModel):
    page: int
    page_size: int
    first_page_url: str
    previous_page_url: str | None
    next_page_url: str | None
    url: str
    key: str


class ExecutionListOut(BaseModel):
    executions: list[ExecutionOut]
    meta: ListMetaOut


class SandboxExecutionOut(Out):
    """An execution as the sandbox shows it (Orchestrion's own API: camelCase, the parameters at the top)."""

    sid: str
    flow_sid: str
    status: str
    to: str
    from_: str = Field(alias="from")
    parameters: dict[str, Any] | None = None  # omitted when the execution had none
    conversation_id: str | None = None
    created_at: str
    updated_at: str
    ends_at: str

    @classmethod
    def of(cls, e: Execution, now_ms: int) -> SandboxExecutionOut:
        return cls(
            sid=e.sid,
            flow_sid=e.flow_sid,
            status=status_at(e, now_ms),
            to=e.contact_address,
            from_=e.from_address,
            parameters=e.parameters,
            conversation_id=e.conversation_id,
            created_at=to_wire(e.created_ms),
            updated_at=to_wire(updated_at(e, now_ms)),
            ends_at=to_wire(e.ends_ms),
        )


class SandboxExecutionListOut(Out):
    executions: list[SandboxExecutionOut]

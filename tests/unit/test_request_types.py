"""Request bodies take JSON types as they are: no number for a boolean, no string for a number."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from orchestrion.api.schemas.communications import TranscriptionBody
from orchestrion.api.schemas.conversations import CreateConversationBody


@pytest.mark.parametrize(
    ("model", "body"),
    [
        (CreateConversationBody, {"configurationId": "c", "configuration": {"memoryExtractionEnabled": 0}}),
        (CreateConversationBody, {"configurationId": "c", "configuration": {"memoryExtractionEnabled": "true"}}),
        (TranscriptionBody, {"channel": True}),
        (TranscriptionBody, {"channel": "5"}),
        (TranscriptionBody, {"confidence": "0.5"}),
    ],
)
def test_a_value_of_the_wrong_json_type_is_refused(model: type[BaseModel], body: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        model.model_validate(body)

"""The audit trail as the native API shows it (read only: there is no schema to write one)."""

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict


class AuditEntryRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    at: datetime
    face: str
    user_id: int | None
    api_key_id: int | None
    credential: str | None
    entity: str
    entity_id: str
    action: str
    changes: dict[str, Any]

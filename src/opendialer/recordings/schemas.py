"""Native API shapes for recordings."""

from datetime import datetime

from pydantic import Field

from opendialer.schemas import OutputModel


class RecordingRead(OutputModel):
    id: int
    call_attempt_id: int | None
    contact_id: int | None
    user_id: int | None
    voice_id: str = Field(description="The file-internal id")
    recorded_at: datetime
    duration_seconds: float
    size_bytes: int
    deleted_at: datetime | None
    available: bool = Field(description="The file can be downloaded (not deleted by retention)")
    url: str | None = Field(description="Signed, expiring download link (no credentials needed)")


class PurgeResult(OutputModel):
    deleted: int
    retention_days: int

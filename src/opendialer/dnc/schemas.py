"""Request and response bodies for the do-not-call list."""

import enum
from datetime import datetime

from pydantic import Field

from opendialer.schemas import InputModel, OutputModel

MAX_NUMBERS_PER_REQUEST = 10_000


class DncNumbers(InputModel):
    numbers: list[str] = Field(min_length=1, max_length=MAX_NUMBERS_PER_REQUEST)
    campaign_id: int | None = Field(
        default=None, ge=1, description="A campaign's own list; omit for the tenant-wide list"
    )
    source: str = Field(default="api", min_length=1, max_length=50)
    note: str | None = Field(default=None, max_length=500)


class DncOutcome(enum.StrEnum):
    ADDED = "added"
    EXISTS = "exists"
    REMOVED = "removed"
    NOT_FOUND = "not_found"
    INVALID_NUMBER = "invalid_number"


class DncRecordOutcome(OutputModel):
    number: str
    e164: str | None
    outcome: DncOutcome


class DncBulkResult(OutputModel):
    counts: dict[DncOutcome, int]
    records: list[DncRecordOutcome]


class DncEntryRead(OutputModel):
    id: int
    campaign_id: int | None
    e164: str
    source: str
    note: str | None
    created_at: datetime


class DncCheck(OutputModel):
    number: str
    e164: str | None
    blocked: bool
    entries: list[DncEntryRead]

"""Request and response bodies for the do-not-call list."""

import enum
from collections import Counter
from datetime import datetime
from typing import Annotated

from pydantic import AwareDatetime, Field

from opendialer.phones import MAX_RAW_LENGTH
from opendialer.schemas import InputModel, OutputModel

MAX_NUMBERS_PER_REQUEST = 10_000

# Longer text is refused with the request; anything shorter that is not a number is reported
# per record as ``invalid_number``.
RawNumber = Annotated[str, Field(max_length=MAX_RAW_LENGTH)]


class DncNumbers(InputModel):
    numbers: list[RawNumber] = Field(
        min_length=1,
        max_length=MAX_NUMBERS_PER_REQUEST,
        description="Numbers in any format; national ones are read in the tenant's region",
    )
    campaign_id: int | None = Field(
        default=None,
        ge=1,
        le=2**63 - 1,
        description="A campaign's own list; omit for the tenant-wide list",
    )
    source: str = Field(default="api", min_length=1, max_length=50)
    note: str | None = Field(default=None, max_length=500)
    expires_at: AwareDatetime | None = Field(
        default=None, description="The entries stop blocking then; omit: they never expire"
    )


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

    @classmethod
    def of(cls, records: list[DncRecordOutcome]) -> "DncBulkResult":
        """Per-record outcomes with a count for every outcome (zeros included)."""
        counts = Counter(r.outcome for r in records)
        return cls(counts={o: counts.get(o, 0) for o in DncOutcome}, records=records)


class DncEntryRead(OutputModel):
    id: int
    campaign_id: int | None
    e164: str
    source: str
    note: str | None
    created_at: datetime
    expires_at: datetime | None


class DncCheck(OutputModel):
    number: str
    e164: str | None
    blocked: bool
    on_tenant_list: bool = Field(description="Blocked by the tenant-wide list")
    on_campaign_list: bool = Field(description="Blocked by the campaign's own list")
    entries: list[DncEntryRead]

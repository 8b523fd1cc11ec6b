"""Request and response bodies for consent, holds and caller-ID pools, and the calling rules
(days off and frequency caps) a campaign and its tenant each set."""

from datetime import date, datetime
from typing import Annotated

from pydantic import AwareDatetime, Field, field_validator

from opendialer.calendars import UnknownCalendar, parse_calendar
from opendialer.models import HoldReason
from opendialer.schemas import InputModel, OutputModel

CalendarCodes = Annotated[list[Annotated[str, Field(max_length=12)]], Field(max_length=50)]
ClosedDates = Annotated[list[Annotated[str, Field(max_length=10)]], Field(max_length=1000)]


def _calendar_codes(codes: list[str] | None) -> list[str] | None:
    if codes is None:
        return None
    try:
        parsed = [parse_calendar(code) for code in codes]
    except UnknownCalendar as error:
        raise ValueError(str(error)) from None
    return sorted({c.country + (f"-{c.subdivision}" if c.subdivision else "") for c in parsed})


def _iso_dates(texts: list[str] | None) -> list[str] | None:
    if texts is None:
        return None
    try:
        days = {date.fromisoformat(text) for text in texts if len(text) == 10}
    except ValueError:
        days = set()
    if len(days) != len(set(texts)):
        raise ValueError("closed dates are ISO dates, YYYY-MM-DD")
    return sorted(day.isoformat() for day in days)


class CallingRules(InputModel):
    """Days off and frequency caps; a campaign and its tenant each set their own, and both
    hold (docs/compliance.md)."""

    holiday_calendars: CalendarCodes | None = Field(
        default=None,
        description='Public-holiday calendars kept in the callee\'s region: "DE", "US-CA".',
    )
    closed_dates: ClosedDates | None = Field(default=None, description="Closed dates, YYYY-MM-DD.")
    max_attempts_per_number: int | None = Field(
        default=None, ge=1, le=1000, description="Attempts to one number per window, null: none"
    )
    max_attempts_per_contact: int | None = Field(
        default=None, ge=1, le=1000, description="Attempts to one contact per window"
    )
    max_conversations: int | None = Field(
        default=None, ge=1, le=1000, description="Live conversations with one number per window"
    )
    cap_window_hours: int | None = Field(
        default=None, ge=1, le=24 * 366, description="The caps' rolling window (default 168)"
    )

    @field_validator("holiday_calendars")
    @classmethod
    def _calendars(cls, codes: list[str] | None) -> list[str] | None:
        return _calendar_codes(codes)

    @field_validator("closed_dates")
    @classmethod
    def _closed(cls, texts: list[str] | None) -> list[str] | None:
        return _iso_dates(texts)


class ConsentCreate(InputModel):
    channel: Annotated[str, Field(min_length=1, max_length=20)] = "phone"
    source: Annotated[str, Field(min_length=1, max_length=100)]
    given_at: AwareDatetime
    text: Annotated[str, Field(max_length=2000)] | None = None
    reference: Annotated[str, Field(max_length=255)] | None = None
    expires_at: AwareDatetime | None = None


class ConsentRead(OutputModel):
    id: int
    contact_id: int
    channel: str
    source: str
    given_at: datetime
    text: str | None
    reference: str | None
    expires_at: datetime | None
    revoked_at: datetime | None
    created_at: datetime


class HoldRead(OutputModel):
    id: int
    contact_id: int
    e164: str | None
    reason: HoldReason
    until: datetime
    created_at: datetime


class CallerIdCreate(InputModel):
    number: Annotated[str, Field(min_length=1, max_length=64)]


class CallerIdRead(OutputModel):
    id: int
    campaign_id: int
    e164: str
    retired_at: datetime | None
    last_used_at: datetime | None
    created_at: datetime

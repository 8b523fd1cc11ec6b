"""The reports' rows (native API, console pages and CSV alike) and their filter."""

from dataclasses import dataclass
from datetime import date, datetime
from typing import Generic, TypeVar

from pydantic import Field

from opendialer.schemas import OutputModel

MAX_DAYS = 400  # a report covers at most this many days (a year and some)


@dataclass(frozen=True, slots=True)
class ReportFilter:
    """Days are the tenant's calendar days, both ends included."""

    date_from: date
    date_to: date
    campaign_id: int | None = None
    user_id: int | None = None


class AgentPerformanceRow(OutputModel):
    user_id: int
    username: str
    logged_in_seconds: float = Field(description="Every state but logged out")
    ready_seconds: float
    talk_seconds: float = Field(description="On a call")
    wrap_up_seconds: float
    pause_seconds: float
    pause_by_reason: dict[str, float]
    calls: int = Field(description="Attempts handed to the agent")
    connects: int = Field(description="Of those, joined to the agent")
    results: dict[str, int] = Field(description="Result code → calls")


class ResultRow(OutputModel):
    campaign_id: int
    campaign: str
    day: date
    result_code: str
    result_text: str
    calls: int


class CampaignPeriodRow(OutputModel):
    campaign_id: int
    campaign: str
    period: datetime = Field(description="Start of the hour or day, in the tenant's time zone")
    attempts: int
    live_answers: int = Field(description="Connected or abandoned")
    machines: int
    abandoned: int
    abandonment: float | None = Field(description="Abandoned ÷ live answers")
    connects: int = Field(description="Attempts joined to an agent")
    dials_per_connect: float | None
    occupancy: float | None = Field(
        description="Seconds the campaign's agents were reserved, in preview, on a call or in "
        "wrap-up for it ÷ seconds its current members were logged in"
    )


class ComplianceRow(OutputModel):
    campaign_id: int
    campaign: str
    day: date
    live_answers: int
    abandoned: int
    abandonment: float | None
    rolling_30_days: float | None = Field(description="Abandonment over this day and the 29 before")
    cap: float = Field(description="The campaign's abandonment target")
    over_cap: bool
    outside_hours: int = Field(
        description="Calls started outside the campaign's own days and hours, or on a date "
        "the campaign or its tenant closed (checked per minute in its time zone): must be 0"
    )
    dnc_refused: int = Field(description="Numbers the dialer passed over for being on a DNC list")


Row = TypeVar("Row", bound=OutputModel)


class Report(OutputModel, Generic[Row]):
    date_from: date
    date_to: date
    time_zone: str = Field(description="The tenant's time zone: days and hours are its own")
    rows: list[Row]

"""What the wallboard shows: one document per tenant, pushed to every open wallboard."""

from datetime import datetime

from pydantic import Field

from opendialer.dialing.schemas import CallCounts
from opendialer.models import AgentState, CampaignStatus
from opendialer.schemas import OutputModel


class CampaignBoard(OutputModel):
    id: int
    name: str
    status: CampaignStatus
    dial_mode: str
    calls: CallCounts | None = Field(description="Only when the engine runs in this process")
    agents: dict[str, int] = Field(description="Member agents by state (logged out left out)")
    occupancy: float | None = Field(description="Busy members ÷ logged-in members, now")
    attempts_today: int
    live_today: int
    connects_today: int
    answer_rate: float | None = Field(description="Live answers ÷ attempts today")
    dials_per_connect: float | None
    abandonment_today: float | None
    abandonment_30_days: float | None
    abandon_cap: float
    cap_level: str = Field(description="ok | near (over 2/3 of the cap) | over")
    contacts_left: int = Field(description="Pending contacts, not locked")
    runs_out_at: datetime | None = Field(
        description="When the contacts left are used up at the last 15 minutes' dial rate"
    )


class AgentBoard(OutputModel):
    user_id: int
    username: str
    display_name: str | None
    state: AgentState
    since: datetime
    pause_reason: str | None
    campaign: str | None
    contact: str | None
    calls_today: int
    talk_seconds: float
    wait_seconds: float = Field(description="Ready, waiting for a call")
    wrap_up_seconds: float
    pause_seconds: float


class PacingLine(OutputModel):
    campaign: str
    decided_at: datetime
    dials: int
    reason: str


class QuarterPoint(OutputModel):
    at: datetime
    attempts: int
    connects: int
    live_answers: int
    abandoned: int
    occupancy: float | None
    abandonment: float | None = Field(description="Abandoned ÷ live answers in the quarter")
    abandon_budget: float = Field(
        description="Abandoned calls allowed so far today: the caps times live answers so far"
    )
    abandon_spent: int = Field(description="Abandoned calls so far today")


class Wallboard(OutputModel):
    at: datetime
    time_zone: str
    campaigns: list[CampaignBoard]
    agents: list[AgentBoard]
    pacing: list[PacingLine]
    quarters: list[QuarterPoint] = Field(description="Today, per 15 minutes, every campaign")


class WallboardDelta(OutputModel):
    """What changed since the previous push (``wallboard_delta`` events): the campaigns, agents
    and quarters that are new or changed, replacing those with the same key; the keys gone;
    the pacing lines when they changed (null: as before)."""

    at: datetime
    campaigns: list[CampaignBoard] = Field(description="New or changed, by ``id``")
    removed_campaigns: list[int]
    agents: list[AgentBoard] = Field(description="New or changed, by ``user_id``")
    removed_agents: list[int]
    quarters: list[QuarterPoint] = Field(description="New or changed, by ``at``")
    removed_quarters: list[datetime]
    pacing: list[PacingLine] | None = Field(description="All of them when they changed")

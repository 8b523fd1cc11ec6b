"""Request and response bodies for running campaigns, live state and pacing."""

from datetime import datetime
from typing import Any

from pydantic import Field

from opendialer.models import AgentState, CampaignStatus
from opendialer.schemas import OutputModel


class CampaignRunState(OutputModel):
    campaign_id: int
    status: CampaignStatus
    state: str = Field(
        description="running | idle | no_members | no_agents_logged_in | no_eligible_contacts "
        "| outside_hours | disabled"
    )
    message: str


class ContactCounts(OutputModel):
    pending: int
    due: int
    in_call: int
    done: int
    locked: int


class CallCounts(OutputModel):
    dialling: int
    ringing: int
    waiting: int
    talking: int


class EngineHealth(OutputModel):
    """How the engine in this process keeps up: how late its recent pacing ticks ran (the
    last 120 ticks of all its campaigns) and how many call endings wait to be written."""

    ticks: int = Field(description="Pacing ticks since the engine started")
    tick_lateness_p50_ms: float | None
    tick_lateness_p99_ms: float | None
    tick_lateness_max_ms: float | None
    unwritten_endings: int = Field(
        description="Ended calls whose write failed; tried again at every tick"
    )


class AgentStateCount(OutputModel):
    state: AgentState
    count: int


class Rates(OutputModel):
    attempts: int
    live_answers: int
    abandoned: int
    answer_rate: float | None = Field(description="Live answers ÷ attempts")
    abandonment: float | None = Field(description="Abandoned ÷ live answers (FTC/Ofcom)")


class LiveState(OutputModel):
    campaign_id: int
    at: datetime
    run: CampaignRunState
    contacts: ContactCounts
    calls: CallCounts | None = Field(description="Only when the engine runs in this process")
    engine: EngineHealth | None = Field(
        default=None, description="Only when the engine runs in this process"
    )
    agents: list[AgentStateCount]
    occupancy: float | None = Field(description="Busy agents ÷ logged-in agents, now")
    today: Rates
    last_30_days: Rates


class PacingDecisionRead(OutputModel):
    id: int
    decided_at: datetime
    algorithm: str
    dials: int
    target_in_flight: float
    inputs: dict[str, Any]
    reason: str

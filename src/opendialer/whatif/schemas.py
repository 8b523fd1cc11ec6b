"""Request and response bodies of the what-if simulation."""

from typing import Any, Self

from pydantic import Field, model_validator

from opendialer.models import DialMode
from opendialer.schemas import InputModel, OutputModel
from opendialer.whatif.fit import Figures


class WhatIfRequest(InputModel):
    """Changes to try against the campaign as its last 30 days show it (all optional)."""

    agents: int | None = Field(
        None, ge=1, le=2000, description="Agents on duty all day (instead of the fitted ones)"
    )
    agents_delta: int = Field(
        0, ge=-2000, le=2000, description="Agents added to every hour of the fitted schedule"
    )
    abandon_target: float | None = Field(None, ge=0.001, le=0.5)
    dial_mode: DialMode | None = None
    hours: float | None = Field(
        None, gt=0, le=12, description="Virtual hours to simulate (default: the fitted shift)"
    )
    seed: int = Field(1, ge=0, le=2**31 - 1)

    @model_validator(mode="after")
    def _one_agents_change(self) -> Self:
        if self.agents is not None and self.agents_delta:
            raise ValueError("give agents or agents_delta, not both")
        return self


class FiguresRead(OutputModel):
    """A day of the campaign: per-day means of the history, or the simulated day."""

    days: int
    agents: float = Field(description="Mean agents logged in while the campaign dialled")
    hours: float = Field(description="Hours with calls")
    attempts: float
    live_answers: float
    connects: float
    abandoned: float
    machines: float
    abandonment: float = Field(description="Abandoned ÷ live answers")
    dials_per_connect: float | None
    occupancy: float | None = Field(
        description="Talk and wrap-up ÷ time on duty (none without agent state history)"
    )

    @classmethod
    def of(cls, figures: Figures) -> "FiguresRead":
        return cls(
            days=figures.days,
            agents=figures.agents,
            hours=figures.hours,
            attempts=figures.attempts,
            live_answers=figures.live_answers,
            connects=figures.connects,
            abandoned=figures.abandoned,
            machines=figures.machines,
            abandonment=figures.abandonment,
            dials_per_connect=figures.dials_per_connect,
            occupancy=figures.occupancy,
        )


class WhatIfRead(OutputModel):
    campaign_id: int
    dial_mode: DialMode
    observed: FiguresRead = Field(description="The campaign's last 30 days, per day")
    simulated: FiguresRead = Field(description="One simulated day with the changes")
    scenario: dict[str, Any] = Field(
        description="The fitted scenario with the changes: save it as JSON and run "
        "`opendialer simulate --scenario FILE` to vary it further"
    )

"""One scenario format for ``bench/pacing`` and ``opendialer simulate``: a campaign around the
simulated network's :class:`~opendialer.telephony.sim_scenario.Scenario`.

The customers (answer rates and delays, talk times, answering machines), the AMD and the agents'
wrap-up and breaks come from ``Scenario``, so every number may be a constant or a schedule over
the time of day. This adds what the network does not model: how many agents work when, the shift,
the abandonment rule, whether AMD is on, the contact list and how many days run in a row. A file
holding only a network ``Scenario`` reads as a campaign of ``agents`` agents around it.
"""

import json
import tomllib
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, Self
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, field_validator

from opendialer.models.campaign import DEFAULT_ABANDON_TARGET
from opendialer.telephony.sim_scenario import NonNegative, Scenario, second_of_day, value_at


class ContactListSpec(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    size: int = Field(ge=0, description="Contacts loaded before the first day")
    max_tries: int = Field(3, ge=1)
    retry_after: float = Field(3600.0, ge=0, description="Seconds before an unreached retry")
    refills: dict[str, int] = Field(
        default_factory=dict, description="Contacts added every day at these times of day"
    )

    @field_validator("refills")
    @classmethod
    def _times_of_day(cls, refills: dict[str, int]) -> dict[str, int]:
        for at, count in refills.items():
            second_of_day(at)  # a ValueError names the bad time
            if count < 0:
                raise ValueError(f"refill at {at}: {count} contacts (at least 0)")
        return refills


class CampaignScenario(BaseModel):
    """A campaign on the simulated network: its agents and shift, AMD, the abandonment rule,
    a contact list and several days, around the network's :class:`Scenario`."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    title: str = ""
    agents: NonNegative = Field(description="Agents logged in: a number or a schedule")
    start: str = "09:00"
    hours: float = Field(8.0, gt=0)
    grace: float = Field(2.0, ge=0, description="Seconds a person may wait for an agent")
    amd: bool = False
    ring_timeout: float = Field(25.0, gt=0)
    abandon_target: float = Field(DEFAULT_ABANDON_TARGET, gt=0, lt=1)
    tick: float = Field(0.5, gt=0, description="Seconds between pacing decisions")
    markov: bool = Field(False, description="Exponential model: also solve the exact optimum")
    sim: Scenario = Scenario()
    days: int = Field(1, ge=1, description="Days in a row, policy and contact list carried over")
    contacts: ContactListSpec | None = Field(
        None, description="A finite contact list (default: every dial is a fresh contact)"
    )
    restart_at: str | None = Field(
        None, description="Time of day the engine restarts: a fresh policy, the day's ledger kept"
    )

    @field_validator("start", "restart_at")
    @classmethod
    def _time_of_day(cls, text: str | None) -> str | None:
        if text is not None:
            second_of_day(text)  # a ValueError names the bad time
        return text

    @classmethod
    def load(
        cls, path: Path, *, agents: int = 20, abandon_target: float = DEFAULT_ABANDON_TARGET
    ) -> Self:
        """A campaign scenario, or a network scenario file as a campaign of ``agents``."""
        text = path.read_text(encoding="utf-8")
        data: dict[str, Any] = json.loads(text) if path.suffix == ".json" else tomllib.loads(text)
        if "name" in data and "agents" in data:
            return cls.model_validate(data)
        network = Scenario.model_validate(data)
        return cls(name=path.stem, agents=agents, abandon_target=abandon_target, sim=network)

    @property
    def start_second(self) -> float:
        return second_of_day(self.start)

    @property
    def seconds(self) -> float:
        return self.hours * 3600.0

    @property
    def restart_second(self) -> float | None:
        return second_of_day(self.restart_at) if self.restart_at is not None else None

    def agents_at(self, second: float) -> int:
        return round(value_at(self.agents, second))

    def amd_false_positive_at(self, second: float) -> float:
        return value_at(self.sim.amd.false_positive, second) if self.amd else 0.0

    @property
    def restart_after(self) -> float | None:
        """Seconds into the shift at which the engine restarts, if it does."""
        at = self.restart_second
        return at - self.start_second if at is not None else None

    def refills_after(self) -> list[tuple[float, int]]:
        """The contact list's daily refills inside the shift: (seconds into the shift, how
        many), earliest first."""
        if self.contacts is None:
            return []
        refills = [
            (second_of_day(at) - self.start_second, count)
            for at, count in self.contacts.refills.items()
        ]
        return sorted((after, n) for after, n in refills if 0 <= after < self.seconds)

    def most_agents(self) -> int:
        """The most agents the schedule has on duty at any minute of the shift."""
        minutes = range(int(self.hours * 60) + 1)
        return max(self.agents_at(self.start_second + 60.0 * m) for m in minutes)

    def start_on(self, day: date) -> datetime:
        """When the shift starts on ``day``, in the network's time zone (its schedules' clock)."""
        midnight = datetime.combine(day, datetime.min.time(), tzinfo=ZoneInfo(self.sim.timezone))
        return midnight + timedelta(seconds=self.start_second)

"""A benchmark scenario: a campaign's agents and shift around a telephony ``Scenario``.

The customers (answer rates and delays, talk times, answering machines), the AMD and the agents'
wrap-up come from :class:`opendialer.telephony.sim_scenario.Scenario`, so every number may be a
constant or a schedule over the time of day. This file adds what the network does not model:
how many agents work when, the shift, the abandonment rule and whether AMD is on.
"""

import tomllib
from pathlib import Path
from typing import Self

from pydantic import BaseModel, ConfigDict, Field

from bench.pacing.contacts import ContactListSpec
from opendialer.telephony.sim_scenario import NonNegative, Scenario, second_of_day, value_at


class BenchScenario(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    title: str = ""
    agents: NonNegative = Field(description="Agents logged in: a number or a schedule")
    start: str = "09:00"
    hours: float = Field(8.0, gt=0)
    grace: float = Field(2.0, ge=0, description="Seconds a person may wait for an agent")
    amd: bool = False
    ring_timeout: float = Field(25.0, gt=0)
    abandon_target: float = Field(0.03, gt=0, lt=1)
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

    @classmethod
    def load(cls, path: Path) -> Self:
        text = path.read_text(encoding="utf-8")
        if path.suffix == ".json":
            return cls.model_validate_json(text)
        return cls.model_validate(tomllib.loads(text))

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

"""What the simulated network's customers and agents do: a scenario, loadable from TOML or JSON.

Every number in a scenario is either a constant or a schedule over the local time of day
(``{"09:00" = 0.18, "13:00" = 0.25}``: linear between points, wrapping round midnight). Every
duration is a :class:`Distribution` (``{dist = "gamma", mean = 8, sd = 4}``, or a bare number
for a constant), whose mean and sd may themselves be schedules.
"""

import bisect
import json
import math
import random
import tomllib
from collections.abc import Iterable, Mapping
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, Literal, Self
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    field_validator,
    model_validator,
)

DAY = 86_400.0
_EPSILON = 1e-9


def second_of_day(text: str) -> float:
    """``"HH:MM"`` or ``"HH:MM:SS"`` as seconds after midnight."""
    parts = [int(p) for p in text.split(":")]
    if not 2 <= len(parts) <= 3 or not 0 <= parts[0] <= 24:
        raise ValueError(f"time of day must be HH:MM or HH:MM:SS, got {text!r}")
    hours, minutes, seconds = (*parts, 0) if len(parts) == 2 else parts
    value = hours * 3600 + minutes * 60 + seconds
    if value > DAY:
        raise ValueError(f"time of day past 24:00: {text!r}")
    return float(value)


class Schedule(BaseModel):
    """A value over the time of day: linear between points, wrapping round midnight."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    points: tuple[tuple[float, float], ...] = Field(min_length=1)
    _times: list[float] = PrivateAttr(default_factory=list)

    @model_validator(mode="before")
    @classmethod
    def _from_table(cls, data: Any) -> Any:
        if isinstance(data, Mapping) and "points" not in data:
            data = list(data.items())
        if isinstance(data, list | tuple):
            return {"points": [(_as_second(t), v) for t, v in data]}
        return data

    @field_validator("points")
    @classmethod
    def _sorted_unique(cls, points: tuple[tuple[float, float], ...]) -> Any:
        ordered = tuple(sorted(points))
        times = [t for t, _ in ordered]
        if len(set(times)) != len(times):
            raise ValueError("a schedule names the same time twice")
        return ordered

    def model_post_init(self, context: Any) -> None:
        self._times = [t for t, _ in self.points]

    def at(self, second: float) -> float:
        index = bisect.bisect_right(self._times, second)
        before_t, before_v = self.points[index - 1] if index else self.points[-1]
        after_t, after_v = self.points[index] if index < len(self.points) else self.points[0]
        if index == 0:
            before_t -= DAY
        if index == len(self.points):
            after_t += DAY
        return before_v + (after_v - before_v) * (second - before_t) / (after_t - before_t)

    def values(self) -> list[float]:
        return [v for _, v in self.points]


def _as_second(value: Any) -> Any:
    return second_of_day(value) if isinstance(value, str) else value


Param = float | Schedule


def value_at(param: Param, second: float) -> float:
    return param if isinstance(param, float | int) else param.at(second)


def _breakpoints(*params: Param) -> list[float]:
    seconds = {t for p in params if isinstance(p, Schedule) for t, _ in p.points}
    return sorted(seconds) or [0.0]


def _non_negative(param: Param) -> Param:
    values = param.values() if isinstance(param, Schedule) else [param]
    if min(values) < 0:
        raise ValueError("must not be negative")
    return param


def _probability(param: Param) -> Param:
    values = param.values() if isinstance(param, Schedule) else [param]
    if min(values) < 0 or max(values) > 1:
        raise ValueError("a probability must lie in [0, 1]")
    return param


Probability = Annotated[Param, AfterValidator(_probability)]
NonNegative = Annotated[Param, AfterValidator(_non_negative)]


def _check_sum_at_most_one(names: Iterable[str], params: list[Param]) -> None:
    for second in _breakpoints(*params):
        if sum(value_at(p, second) for p in params) > 1 + _EPSILON:
            clock = f"{int(second // 3600):02d}:{int(second % 3600 // 60):02d}"
            raise ValueError(f"{' + '.join(names)} exceeds 1 at {clock}")


class Distribution(BaseModel):
    """A non-negative random duration in seconds."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    dist: Literal["constant", "gamma", "lognormal", "exponential", "uniform"] = "constant"
    mean: NonNegative
    sd: NonNegative = 0.0

    @model_validator(mode="before")
    @classmethod
    def _from_number(cls, data: Any) -> Any:
        if isinstance(data, int | float):
            return {"dist": "constant", "mean": data}
        return data

    def draw(self, rng: random.Random, second: float) -> float:
        mean = value_at(self.mean, second)
        sd = value_at(self.sd, second)
        if self.dist == "constant" or mean <= 0:
            return mean
        if self.dist == "exponential":
            return rng.expovariate(1 / mean)
        if sd <= 0:
            return mean
        return _DRAWS[self.dist](rng, mean, sd)


def _gamma(rng: random.Random, mean: float, sd: float) -> float:
    return rng.gammavariate((mean / sd) ** 2, sd * sd / mean)


def _lognormal(rng: random.Random, mean: float, sd: float) -> float:
    sigma2 = math.log1p((sd / mean) ** 2)
    return rng.lognormvariate(math.log(mean) - sigma2 / 2, math.sqrt(sigma2))


def _uniform(rng: random.Random, mean: float, sd: float) -> float:
    half = sd * math.sqrt(3)
    return rng.uniform(max(0.0, mean - half), mean + half)


_DRAWS = {"gamma": _gamma, "lognormal": _lognormal, "uniform": _uniform}


def _gamma_of(mean: float, sd: float) -> Distribution:
    return Distribution(dist="gamma", mean=mean, sd=sd)


class Reach(StrEnum):
    """What a dial reaches, in truth (before any answering-machine detection)."""

    PERSON = "person"
    MACHINE = "machine"
    BUSY = "busy"
    INVALID = "invalid"
    FAILED = "failed"
    NO_ANSWER = "no_answer"


class Customers(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    p_live: Probability = 0.3
    p_machine: Probability = 0.15
    busy_share: Probability = Field(0.1, description="Of the dials neither live nor machine")
    invalid_share: Probability = 0.0
    failed_share: Probability = 0.0
    post_dial_delay: Distribution = Distribution(mean=1.0)
    live_answer_after: Distribution = _gamma_of(8.0, 4.0)
    machine_answer_after: Distribution = _gamma_of(12.0, 5.0)
    busy_after: Distribution = Distribution(mean=4.0)
    invalid_after: Distribution = Distribution(mean=1.0)
    failed_after: Distribution = Distribution(mean=0.5)
    talk_time: Distribution = Distribution(dist="lognormal", mean=180.0, sd=120.0)
    machine_handling: Distribution = Distribution(mean=15.0)
    patience: Distribution | None = Field(
        None, description="Silence a person bears after answering before hanging up; none: forever"
    )

    @model_validator(mode="after")
    def _shares_fit(self) -> Self:
        _check_sum_at_most_one(["p_live", "p_machine"], [self.p_live, self.p_machine])
        rest = [self.busy_share, self.invalid_share, self.failed_share]
        _check_sum_at_most_one(["busy_share", "invalid_share", "failed_share"], rest)
        return self

    def reach(self, u: float, second: float) -> Reach:
        """The outcome for a uniform draw ``u``; monotone in ``u``, so dialers share outcomes."""
        live = value_at(self.p_live, second)
        answered = live + value_at(self.p_machine, second)
        if u < live:
            return Reach.PERSON
        if u < answered:
            return Reach.MACHINE
        rest = (u - answered) / (1 - answered) if answered < 1 else 0.0
        for share, reach in (
            (self.busy_share, Reach.BUSY),
            (self.invalid_share, Reach.INVALID),
            (self.failed_share, Reach.FAILED),
        ):
            rest -= value_at(share, second)
            if rest < 0:
                return reach
        return Reach.NO_ANSWER


class Amd(BaseModel):
    """Answering-machine detection, applied to dials whose request asks for it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    delay: Distribution = Distribution(mean=2.5)
    false_positive: Probability = Field(0.0, description="A person classified as a machine")
    false_negative: Probability = Field(0.0, description="A machine classified as a person")


class Agents(BaseModel):
    """Simulated agent phones, and what the engine's agent driver draws for its agents."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    answer_delay: Distribution = Distribution(mean=0.5)
    wrap_up: Distribution = _gamma_of(10.0, 5.0)
    break_every: Distribution | None = None
    break_length: Distribution = _gamma_of(600.0, 120.0)


class Scenario(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = "default"
    timezone: str = "UTC"
    announcement_length: Distribution = Distribution(mean=6.0)
    customers: Customers = Customers()
    amd: Amd = Amd()
    agents: Agents = Agents()
    _zone: ZoneInfo = PrivateAttr()

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, name: str) -> str:
        try:
            ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {name!r}") from exc
        return name

    def model_post_init(self, context: Any) -> None:
        self._zone = ZoneInfo(self.timezone)

    @classmethod
    def from_toml(cls, text: str) -> Self:
        return cls.model_validate(tomllib.loads(text))

    @classmethod
    def from_json(cls, text: str) -> Self:
        return cls.model_validate(json.loads(text))

    @classmethod
    def load(cls, path: Path) -> Self:
        text = path.read_text(encoding="utf-8")
        return cls.from_json(text) if path.suffix == ".json" else cls.from_toml(text)

    def second_of_day(self, at: datetime) -> float:
        local = at.astimezone(self._zone)
        return local.hour * 3600 + local.minute * 60 + local.second + local.microsecond / 1e6

    def draw_wrap_up(self, rng: random.Random, at: datetime) -> float:
        return self.agents.wrap_up.draw(rng, self.second_of_day(at))

    def draw_break_every(self, rng: random.Random, at: datetime) -> float | None:
        """Seconds of work until the agent's next break; ``None`` when agents take none."""
        if self.agents.break_every is None:
            return None
        return self.agents.break_every.draw(rng, self.second_of_day(at))

    def draw_break_length(self, rng: random.Random, at: datetime) -> float:
        return self.agents.break_length.draw(rng, self.second_of_day(at))

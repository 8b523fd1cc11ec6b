"""Fit a campaign scenario to a campaign's own history: the what-if simulation's starting point.

Pure: the rows come in, a :class:`CampaignScenario` and the observed figures go out. Shares of
outcomes and agents on duty are schedules over the local hour of the day where the history holds
enough of that hour, constants otherwise; durations are gamma (lognormal for talk time) with the
history's mean and standard deviation.

What the history cannot show is left at the simulator's defaults: the patience of people who
answered (an abandoned caller's wait is cut short by the grace time) and answering machines
that agents did not mark with a machine result code.
"""

import statistics
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Literal
from zoneinfo import ZoneInfo

from opendialer.models import AgentState, CallOutcome, DialMode
from opendialer.telephony.campaign_scenario import CampaignScenario
from opendialer.telephony.sim_scenario import (
    Agents,
    Amd,
    Customers,
    Distribution,
    Param,
    Scenario,
    Schedule,
)

HOUR = 3600.0
MIN_ATTEMPTS_PER_HOUR = 100
"""Fewer attempts in an hour of the day than this and its shares are not fitted on their own."""
MIN_WINDOW_SECONDS = 300.0
"""An hour the campaign dialled less of than this does not show how many agents it had."""
MIN_SAMPLES = 5
"""Fewer durations than this and the simulator's default distribution stays."""

ANSWERED = (CallOutcome.CONNECTED, CallOutcome.ABANDONED, CallOutcome.MACHINE)
LOGGED_IN = frozenset(AgentState) - {AgentState.LOGGED_OUT}
ON_DUTY = LOGGED_IN - {AgentState.PAUSED}
BUSY = frozenset({AgentState.ON_CALL, AgentState.WRAP_UP})

HourOf = Callable[[datetime], int]


@dataclass(frozen=True)
class AttemptRow:
    started_at: datetime
    answered_at: datetime | None
    connected_at: datetime | None
    ended_at: datetime | None
    outcome: CallOutcome
    machine: bool
    """Answered by a machine: found by AMD or marked so by the agent's result code."""
    user_id: int | None


Share = Callable[[Sequence[AttemptRow]], float]


@dataclass(frozen=True)
class StateSpan:
    """An agent in one state from ``start`` to ``end``."""

    user_id: int
    state: AgentState
    start: datetime
    end: datetime
    closed: bool = True
    """False for an agent's latest state, which had not ended when the history was read."""

    @property
    def seconds(self) -> float:
        return max(0.0, (self.end - self.start).total_seconds())


@dataclass(frozen=True)
class CampaignRules:
    """What the fit takes from the campaign's settings rather than from its calls."""

    name: str
    timezone: str
    abandon_target: float
    amd: bool
    ring_timeout: float
    dial_mode: DialMode


@dataclass(frozen=True)
class Figures:
    """One day of a campaign, as observed or simulated (per-day means over the days seen)."""

    days: int
    agents: float
    hours: float
    attempts: float
    live_answers: float
    connects: float
    abandoned: float
    machines: float
    occupancy: float | None

    @property
    def abandonment(self) -> float:
        return self.abandoned / self.live_answers if self.live_answers else 0.0

    @property
    def dials_per_connect(self) -> float | None:
        return self.attempts / self.connects if self.connects else None


@dataclass(frozen=True)
class Fit:
    rules: CampaignRules
    scenario: CampaignScenario
    observed: Figures


def fit(rules: CampaignRules, attempts: Sequence[AttemptRow], spans: Sequence[StateSpan]) -> Fit:
    """The campaign's scenario and observed figures from its attempts and its agents' states."""
    zone = ZoneInfo(rules.timezone)
    local_hour = _local_hour(zone)
    hours = sorted({local_hour(a.started_at) for a in attempts}) or [9]
    start, end = hours[0], hours[-1] + 1
    agents = _duty(attempts, spans, zone).agents_by_hour()
    scenario = CampaignScenario(
        name=f"{rules.name} (fitted)",
        title=f"fitted from {len(attempts)} attempts",
        agents=_schedule(agents) if agents else 1.0,
        start=f"{start:02d}:00",
        hours=float(end - start),
        amd=rules.amd,
        ring_timeout=rules.ring_timeout,
        abandon_target=rules.abandon_target,
        sim=Scenario(
            name=rules.name,
            timezone=rules.timezone,
            customers=_customers(attempts, local_hour),
            amd=Amd(false_positive=0.0),
            agents=_agent_times(spans),
        ),
    )
    return Fit(rules=rules, scenario=scenario, observed=observed_figures(attempts, spans, zone))


def _local_hour(zone: ZoneInfo) -> HourOf:
    def hour_of(at: datetime) -> int:
        return at.astimezone(zone).hour

    return hour_of


def _customers(attempts: Sequence[AttemptRow], hour_of: HourOf) -> Customers:
    by_hour: dict[int, list[AttemptRow]] = defaultdict(list)
    for attempt in attempts:
        by_hour[hour_of(attempt.started_at)].append(attempt)
    shares = {
        name: _share_param(attempts, by_hour, share)
        for name, share in (
            ("p_live", _live_share),
            ("p_machine", _machine_share),
            ("busy_share", _rest_share(CallOutcome.BUSY)),
            ("invalid_share", _rest_share(CallOutcome.INVALID_NUMBER)),
            ("failed_share", _rest_share(CallOutcome.FAILED)),
        )
    }
    defaults = Customers()
    return Customers(
        **shares,
        live_answer_after=_duration(
            _seconds(a.started_at, a.answered_at) for a in attempts if _is_live(a)
        )
        or defaults.live_answer_after,
        machine_answer_after=_duration(
            _seconds(a.started_at, a.answered_at) for a in attempts if a.machine
        )
        or defaults.machine_answer_after,
        busy_after=_duration(
            _seconds(a.started_at, a.ended_at) for a in attempts if a.outcome is CallOutcome.BUSY
        )
        or defaults.busy_after,
        talk_time=_duration(
            (_seconds(a.connected_at, a.ended_at) for a in attempts if _talked(a)), "lognormal"
        )
        or defaults.talk_time,
    )


def _is_live(attempt: AttemptRow) -> bool:
    return attempt.outcome in ANSWERED and not attempt.machine


def _talked(attempt: AttemptRow) -> bool:
    return attempt.outcome is CallOutcome.CONNECTED and not attempt.machine


def _live_share(rows: Sequence[AttemptRow]) -> float:
    return sum(_is_live(a) for a in rows) / len(rows)


def _machine_share(rows: Sequence[AttemptRow]) -> float:
    return sum(a.machine for a in rows) / len(rows)


def _rest_share(outcome: CallOutcome) -> Share:
    """A share of the attempts neither person nor machine answered, as the simulator draws it."""

    def share(rows: Sequence[AttemptRow]) -> float:
        unanswered = [a for a in rows if a.outcome not in ANSWERED and not a.machine]
        if not unanswered:
            return 0.0
        return sum(a.outcome is outcome for a in unanswered) / len(unanswered)

    return share


def _share_param(
    attempts: Sequence[AttemptRow],
    by_hour: dict[int, list[AttemptRow]],
    share: Share,
) -> Param:
    if not attempts:
        return 0.0
    hours = {h: rows for h, rows in by_hour.items() if len(rows) >= MIN_ATTEMPTS_PER_HOUR}
    if len(hours) < 2:
        return share(attempts)
    return _schedule({h: share(rows) for h, rows in hours.items()})


def _schedule(by_hour: dict[int, float]) -> Param:
    """Values per hour of the day as a schedule through the middle of each hour."""
    if len(by_hour) == 1:
        return next(iter(by_hour.values()))
    return Schedule.model_validate([(h * HOUR + HOUR / 2, v) for h, v in sorted(by_hour.items())])


def _seconds(start: datetime | None, end: datetime | None) -> float | None:
    if start is None or end is None:
        return None
    return (end - start).total_seconds()


def _duration(
    values: Iterable[float | None], dist: Literal["gamma", "lognormal"] = "gamma"
) -> Distribution | None:
    samples = [v for v in values if v is not None and v >= 0]
    if len(samples) < MIN_SAMPLES:
        return None
    mean, sd = statistics.fmean(samples), statistics.stdev(samples)
    if mean <= 0 or sd <= 0:
        return Distribution(mean=mean)
    return Distribution(dist=dist, mean=mean, sd=sd)


def _agent_times(spans: Sequence[StateSpan]) -> Agents:
    defaults = Agents()
    wrap = _duration(s.seconds for s in spans if s.state is AgentState.WRAP_UP and s.closed)
    return Agents(wrap_up=wrap or defaults.wrap_up)


@dataclass(frozen=True)
class _Duty:
    """Agent time by state while the campaign dialled, per local (day, hour)."""

    window: dict[tuple[date, int], float]
    """Seconds of each hour within the day's dialling window (first call to last call end)."""
    states: dict[tuple[date, int], dict[AgentState, float]]

    def seconds(self, states: frozenset[AgentState]) -> float:
        return sum(
            t for by_state in self.states.values() for s, t in by_state.items() if s in states
        )

    def agents_by_hour(self) -> dict[int, float]:
        """Mean agents logged in (paused included) per hour of the day, over the days seen."""
        per_hour: dict[int, list[float]] = defaultdict(list)
        for (day, hour), window in self.window.items():
            if window >= MIN_WINDOW_SECONDS:
                logged_in = sum(self.states.get((day, hour), {}).values())
                per_hour[hour].append(logged_in / window)
        return {hour: statistics.fmean(values) for hour, values in per_hour.items()}


def _duty(attempts: Sequence[AttemptRow], spans: Sequence[StateSpan], zone: ZoneInfo) -> _Duty:
    windows = _windows(attempts, zone)
    window: dict[tuple[date, int], float] = defaultdict(float)
    for first, last in windows.values():
        for day, hour, part in _hour_parts(first, last, zone):
            window[(day, hour)] += part
    states: dict[tuple[date, int], dict[AgentState, float]] = defaultdict(
        lambda: defaultdict(float)
    )
    for span in spans:
        if span.state is AgentState.LOGGED_OUT:
            continue
        for first, last in windows.values():
            start, end = max(span.start, first), min(span.end, last)
            for day, hour, part in _hour_parts(start, end, zone):
                states[(day, hour)][span.state] += part
    return _Duty(window=dict(window), states=dict(states))


def _windows(
    attempts: Sequence[AttemptRow], zone: ZoneInfo
) -> dict[date, tuple[datetime, datetime]]:
    """Per local day: from the first call's start to the last call's end."""
    windows: dict[date, tuple[datetime, datetime]] = {}
    for attempt in attempts:
        day = attempt.started_at.astimezone(zone).date()
        end = attempt.ended_at or attempt.started_at
        first, last = windows.get(day, (attempt.started_at, end))
        windows[day] = (min(first, attempt.started_at), max(last, end))
    return windows


def _hour_parts(
    start: datetime, end: datetime, zone: ZoneInfo
) -> Iterable[tuple[date, int, float]]:
    """[start, end) cut at local hour boundaries: (local day, hour, seconds) pieces."""
    position, stop = start.timestamp(), end.timestamp()
    while position < stop:
        local = datetime.fromtimestamp(position, zone)
        boundary = local.replace(minute=0, second=0, microsecond=0).timestamp() + HOUR
        piece_end = min(stop, boundary)
        yield local.date(), local.hour, piece_end - position
        position = piece_end


def observed_figures(
    attempts: Sequence[AttemptRow], spans: Sequence[StateSpan], zone: ZoneInfo
) -> Figures:
    """Per-day means of the history; agent figures within the days' dialling windows."""
    days = {a.started_at.astimezone(zone).date() for a in attempts}
    n = max(1, len(days))
    duty = _duty(attempts, spans, zone)
    window = sum(duty.window.values())
    on_duty = duty.seconds(ON_DUTY)
    return Figures(
        days=len(days),
        agents=duty.seconds(LOGGED_IN) / window if window else 0.0,
        hours=window / HOUR / n,
        attempts=len(attempts) / n,
        live_answers=sum(_is_live(a) for a in attempts) / n,
        connects=sum(a.connected_at is not None for a in attempts) / n,
        abandoned=sum(a.outcome is CallOutcome.ABANDONED for a in attempts) / n,
        machines=sum(a.machine for a in attempts) / n,
        occupancy=duty.seconds(BUSY) / on_duty if on_duty else None,
    )

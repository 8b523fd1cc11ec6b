"""Run a campaign on the simulated network: ``opendialer simulate`` and ``opendialer demo``
(their tenant, campaign, agents and contacts are made by ``opendialer.demo``).

Simulated agents go through the very agent state machine the agent API drives: after each call
they wrap up for a time drawn from the scenario, then become ready again, or take a break (paused)
when the scenario gives them breaks and one is due. Only users without a password are played: a
person who can sign in (the console, the token endpoint) drives their own state.

:func:`simulate_days` runs a campaign scenario as an operator's week would go: the agents on duty
follow the scenario's schedule (agents come and go by logging in and out; one leaving during a
call asks for a pause, so the engine no longer counts them as about to be free), several days
with the policy carried over and the night in between, and an engine restart at a time of day
(a new engine with a fresh policy, which recounts the day's ledger from the call history as the
live engine does).
"""

import asyncio
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial
from itertools import pairwise
from typing import TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from opendialer.agents import sessions as agent_sessions
from opendialer.clock import Clock
from opendialer.db import SessionMaker, on_loop_allowed, run_unit_of_work, unit_of_work
from opendialer.demo import add_contacts
from opendialer.engine.agent_state import DEFERRED_PAUSE_STATES, AgentEvent
from opendialer.engine.database import runs_inline
from opendialer.engine.live import CampaignTally, LiveCall
from opendialer.engine.pacing.base import PacingPolicy
from opendialer.engine.pacing.select import policy_for
from opendialer.engine.period import Counts
from opendialer.engine.recovery import BUSY_STATES
from opendialer.engine.runner import Engine
from opendialer.models import (
    AgentSession,
    AgentState,
    CallOutcome,
    Campaign,
    CampaignMember,
    CampaignStatus,
    User,
    UserRole,
)
from opendialer.scoping import Scope
from opendialer.telephony import CallEvent, CallEventKind, CallId
from opendialer.telephony.campaign_scenario import CampaignScenario
from opendialer.telephony.sim import SimNetwork
from opendialer.telephony.sim_scenario import Reach, Scenario

T = TypeVar("T")
SAMPLE_SECONDS = 300.0
POLL_SECONDS = 60.0
"""The simulated engine's poll (``Engine.tick_seconds``) and ACD delivery pass: its agents and
network tell it of every change and nobody else writes (no person schedules a callback), so
the poll only catches the time of day (a campaign state change at the end of the calling
hours; dials themselves are checked against the hours when claimed) and is long."""
STAFF_SECONDS = 60.0
"""How often the simulated agents follow the scenario's schedule of agents on duty."""
OFF_SHIFT = "off shift"


@dataclass
class AgentClock:
    """Busy and break time per simulated agent, for occupancy."""

    busy_seconds: float = 0.0
    connected_at: float | None = None
    break_seconds: float = 0.0
    on_break_since: float | None = None
    next_break_at: float | None = None
    """Monotonic time from which the agent takes a break after the current call."""


@dataclass
class CallTruth:
    """What the dialer cannot know: who really answered (the network's truth observer)."""

    reach: dict[CallId, Reach] = field(default_factory=dict)
    people_answered: int = 0
    people_abandoned: int = 0
    """People left waiting past the grace period, or hung up on by AMD."""
    machines_reported: int = 0

    def see(self, event: CallEvent, reach: Reach | None) -> None:
        if reach is None:
            return
        if event.kind is CallEventKind.ANSWERED:
            self.reach[event.call_id] = reach
            self.people_answered += reach is Reach.PERSON
        elif event.kind is CallEventKind.ANSWERED_MACHINE and reach is Reach.PERSON:
            self.people_abandoned += 1  # an AMD false positive: abandoned, as Ofcom counts

    def ended(self, call_id: CallId, outcome: CallOutcome) -> Reach | None:
        reach = self.reach.pop(call_id, None)
        if outcome is CallOutcome.ABANDONED and reach is Reach.PERSON:
            self.people_abandoned += 1
        return reach


@dataclass(frozen=True, slots=True)
class Sample:
    """The run's running totals at one moment (for the picture over the day)."""

    second: float
    attempts: int
    live_answers: int
    abandoned: int
    busy_seconds: float
    break_seconds: float
    duty_seconds: float = 0.0
    """Agent seconds logged in (followed only where the agents follow a schedule)."""


@dataclass(frozen=True, slots=True)
class DayFigures:
    """One simulated day: the dialer's counts, the truth as the law counts it, and the engine's
    ledger (its day and its 30 days) as it stood at the end of the day."""

    day: int
    attempts: int
    live_answers: int
    abandoned: int
    people_answered: int
    people_abandoned: int
    busy_seconds: float
    available_seconds: float
    engine_day: Counts
    engine_period: Counts
    restarts: int = 0

    @property
    def people_abandonment(self) -> float:
        return self.people_abandoned / self.people_answered if self.people_answered else 0.0

    @property
    def occupancy(self) -> float:
        available = self.available_seconds
        return self.busy_seconds / available if available else 0.0


@dataclass
class SimulationResult:
    tally: CampaignTally
    agents: int
    seconds: float
    busy_seconds: float
    break_seconds: float = 0.0
    decisions: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)
    truth: CallTruth = field(default_factory=CallTruth)
    timeline: list[Sample] = field(default_factory=list)
    """Running totals every :data:`SAMPLE_SECONDS` of the run, from its start (with several
    days, of the shifts' time: the nights left out)."""
    duty_seconds: float | None = None
    """Agent seconds logged in, where agents follow a schedule; else all agents all the time."""
    days: list[DayFigures] = field(default_factory=list)

    def agents_by_hour(self) -> list[float]:
        """Mean agents logged in, hour by hour of the run (from the timeline)."""
        if self.duty_seconds is None:
            return [float(self.agents)] * max(1, round(self.seconds / 3600))
        hours: list[float] = []
        for before, after in pairwise(self._hour_marks()):
            span = after.second - before.second
            hours.append((after.duty_seconds - before.duty_seconds) / span if span else 0.0)
        return hours

    def _hour_marks(self) -> list[Sample]:
        marks, hour = [], 0.0
        for sample in self.timeline:
            if sample.second >= hour:
                marks.append(sample)
                hour = sample.second + 3600.0 - 1e-6
        return marks

    @property
    def people_abandonment(self) -> float:
        """Abandoned people ÷ people who answered: the rate the law caps."""
        answered = self.truth.people_answered
        return self.truth.people_abandoned / answered if answered else 0.0

    @property
    def available_seconds(self) -> float:
        """Agent time on duty: logged in and not on a break."""
        logged_in = self.agents * self.seconds if self.duty_seconds is None else self.duty_seconds
        return max(0.0, logged_in - self.break_seconds)

    @property
    def occupancy(self) -> float:
        available = self.available_seconds
        return self.busy_seconds / available if available else 0.0

    @property
    def idle_seconds(self) -> float:
        return max(0.0, self.available_seconds - self.busy_seconds)

    @property
    def abandonment(self) -> float:
        live = self.tally.live_answers
        return self.tally.abandoned / live if live else 0.0


class SimulatedAgents:
    """Plays the agents: wrap-up after each call, then ready again (an engine listener)."""

    def __init__(self, sessions: SessionMaker, clock: Clock, scenario: Scenario, seed: int) -> None:
        self.sessions = sessions
        self.clock = clock
        self.scenario = scenario
        self.rng = random.Random(f"opendialer-agents:{seed}")
        self.engine: Engine | None = None
        self.clocks: dict[int, AgentClock] = {}
        self._tasks: set[asyncio.Future[None]] = set()
        self.truth = CallTruth()
        self.leaving: set[int] = set()
        """Agents sent off shift during a call or a break: they log out when it is over."""
        self.on_duty_since: dict[int, float] = {}
        self._duty_closed = 0.0

    def call_connected(self, call: LiveCall) -> None:
        if call.agent_id is not None:
            self.clocks.setdefault(
                call.agent_id, AgentClock()
            ).connected_at = self.clock.monotonic()

    def call_ended(self, call: LiveCall, outcome: CallOutcome) -> None:
        """An agent who talked to an answering machine says so, as its result code would."""
        reach = self.truth.ended(call.call_id, outcome)
        talked = outcome is CallOutcome.CONNECTED or call.connected_at is not None
        if reach is Reach.MACHINE and talked and self.engine is not None:
            self.truth.machines_reported += 1
            self.engine.answering_machine_found(call.campaign_id)

    def preview_offered(self, tenant_id: int, user_id: int, campaign_id: int) -> None:
        return None

    def agent_wrap_up(self, tenant_id: int, user_id: int, campaign_id: int) -> None:
        wrap = self.scenario.draw_wrap_up(self.rng, self.clock.now())
        self.clock.call_later(wrap, lambda: self._ready(tenant_id, user_id, campaign_id))

    def _ready(self, tenant_id: int, user_id: int, campaign_id: int) -> None:
        state = self.clocks.setdefault(user_id, AgentClock())
        now = self.clock.monotonic()
        if state.connected_at is not None:
            state.busy_seconds += now - state.connected_at
            state.connected_at = None
        if user_id in self.leaving:
            self._go_home(tenant_id, user_id, campaign_id)
            return
        if self._break_due(state, now):
            self._start_break(tenant_id, user_id, campaign_id, state)
            return
        at = self.clock.now()
        wrapping_up = agent_sessions.Believed(AgentState.WRAP_UP, campaign_id)
        self._write(lambda session: _back_to_work(session, tenant_id, user_id, at, wrapping_up))
        self._tell_engine(campaign_id)

    def _go_home(self, tenant_id: int, user_id: int, campaign_id: int) -> None:
        self.leaving.discard(user_id)
        self._off_duty(user_id)
        at = self.clock.now()
        self._write(lambda session: _log_out(session, tenant_id, user_id, at))
        self._tell_engine(campaign_id)

    async def staff(self, campaign_id: int, wanted: int) -> None:
        """Log agents in or out so that ``wanted`` are on duty (those on a call or a break
        leave when it is over)."""
        at, leaving = self.clock.now(), frozenset(self.leaving)
        moves = await self.transact(lambda s: _staff(s, campaign_id, wanted, at, leaving))
        now = self.clock.monotonic()
        on_duty = set(moves.on_duty) - set(moves.went)
        for user_id in on_duty:
            self.on_duty_since.setdefault(user_id, now)
        for user_id in set(self.on_duty_since) - on_duty:  # as the database says
            self._off_duty(user_id)
        self.leaving = (self.leaving | moves.leaving) - set(moves.went)
        if moves.went or moves.came or moves.leaving:
            self._tell_engine(campaign_id)

    async def send_home(self, campaign_id: int) -> None:
        """The shift is over: everyone logs out, those still wrapping up when done (within
        :data:`STAFF_SECONDS` of it, and at most an hour)."""
        for _ in range(int(3600 / STAFF_SECONDS)):
            await self.staff(campaign_id, 0)
            if not self.on_duty_since:
                return
            await self.clock.sleep(STAFF_SECONDS)

    async def keep_staffed(
        self, campaign_id: int, schedule: Callable[[datetime], int], until: datetime
    ) -> None:
        """Follow the schedule of agents on duty every :data:`STAFF_SECONDS` until ``until``."""
        while (left := (until - self.clock.now()).total_seconds()) > 0:
            await self.staff(campaign_id, schedule(self.clock.now()))
            await self.clock.sleep(min(STAFF_SECONDS, left))

    def close_shift(self) -> None:
        """The shift is over: agents' duty, calls and breaks stop counting (those still logged
        in count again from the next shift's start)."""
        now = self.clock.monotonic()
        for user_id in list(self.on_duty_since):
            self._off_duty(user_id)
        for state in self.clocks.values():
            if state.connected_at is not None:
                state.busy_seconds += now - state.connected_at
                state.connected_at = None
            if state.on_break_since is not None:
                state.break_seconds += now - state.on_break_since
                state.on_break_since = None

    def _off_duty(self, user_id: int) -> None:
        since = self.on_duty_since.pop(user_id, None)
        if since is not None:
            self._duty_closed += self.clock.monotonic() - since

    def duty_seconds(self) -> float:
        now = self.clock.monotonic()
        return self._duty_closed + sum(now - since for since in self.on_duty_since.values())

    async def transact(self, work: Callable[[Session], T]) -> T:
        """``work`` in one transaction: the engine's way while one runs, else as it would."""
        if self.engine is not None:
            return await self.engine.db.run(work)
        if runs_inline(self.clock):  # time would jump while a thread worked
            return _inline(self.sessions, work)
        return await run_unit_of_work(self.sessions, work, writes=True)

    def _break_due(self, state: AgentClock, now: float) -> bool:
        if state.next_break_at is None:
            gap = self.scenario.draw_break_every(self.rng, self.clock.now())
            if gap is None:
                return False
            state.next_break_at = now + gap
        return now >= state.next_break_at

    def _start_break(
        self, tenant_id: int, user_id: int, campaign_id: int, state: AgentClock
    ) -> None:
        at = self.clock.now()
        self._write(
            lambda session: _play(session, tenant_id, user_id, AgentEvent.PAUSE, at, "break")
        )
        state.on_break_since = self.clock.monotonic()
        length = self.scenario.draw_break_length(self.rng, self.clock.now())
        self.clock.call_later(length, lambda: self._end_break(tenant_id, user_id, campaign_id))
        self._tell_engine(campaign_id)  # out of wrap-up: no longer about to be free

    def _end_break(self, tenant_id: int, user_id: int, campaign_id: int) -> None:
        state = self.clocks[user_id]
        now = self.clock.monotonic()
        if state.on_break_since is not None:
            state.break_seconds += now - state.on_break_since
        state.on_break_since = state.next_break_at = None
        if user_id in self.leaving:
            self._go_home(tenant_id, user_id, campaign_id)
            return
        at = self.clock.now()
        self._write(lambda session: _back_to_work(session, tenant_id, user_id, at))
        self._tell_engine(campaign_id)

    def _write(self, work: Callable[[Session], object]) -> None:
        """Through the engine's database queue: in order with its own writes, off the loop."""
        if self.engine is not None:
            self.engine.db.submit(work)
            return
        with unit_of_work(self.sessions) as session:
            work(session)

    def _tell_engine(self, campaign_id: int) -> None:
        if self.engine is not None:
            task = asyncio.ensure_future(self.engine.agent_ready(campaign_id))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    def ready_idle(self) -> None:
        """Demo start: simulated agents not on a call are ready (a crash lost their timers).

        Agents the crash left on a call are freed by the engine's recovery, which then tells
        this listener they are in wrap-up, like after any call.
        """
        now = self.clock.now()
        self._write(lambda session: _ready_idle_members(session, now))

    def busy_seconds(self) -> float:
        now = self.clock.monotonic()
        return sum(
            c.busy_seconds + (now - c.connected_at if c.connected_at is not None else 0.0)
            for c in self.clocks.values()
        )

    def break_seconds(self) -> float:
        now = self.clock.monotonic()
        return sum(
            c.break_seconds + (now - c.on_break_since if c.on_break_since is not None else 0.0)
            for c in self.clocks.values()
        )


def _play(
    session: Session,
    tenant_id: int,
    user_id: int,
    event: AgentEvent,
    at: datetime,
    reason: str | None = None,
) -> None:
    """The simulated agent's move; a person who can sign in is left alone."""
    if session.scalar(select(User.password_hash).where(User.id == user_id)) is None:
        agent_sessions.act(
            session, Scope.system(tenant_id), user_id=user_id, event=event, at=at, reason=reason
        )


_BACK_TO_WORK = {AgentState.WRAP_UP: AgentEvent.READY, AgentState.PAUSED: AgentEvent.READY}
_LOG_OUT = {
    state: AgentEvent.LOGOUT for state in (AgentState.READY, AgentState.WRAP_UP, AgentState.PAUSED)
}


def _back_to_work(
    session: Session,
    tenant_id: int,
    user_id: int,
    at: datetime,
    believed: agent_sessions.Believed | None = None,
) -> None:
    """Ready after a wrap-up or a break, unless the shift sent the agent home meanwhile
    (``believed``: the row as the simulation expects it, e.g. in the wrap-up of its call)."""
    agent_sessions.move(
        session,
        Scope.system(tenant_id),
        user_id,
        _BACK_TO_WORK,
        at,
        simulated_only=True,
        believed=believed,
    )


def _log_out(session: Session, tenant_id: int, user_id: int, at: datetime) -> None:
    agent_sessions.move(
        session, Scope.system(tenant_id), user_id, _LOG_OUT, at, simulated_only=True
    )


@dataclass(frozen=True, slots=True)
class _Moves:
    on_duty: list[int]
    came: list[int] = field(default_factory=list)
    went: list[int] = field(default_factory=list)
    leaving: set[int] = field(default_factory=set)


def _staff(
    session: Session, campaign_id: int, wanted: int, at: datetime, leaving: frozenset[int]
) -> _Moves:
    """The simulated members of the campaign logged in or out towards ``wanted`` on duty:
    ready ones leave at once, busy ones ask for a pause (out of the pacing's view) and leave
    when their call is over."""
    rows = session.execute(
        select(
            AgentSession.user_id,
            AgentSession.tenant_id,
            AgentSession.state,
            AgentSession.pause_reason,
        )
        .join(CampaignMember, CampaignMember.user_id == AgentSession.user_id)
        .join(User, User.id == AgentSession.user_id)
        .where(CampaignMember.campaign_id == campaign_id, User.password_hash.is_(None))
        .order_by(AgentSession.user_id)
    ).all()
    on = [r for r in rows if r.state is not AgentState.LOGGED_OUT]
    staying = [r for r in on if r.user_id not in leaving]
    moves = _Moves(on_duty=[r.user_id for r in on])
    for row in on:
        if row.user_id in leaving and row.pause_reason == OFF_SHIFT:  # its call is over
            _play(session, row.tenant_id, row.user_id, AgentEvent.LOGOUT, at)
            moves.went.append(row.user_id)
    if len(staying) > wanted:
        idle_first = sorted(staying, key=lambda r: r.state is not AgentState.READY)
        for row in idle_first[: len(staying) - wanted]:
            _send_off(session, row.tenant_id, row.user_id, row.state, at, moves)
    for row in [r for r in rows if r.state is AgentState.LOGGED_OUT][: wanted - len(staying)]:
        for event in (AgentEvent.LOGIN, AgentEvent.READY):
            _play(session, row.tenant_id, row.user_id, event, at)
        moves.came.append(row.user_id)
        moves.on_duty.append(row.user_id)
    return moves


def _send_off(
    session: Session, tenant_id: int, user_id: int, state: AgentState, at: datetime, into: _Moves
) -> None:
    if state is AgentState.READY:
        _play(session, tenant_id, user_id, AgentEvent.LOGOUT, at)
        into.went.append(user_id)
        return
    if state in DEFERRED_PAUSE_STATES or state is AgentState.WRAP_UP:
        _play(session, tenant_id, user_id, AgentEvent.PAUSE, at, OFF_SHIFT)
    into.leaving.add(user_id)  # on a call, in wrap-up or on a break: leaves when it ends


async def simulate(
    sessions: SessionMaker,
    clock: Clock,
    campaign_id: int,
    scenario: Scenario,
    *,
    seconds: float,
    seed: int,
    policy: PacingPolicy | None = None,
    poll_seconds: float = POLL_SECONDS,
) -> SimulationResult:
    """Run the campaign for ``seconds`` of (virtual) time on the simulated network."""
    driver = SimulatedAgents(sessions, clock, scenario, seed)
    network = SimNetwork(clock, scenario, seed=seed, observer=driver.truth.see)
    factory = (lambda _campaign: policy) if policy is not None else policy_for
    engine = Engine(
        sessions,
        network,
        clock,
        policy_factory=factory,
        listener=driver,
        tick_seconds=poll_seconds,
        acd_seconds=POLL_SECONDS,
        lease_seconds=3 * POLL_SECONDS,  # renewed every poll: no other engine shares it
    )
    driver.engine = engine
    until = clock.now() + timedelta(seconds=seconds)
    timeline: list[Sample] = []
    sampling = asyncio.ensure_future(_sample(engine, driver, campaign_id, seconds, timeline))
    await engine.run([campaign_id], until=until)
    await sampling

    def count_members(session: Session) -> int:
        campaign = session.get_one(Campaign, campaign_id)
        return len(
            list(
                session.scalars(
                    select(User.id).where(
                        User.tenant_id == campaign.tenant_id, User.role == UserRole.AGENT
                    )
                )
            )
        )

    members = await engine.db.run(count_members, writes=False)
    tally = engine.tally(campaign_id)
    return SimulationResult(
        tally=tally,
        agents=members,
        seconds=seconds,
        busy_seconds=driver.busy_seconds(),
        break_seconds=driver.break_seconds(),
        outcomes=dict(tally.outcomes),
        truth=driver.truth,
        timeline=timeline,
    )


async def _sample(
    engine: Engine,
    driver: SimulatedAgents,
    campaign_id: int,
    seconds: float,
    into: list[Sample],
    *,
    offset: float = 0.0,
    before: CampaignTally | None = None,
) -> None:
    """Every :data:`SAMPLE_SECONDS` (and at the end), the run's totals so far: ``offset``
    seconds and the tally ``before`` this engine ran come from the run's earlier engines."""
    clock, start = engine.clock, engine.clock.monotonic()
    base = before or CampaignTally()
    while True:
        second = min(seconds, clock.monotonic() - start)
        runner = engine.runners.get(campaign_id)
        if runner is not None:
            tally = runner.tally
            into.append(
                Sample(
                    offset + second,
                    base.attempts + tally.attempts,
                    base.live_answers + tally.live_answers,
                    base.abandoned + tally.abandoned,
                    driver.busy_seconds(),
                    driver.break_seconds(),
                    driver.duty_seconds(),
                )
            )
        if second >= seconds:
            return
        await clock.sleep(min(SAMPLE_SECONDS, seconds - second))


@dataclass(frozen=True, slots=True)
class Plan:
    """What :func:`simulate_days` runs: ``days`` shifts of ``hours`` from the clock's now,
    a day apart, with an engine restart ``restart_after`` seconds into each shift."""

    days: int = 1
    hours: float = 8.0
    restart_after: float | None = None
    seed: int = 1
    poll_seconds: float = POLL_SECONDS

    def segments(self, start: datetime) -> list[tuple[datetime, datetime]]:
        """The engines' runs in one shift: one, or two around the restart."""
        end = start + timedelta(hours=self.hours)
        cut = self.restart_after
        if cut is None or not 0 < cut < self.hours * 3600:
            return [(start, end)]
        middle = start + timedelta(seconds=cut)
        return [(start, middle), (middle, end)]


class CarriedPolicy:
    """The pacing policy carried from day to day, as one long-running engine keeps it; an
    engine restart (:meth:`restart`) makes the next engine build a fresh one."""

    def __init__(self, factory: Callable[[Campaign], PacingPolicy]) -> None:
        self.factory = factory
        self.policy: PacingPolicy | None = None

    def __call__(self, campaign: Campaign) -> PacingPolicy:
        if self.policy is None:
            self.policy = self.factory(campaign)
        return self.policy

    def restart(self) -> None:
        self.policy = None


@dataclass
class _Marks:
    """The run's running totals where a day began."""

    tally: CampaignTally
    people_answered: int
    people_abandoned: int
    busy: float
    available: float

    @classmethod
    def of(cls, tally: CampaignTally, driver: SimulatedAgents) -> "_Marks":
        truth = driver.truth
        available = driver.duty_seconds() - driver.break_seconds()
        return cls(
            _added(CampaignTally(), tally),
            truth.people_answered,
            truth.people_abandoned,
            driver.busy_seconds(),
            available,
        )


async def simulate_days(
    sessions: SessionMaker,
    clock: Clock,
    campaign_id: int,
    scenario: CampaignScenario,
    plan: Plan,
    *,
    policy_factory: Callable[[Campaign], PacingPolicy] = policy_for,
) -> SimulationResult:
    """Run the campaign scenario's shifts on the simulated network: agents on duty by its
    schedule, the policy carried over the days (fresh after a restart), one engine per run."""
    driver = SimulatedAgents(sessions, clock, scenario.sim, plan.seed)
    policy = CarriedPolicy(policy_factory)
    total, timeline, days = CampaignTally(), list[Sample](), list[DayFigures]()
    first = clock.now()

    def on_duty(at: datetime) -> int:
        return scenario.agents_at(scenario.sim.second_of_day(at))

    listed = scenario.contacts.size if scenario.contacts is not None else 0
    for day in range(plan.days):
        start = first + timedelta(days=day)
        await clock.sleep(max(0.0, (start - clock.now()).total_seconds()))
        marks = _Marks.of(total, driver)
        refills = asyncio.ensure_future(
            _refill(clock, driver, campaign_id, scenario, start, listed)
        )
        segments = plan.segments(start)
        for index, (planned, end) in enumerate(segments):
            begin = max(planned, clock.now())  # the last engine's calls may have run late
            if index:
                policy.restart()
            run = _EngineRun(driver, campaign_id, policy, plan, network_seed=(day, index))
            offset = (day * plan.hours * 3600) + (begin - start).total_seconds()
            tally, ledger = await run.until(begin, end, on_duty, timeline, offset, total)
            _added(total, tally)
        listed += await refills
        await driver.send_home(campaign_id)
        driver.close_shift()
        days.append(_day_figures(day, marks, total, driver, ledger, len(segments) - 1))
    return SimulationResult(
        tally=total,
        agents=max((scenario.agents_at(s) for s in _shift_seconds(scenario, plan)), default=0),
        seconds=plan.days * plan.hours * 3600,
        busy_seconds=driver.busy_seconds(),
        break_seconds=driver.break_seconds(),
        outcomes=dict(total.outcomes),
        truth=driver.truth,
        timeline=timeline,
        duty_seconds=driver.duty_seconds(),
        days=days,
    )


async def _refill(
    clock: Clock,
    driver: SimulatedAgents,
    campaign_id: int,
    scenario: CampaignScenario,
    start: datetime,
    listed: int,
) -> int:
    """The contact list's refills of the shift that starts at ``start``, each at its time of day
    and numbered after the ``listed`` contacts so far; how many were added."""
    added = 0
    for after, count in scenario.refills_after():
        due = start + timedelta(seconds=after)
        await clock.sleep(max(0.0, (due - clock.now()).total_seconds()))
        indexes = range(listed + added, listed + added + count)
        await driver.transact(partial(_add_contacts, campaign_id, indexes, clock.now()))
        added += count
        if driver.engine is not None and campaign_id in driver.engine.runners:
            driver.engine.runners[campaign_id].wake(stale=True)
    return added


def _inline(sessions: SessionMaker, work: Callable[[Session], T]) -> T:
    with on_loop_allowed(), unit_of_work(sessions) as session:
        return work(session)


def _add_contacts(campaign_id: int, indexes: range, at: datetime, session: Session) -> None:
    tenant_id = session.get_one(Campaign, campaign_id).tenant_id
    add_contacts(session, tenant_id, campaign_id, indexes, at)


class _EngineRun:
    """One engine's life within a shift: from its start (recovering what the last left and
    recounting the ledger) to its stop (live calls allowed to end)."""

    def __init__(
        self,
        driver: SimulatedAgents,
        campaign_id: int,
        policy: CarriedPolicy,
        plan: Plan,
        network_seed: tuple[int, int],
    ) -> None:
        day, index = network_seed
        network = SimNetwork(
            driver.clock,
            driver.scenario,
            seed=plan.seed * 1000 + day * 2 + index,  # each engine run its own dials
            observer=driver.truth.see,
        )
        self.engine = Engine(
            driver.sessions,
            network,
            driver.clock,
            engine_id=f"simulation-{plan.seed}",  # a restart of the same engine
            policy_factory=policy,
            listener=driver,
            tick_seconds=plan.poll_seconds,
            acd_seconds=POLL_SECONDS,
            lease_seconds=3 * POLL_SECONDS,
        )
        self.driver, self.campaign_id = driver, campaign_id

    async def until(
        self,
        begin: datetime,
        end: datetime,
        on_duty: Callable[[datetime], int],
        timeline: list[Sample],
        offset: float,
        before: CampaignTally,
    ) -> tuple[CampaignTally, tuple[Counts, Counts]]:
        """Run from ``begin`` (now) to ``end``: the engine's tally and its ledger at the end
        (the day, the 30 days)."""
        driver, engine = self.driver, self.engine
        driver.engine = engine
        seconds = (end - begin).total_seconds()
        await driver.staff(self.campaign_id, on_duty(begin))
        staffing = asyncio.ensure_future(driver.keep_staffed(self.campaign_id, on_duty, end))
        sampling = asyncio.ensure_future(
            _sample(
                engine, driver, self.campaign_id, seconds, timeline, offset=offset, before=before
            )
        )
        try:
            await engine.run([self.campaign_id], until=end)
        finally:
            await staffing
            await sampling
            driver.engine = None
        runner = engine.runners[self.campaign_id]
        ledger = runner.ledger
        return runner.tally, (ledger.day(runner.tally), ledger.period(runner.tally))


def _added(total: CampaignTally, part: CampaignTally) -> CampaignTally:
    """``part`` added into ``total`` (returned)."""
    for name in ("attempts", "live_answers", "connects", "abandoned", "machines"):
        setattr(total, name, getattr(total, name) + getattr(part, name))
    total.machines_found += part.machines_found
    total.wait_seconds += part.wait_seconds
    for outcome, count in part.outcomes.items():
        total.outcomes[outcome] = total.outcomes.get(outcome, 0) + count
    return total


def _day_figures(
    day: int,
    marks: _Marks,
    total: CampaignTally,
    driver: SimulatedAgents,
    ledger: tuple[Counts, Counts],
    restarts: int,
) -> DayFigures:
    truth = driver.truth
    return DayFigures(
        day=day + 1,
        attempts=total.attempts - marks.tally.attempts,
        live_answers=total.live_answers - marks.tally.live_answers,
        abandoned=total.abandoned - marks.tally.abandoned,
        people_answered=truth.people_answered - marks.people_answered,
        people_abandoned=truth.people_abandoned - marks.people_abandoned,
        busy_seconds=driver.busy_seconds() - marks.busy,
        available_seconds=driver.duty_seconds() - driver.break_seconds() - marks.available,
        engine_day=ledger[0],
        engine_period=ledger[1],
        restarts=restarts,
    )


def _shift_seconds(scenario: CampaignScenario, plan: Plan) -> list[float]:
    """The shift's seconds of the day, minute by minute (where the schedule is read)."""
    start = scenario.start_second
    return [start + 60.0 * m for m in range(int(plan.hours * 60) + 1)]


def _ready_idle_members(session: Session, now: datetime) -> None:
    """Every simulated agent of an enabled campaign not reserved or on a call logs in and is
    ready."""
    rows = session.execute(
        select(User.tenant_id, User.id)
        .join(CampaignMember, CampaignMember.user_id == User.id)
        .join(Campaign, Campaign.id == CampaignMember.campaign_id)
        .where(Campaign.status == CampaignStatus.ENABLED, User.password_hash.is_(None))
        .distinct()
    ).all()
    for tenant_id, user_id in rows:
        row = agent_sessions.agent_session(session, Scope.system(tenant_id), user_id=user_id)
        if row.state in BUSY_STATES:
            continue
        row.state, row.since, row.pause_reason, row.pause_requested = (
            AgentState.READY,
            now,
            None,
            None,
        )
        row.campaign_id = row.contact_id = row.call_attempt_id = None
        row.logged_in_at = row.logged_in_at or now

"""Run a campaign on the simulated network: ``opendialer simulate`` and ``opendialer demo``
(their tenant, campaign, agents and contacts are made by ``opendialer.demo``).

Simulated agents go through the very agent state machine the agent API drives: after each call
they wrap up for a time drawn from the scenario, then become ready again, or take a break (paused)
when the scenario gives them breaks and one is due. Only users without a password are played: a
person who can sign in (the console, the token endpoint) drives their own state.
"""

import asyncio
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from opendialer.agents import sessions as agent_sessions
from opendialer.clock import Clock
from opendialer.db import SessionMaker, unit_of_work
from opendialer.engine.agent_state import AgentEvent
from opendialer.engine.live import CampaignTally, LiveCall
from opendialer.engine.pacing.base import PacingPolicy
from opendialer.engine.pacing.select import policy_for
from opendialer.engine.recovery import BUSY_STATES
from opendialer.engine.runner import Engine
from opendialer.models import (
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
from opendialer.telephony.sim import SimNetwork
from opendialer.telephony.sim_scenario import Reach, Scenario

SAMPLE_SECONDS = 300.0
POLL_SECONDS = 60.0
"""The simulated engine's poll (``Engine.tick_seconds``) and ACD delivery pass: its agents and
network tell it of every change and nobody else writes (no person schedules a callback), so
the poll only catches the time of day (a campaign state change at the end of the calling
hours; dials themselves are checked against the hours when claimed) and is long."""


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
    """Running totals every :data:`SAMPLE_SECONDS` of the run, from its start."""

    @property
    def people_abandonment(self) -> float:
        """Abandoned people ÷ people who answered: the rate the law caps."""
        answered = self.truth.people_answered
        return self.truth.people_abandoned / answered if answered else 0.0

    @property
    def available_seconds(self) -> float:
        """Agent time on duty: logged in and not on a break."""
        return max(0.0, self.agents * self.seconds - self.break_seconds)

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
        if self._break_due(state, now):
            self._start_break(tenant_id, user_id, campaign_id, state)
            return
        at = self.clock.now()
        self._write(lambda session: _play(session, tenant_id, user_id, AgentEvent.READY, at))
        self._tell_engine(campaign_id)

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
        at = self.clock.now()
        self._write(lambda session: _play(session, tenant_id, user_id, AgentEvent.READY, at))
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
    engine: Engine, driver: SimulatedAgents, campaign_id: int, seconds: float, into: list[Sample]
) -> None:
    """Every :data:`SAMPLE_SECONDS` (and at the end), the run's totals so far."""
    clock, start = engine.clock, engine.clock.monotonic()
    while True:
        second = min(seconds, clock.monotonic() - start)
        runner = engine.runners.get(campaign_id)
        if runner is not None:
            tally = runner.tally
            into.append(
                Sample(
                    second,
                    tally.attempts,
                    tally.live_answers,
                    tally.abandoned,
                    driver.busy_seconds(),
                    driver.break_seconds(),
                )
            )
        if second >= seconds:
            return
        await clock.sleep(min(SAMPLE_SECONDS, seconds - second))


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

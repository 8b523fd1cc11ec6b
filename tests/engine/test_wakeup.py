"""The engine looks at a campaign when something happens or a timer asks, never on a fixed tick:
each kind of event wakes it at once, and between them it does no database work."""

import asyncio
import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from itertools import pairwise
from typing import Any

from sqlalchemy import event, select
from sqlalchemy.orm import Session

from opendialer.agents import sessions as agent_sessions
from opendialer.clock import VirtualClock
from opendialer.db import SessionMaker, unit_of_work
from opendialer.demo import SimulationSetup, prepare_campaign
from opendialer.engine.agent_state import AgentEvent
from opendialer.engine.pacing.base import Observation, PacingDecision, PacingSnapshot
from opendialer.engine.runner import Engine
from opendialer.engine.simulation import SimulatedAgents
from opendialer.engine.wakeup import Wakeup
from opendialer.models import CallAttempt, Campaign, CampaignMember, DialMode
from opendialer.scoping import Scope
from opendialer.telephony.sim import SimNetwork
from opendialer.telephony.sim_scenario import Scenario
from tests.conftest import on_sqlite
from tests.engine.helpers import make_contact

START = datetime.fromisoformat("2026-11-23T09:00:00+00:00")  # Monday 10:00 in Berlin
POLL = 3600.0  # the engine's poll, far beyond every test's horizon: only events and timers


class AskedPolicy:
    """A real policy: one dial whenever nothing is in flight and an agent is ready; remembers
    when it was asked; asks to be asked again after ``recheck`` seconds when given."""

    name = "asked"

    def __init__(self, recheck: float | None = None, dial: bool = True) -> None:
        self.recheck = recheck
        self.dial = dial
        self.asked: list[float] = []

    def decide(self, snapshot: PacingSnapshot) -> PacingDecision:
        self.asked.append(snapshot.now)
        idle = not snapshot.dials_in_progress and snapshot.agents_ready > 0
        dials = 1 if self.dial and idle and snapshot.dialable_now != 0 else 0
        return PacingDecision(dials, float(dials), "asked", recheck_after=self.recheck)

    def observe(self, observation: Observation) -> None:
        return None


def _engine(
    sessions: SessionMaker,
    clock: VirtualClock,
    policy: AskedPolicy,
    contacts: int,
    agents: int,
    **polls: Any,
) -> tuple[int, Engine]:
    """``polls``: the engine's ``tick_seconds`` (default POLL), ``reread_seconds`` and
    ``lease_seconds``."""
    setup = SimulationSetup(agents=agents, contacts=contacts, dial_mode=DialMode.PREDICTIVE)
    campaign_id = prepare_campaign(sessions, setup, clock.now())
    driver = SimulatedAgents(sessions, clock, Scenario(), seed=1)
    network = SimNetwork(clock, Scenario(), seed=1)
    engine = Engine(
        sessions,
        network,
        clock,
        engine_id="wake",
        policy_factory=lambda _campaign: policy,
        listener=driver,
        **{"tick_seconds": POLL, **polls},
    )
    driver.engine = engine
    return campaign_id, engine


def _run(clock: VirtualClock, engine: Engine, campaign_id: int, seconds: float) -> None:
    clock.run(engine.run([campaign_id], until=START + timedelta(seconds=seconds)))


def _attempts(sessions: SessionMaker) -> list[CallAttempt]:
    with unit_of_work(sessions) as session:
        return list(session.scalars(select(CallAttempt).order_by(CallAttempt.id)))


def _at(clock_second: float) -> datetime:
    return START + timedelta(seconds=clock_second)


def test_a_wakeup_waits_for_its_deadline_or_the_first_event() -> None:
    clock = VirtualClock(START)

    async def scenario() -> list[tuple[float, float]]:
        wakeup = Wakeup(clock)
        seen = [(await wakeup.wait(5.0), clock.monotonic())]  # nothing happens: the deadline
        clock.call_later(2.0, lambda: wakeup.wake(stale=False))
        seen.append((await wakeup.wait(60.0), clock.monotonic()))  # an event 2 s later
        wakeup.wake(stale=True)  # while busy: the next wait returns at once
        seen.append((await wakeup.wait(600.0), clock.monotonic()))
        assert wakeup.stale
        return seen

    assert clock.run(scenario()) == [(5.0, 5.0), (7.0, 7.0), (7.0, 7.0)]


def test_the_policy_is_asked_again_when_it_asks_and_not_otherwise(
    sessions: SessionMaker,
) -> None:
    clock = VirtualClock(START)
    policy = AskedPolicy(recheck=7.0, dial=False)
    campaign_id, engine = _engine(sessions, clock, policy, contacts=10, agents=2)
    _run(clock, engine, campaign_id, 30.0)

    assert policy.asked == [0.0, 7.0, 14.0, 21.0, 28.0]

    quiet = AskedPolicy(recheck=None, dial=False)
    clock = VirtualClock(START)
    campaign_id, engine = _engine(sessions, clock, quiet, contacts=10, agents=2)
    _run(clock, engine, campaign_id, 300.0)
    assert quiet.asked == [0.0]  # nothing happened: asked once


def test_call_events_wake_the_campaign_at_once(sessions: SessionMaker) -> None:
    clock = VirtualClock(START)
    policy = AskedPolicy()
    campaign_id, engine = _engine(sessions, clock, policy, contacts=40, agents=1)
    _run(clock, engine, campaign_id, 1200.0)

    # Calls that ended before the run did (later ones end while the engine drains).
    attempts = [a for a in _attempts(sessions) if a.ended_at and a.ended_at < _at(1200.0)]
    assert len(attempts) >= 5
    asked = {_at(t) for t in policy.asked}
    for attempt in attempts:
        assert attempt.ended_at in asked  # the call ended: pacing decided there and then
        if attempt.connected_at is not None:
            assert attempt.connected_at in asked  # answered and bridged
    # Each next dial went out when the one before was over (one at a time), not at a poll.
    for before, after in pairwise(attempts):
        if before.connected_at is None:
            assert after.started_at == before.ended_at


def test_an_agent_becoming_ready_wakes_the_campaign_at_once(sessions: SessionMaker) -> None:
    clock = VirtualClock(START)
    policy = AskedPolicy()
    campaign_id, engine = _engine(sessions, clock, policy, contacts=10, agents=1)
    _pause_everyone(sessions, campaign_id, START)

    async def ready_in_a_while() -> None:
        await clock.sleep(100.0)
        _set_everyone(sessions, campaign_id, AgentEvent.READY, _at(100.0))
        await engine.agent_ready(campaign_id)

    async def run() -> None:
        readying = asyncio.ensure_future(ready_in_a_while())
        await engine.run([campaign_id], until=_at(150.0))
        await readying

    clock.run(run())
    first = _attempts(sessions)[0]
    assert first.started_at == _at(100.0)


def test_a_contact_falling_due_wakes_the_campaign_at_its_time(sessions: SessionMaker) -> None:
    clock = VirtualClock(START)
    policy = AskedPolicy()
    campaign_id, engine = _engine(sessions, clock, policy, contacts=0, agents=1)
    with unit_of_work(sessions) as session:
        campaign = session.get_one(Campaign, campaign_id)
        make_contact(session, campaign, "+4930555000", next_try_at=_at(250.0))
    _run(clock, engine, campaign_id, 400.0)

    attempts = _attempts(sessions)
    assert [a.started_at for a in attempts] == [_at(250.0)]


_NOT_THE_CAMPAIGNS = re.compile(r"engine_leases|acd_events|^\s*(BEGIN|COMMIT|ROLLBACK)", re.I)


@contextmanager
def _statements(sessions: SessionMaker, clock: VirtualClock) -> Iterator[list[tuple[float, str]]]:
    """Every SQL statement sent to the database, with the virtual time it was sent at."""
    bind: Any = sessions.kw["bind"]
    seen: list[tuple[float, str]] = []

    def record(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        seen.append((clock.monotonic(), statement))

    event.listen(bind, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(bind, "before_cursor_execute", record)


def test_an_idle_campaign_does_no_database_work(sessions: SessionMaker) -> None:
    # Agents ready, contacts due, a policy that holds but wants to be asked every second (as
    # a forecast moving with time does): it is asked 600 times, all from memory.
    clock = VirtualClock(START)
    policy = AskedPolicy(recheck=1.0, dial=False)
    campaign_id, engine = _engine(sessions, clock, policy, contacts=10, agents=3)
    with _statements(sessions, clock) as statements:
        _run(clock, engine, campaign_id, 600.0)

    later = [(at, s) for at, s in statements if at > 0.0]
    others = [s for _, s in later if _NOT_THE_CAMPAIGNS.search(s)]
    campaigns = [(at, s) for at, s in later if not _NOT_THE_CAMPAIGNS.search(s)]
    assert others  # the lease heartbeat and the ACD poll ran (the listener sees statements)
    assert [s for at, s in campaigns if at < 600.0] == []
    # At the run's end, the row of its one logged decision (the hold at the start, kept for
    # the runner's next transaction), once the campaign is found still there.
    at_end = [s.split("(")[0].strip() for _, s in campaigns]
    assert at_end[-1] == "INSERT INTO pacing_decisions"
    assert all(s.startswith("SELECT campaigns.updated_at") for s in at_end[:-1]), at_end
    assert policy.asked == [float(second) for second in range(600)]


def _set_everyone(sessions: SessionMaker, campaign_id: int, move: AgentEvent, at: datetime) -> None:
    with unit_of_work(sessions) as session:
        tenant_id = session.get_one(Campaign, campaign_id).tenant_id
        for user_id in _members(session, campaign_id):
            agent_sessions.act(session, Scope.system(tenant_id), move, user_id=user_id, at=at)


def _pause_everyone(sessions: SessionMaker, campaign_id: int, at: datetime) -> None:
    _set_everyone(sessions, campaign_id, AgentEvent.PAUSE, at)


def _members(session: Session, campaign_id: int) -> list[int]:
    return list(
        session.scalars(
            select(CampaignMember.user_id).where(CampaignMember.campaign_id == campaign_id)
        )
    )


_CHANGE_TOKEN = re.compile(r"data_version|pg_current_snapshot")
_CAMPAIGN_READ = re.compile(r"^\s*SELECT CAST\(NULL AS \w+\) AS user_id, agent_sessions\.state")


def _polls_and_reads(statements: list[tuple[float, str]]) -> tuple[list[float], list[float]]:
    """When the engine asked for the change token, and when it read the campaign."""
    tokens = [at for at, s in statements if _CHANGE_TOKEN.search(s)]
    reads = [at for at, s in statements if _CAMPAIGN_READ.search(s)]
    return tokens, reads


def _quiet_run(sessions: SessionMaker, reread: float) -> tuple[list[float], list[float]]:
    """Agents ready, contacts due, a policy that holds: 300 s with a poll every 0.5 s."""
    clock = VirtualClock(START)
    policy = AskedPolicy(dial=False)
    polls = {"tick_seconds": 0.5, "reread_seconds": reread, "lease_seconds": 3600.0}
    campaign_id, engine = _engine(sessions, clock, policy, contacts=10, agents=3, **polls)
    with _statements(sessions, clock) as statements:
        _run(clock, engine, campaign_id, 300.0)
    return _polls_and_reads([(at, s) for at, s in statements if at < 300.0])


def test_a_poll_reads_the_campaign_only_when_the_database_changed(
    sessions: SessionMaker,
) -> None:
    tokens, reads = _quiet_run(sessions, reread=3600.0)
    polls = [0.5 * k for k in range(600)]
    assert sorted(set(tokens)) == polls  # each poll asked (the first with the first read)
    assert set(reads) <= set(polls)
    if on_sqlite(sessions):
        # Nothing was committed after the first look. (PostgreSQL's snapshot is the
        # cluster's: the other test workers' databases move it, so it reads now and then.)
        assert reads == [0.0]
        tokens, reads = _quiet_run(sessions, reread=30.0)
        # At the latest 30 s after the last read at a poll, a read anyway; the one at 30 s
        # wrote the first look's decision row (kept for the runner's next transaction): a
        # change, read at 30.5 s.
        assert reads == [0.0, 30.0] + [30.5 + 30.0 * k for k in range(9)]


def test_a_contact_added_by_another_connection_is_dialled_at_the_next_poll(
    sessions: SessionMaker,
) -> None:
    clock = VirtualClock(START)
    policy = AskedPolicy()
    polls = {"tick_seconds": 0.5, "reread_seconds": 3600.0, "lease_seconds": 3600.0}
    campaign_id, engine = _engine(sessions, clock, policy, contacts=0, agents=1, **polls)

    async def add_a_contact_in_a_while() -> None:
        await clock.sleep(100.2)
        with unit_of_work(sessions) as session:  # another connection, as the API's would be
            make_contact(session, session.get_one(Campaign, campaign_id), "+4930555000")

    async def run() -> None:
        adding = asyncio.ensure_future(add_a_contact_in_a_while())
        await engine.run([campaign_id], until=_at(150.0))
        await adding

    with _statements(sessions, clock) as statements:
        clock.run(run())
    assert [a.started_at for a in _attempts(sessions)] == [_at(100.5)]
    if on_sqlite(sessions):  # see the test before
        _, reads = _polls_and_reads(statements)
        assert [at for at in reads if at < 100.5] == [0.0]  # no read before it, none needed


def test_the_campaigns_of_an_engine_share_a_poll_s_change_token(sessions: SessionMaker) -> None:
    clock = VirtualClock(START)
    polls = {"tick_seconds": 0.5, "reread_seconds": 3600.0, "lease_seconds": 3600.0}
    first, engine = _engine(sessions, clock, AskedPolicy(dial=False), 10, 3, **polls)
    setup = SimulationSetup(agents=3, contacts=10, dial_mode=DialMode.PREDICTIVE)
    second = prepare_campaign(sessions, setup, clock.now())
    with _statements(sessions, clock) as statements:
        clock.run(engine.run([first, second], until=_at(300.0)))
    tokens, reads = _polls_and_reads([(at, s) for at, s in statements if 0.0 < at < 300.0])
    assert sorted(set(tokens)) == [0.5 * k for k in range(1, 600)]  # both campaigns polled
    if on_sqlite(sessions):  # no read, whose token would count too
        assert reads == []
        assert len(tokens) == len(set(tokens))  # each poll's token taken once for the two

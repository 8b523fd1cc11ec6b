"""The engine on the simulated network and a virtual clock, on both databases.

Properties that must hold whatever the campaign: no DNC number is dialled, no call is placed
outside the callee's local hours, no contact is in two calls at once, and every attempt ends in
exactly one terminal state.
"""

import asyncio
import itertools
from collections import defaultdict
from datetime import datetime, time, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from opendialer.clock import VirtualClock
from opendialer.db import SessionMaker, create_db_engine, create_sessionmaker, unit_of_work
from opendialer.demo import SimulationSetup, prepare_campaign
from opendialer.engine.compliance import callee_hours_open
from opendialer.engine.outcomes import start_attempt
from opendialer.engine.pacing.predictive import PredictivePolicy
from opendialer.engine.recovery import recover_engine
from opendialer.engine.runner import Engine
from opendialer.engine.selection import claim_next
from opendialer.engine.simulation import SimulatedAgents, simulate
from opendialer.models import (
    CallAttempt,
    Campaign,
    Contact,
    ContactPhone,
    ContactStatus,
    DialMode,
    DncEntry,
)
from opendialer.telephony import CallId, OriginateRequest, TelephonyError
from opendialer.telephony.sim import SimNetwork
from opendialer.telephony.sim_scenario import Scenario

ZONED_NUMBERS = [
    "+49301234{:03d}",  # Berlin
    "+1212555{:04d}",  # New York
    "+1310555{:04d}",  # Los Angeles
    "+61291{:04d}",  # Sydney
    "+1208555{:04d}",  # Idaho: two zones
]


def _add_contacts(
    session: Session, campaign: Campaign, count: int, dnc_every: int, start: datetime
) -> set[str]:
    """Contacts with one or two numbers across zones; every ``dnc_every``-th number blocked."""
    blocked: set[str] = set()
    for i in range(count):
        numbers = [ZONED_NUMBERS[(i + k) % len(ZONED_NUMBERS)].format(i) for k in range(1 + i % 2)]
        contact = Contact(
            tenant_id=campaign.tenant_id,
            campaign_id=campaign.id,
            next_try_at=start - timedelta(minutes=1),
            custom_data={},
            form_data={},
        )
        contact.phones = [
            ContactPhone(
                tenant_id=campaign.tenant_id, campaign_id=campaign.id, position=p, raw=n, e164=n
            )
            for p, n in enumerate(numbers, start=1)
        ]
        session.add(contact)
        if dnc_every and i % dnc_every == 0:
            blocked.add(numbers[0])
            session.add(DncEntry(tenant_id=campaign.tenant_id, e164=numbers[0]))
    session.flush()
    return blocked


def _check_properties(sessions: SessionMaker, campaign_id: int, blocked: set[str]) -> int:
    with unit_of_work(sessions) as session:
        campaign = session.get_one(Campaign, campaign_id)
        attempts = session.scalars(
            select(CallAttempt).where(CallAttempt.campaign_id == campaign_id)
        ).all()
        by_contact: dict[int | None, list[CallAttempt]] = defaultdict(list)
        for attempt in attempts:
            assert attempt.outcome is not None and attempt.ended_at is not None
            assert attempt.b_number not in blocked
            assert callee_hours_open(attempt.b_number, campaign, attempt.started_at)
            by_contact[attempt.contact_id].append(attempt)
        for rows in by_contact.values():
            rows.sort(key=lambda a: (a.started_at, a.id))
            for earlier, later in itertools.pairwise(rows):
                assert earlier.ended_at is not None and earlier.ended_at <= later.started_at
        stuck = session.scalar(
            select(func.count())
            .select_from(Contact)
            .where(Contact.campaign_id == campaign_id, Contact.status == ContactStatus.IN_CALL)
        )
        assert stuck == 0
        return len(attempts)


def _run(
    sessions: SessionMaker,
    setup: SimulationSetup,
    contacts: int,
    dnc_every: int,
    start: datetime,
    hours: float,
    seed: int,
) -> tuple[int, set[str]]:
    clock = VirtualClock(start)
    campaign_id = prepare_campaign(sessions, setup, clock.now())
    with unit_of_work(sessions) as session:
        campaign = session.get_one(Campaign, campaign_id)
        blocked = _add_contacts(session, campaign, contacts, dnc_every, clock.now())
    clock.run(simulate(sessions, clock, campaign_id, Scenario(), seconds=hours * 3600, seed=seed))
    return campaign_id, blocked


def test_a_predictive_hour_keeps_every_rule(sessions: SessionMaker) -> None:
    start = datetime.fromisoformat("2026-11-23T15:00:00+00:00")  # Berlin 16:00, NY 10:00
    setup = SimulationSetup(agents=4, contacts=0, dial_mode=DialMode.PREDICTIVE)
    campaign_id, blocked = _run(sessions, setup, 120, 7, start, 1.0, seed=3)
    assert _check_properties(sessions, campaign_id, blocked) > 50


def test_progressive_mode_rings_the_agent_first(sessions: SessionMaker) -> None:
    start = datetime.fromisoformat("2026-11-23T15:00:00+00:00")
    setup = SimulationSetup(agents=2, contacts=0, dial_mode=DialMode.PROGRESSIVE)
    campaign_id, blocked = _run(sessions, setup, 40, 0, start, 0.5, seed=4)
    with unit_of_work(sessions) as session:
        connected = session.scalars(
            select(CallAttempt).where(
                CallAttempt.campaign_id == campaign_id, CallAttempt.outcome == "connected"
            )
        ).all()
        assert connected and all(a.user_id is not None for a in connected)
        abandoned = session.scalar(
            select(func.count()).select_from(CallAttempt).where(CallAttempt.outcome == "abandoned")
        )
        assert abandoned == 0
    _check_properties(sessions, campaign_id, blocked)


@settings(max_examples=6, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    hour=st.integers(min_value=0, max_value=23),
    weekday=st.integers(min_value=0, max_value=6),
    dnc_every=st.integers(min_value=0, max_value=4),
    agents=st.integers(min_value=1, max_value=4),
    opens=st.integers(min_value=6, max_value=11),
    seed=st.integers(min_value=0, max_value=10_000),
)
def test_properties_hold_for_random_campaigns(
    sessions: SessionMaker,
    db_engine: object,
    hour: int,
    weekday: int,
    dnc_every: int,
    agents: int,
    opens: int,
    seed: int,
) -> None:
    start = datetime.fromisoformat("2026-11-23T00:00:00+00:00") + timedelta(
        days=weekday, hours=hour
    )
    setup = SimulationSetup(agents=agents, contacts=0, calling_hours=(time(opens), time(opens + 9)))
    campaign_id, blocked = _run(sessions, setup, 30, dnc_every, start, 0.5, seed)
    _check_properties(sessions, campaign_id, blocked)


def test_two_engines_share_one_database(database_url: str, sessions: SessionMaker) -> None:
    start = datetime.fromisoformat("2026-11-23T15:00:00+00:00")
    clock = VirtualClock(start)
    setup = SimulationSetup(agents=6, contacts=0)
    campaign_id = prepare_campaign(sessions, setup, clock.now())
    with unit_of_work(sessions) as session:
        blocked = _add_contacts(session, session.get_one(Campaign, campaign_id), 80, 5, start)
    second = create_sessionmaker(create_db_engine(database_url))

    async def both() -> None:
        until = clock.now() + timedelta(minutes=40)
        engines = []
        for i, s in enumerate((sessions, second)):
            driver = SimulatedAgents(s, clock, Scenario(), seed=i)
            network = SimNetwork(clock, Scenario(), seed=i)
            engines.append(Engine(s, network, clock, engine_id=f"e{i}", listener=driver))
            driver.engine = engines[-1]
        await asyncio.gather(*(e.run([campaign_id], until=until) for e in engines))

    clock.run(both())
    with unit_of_work(sessions) as session:
        engines_used = set(
            session.scalars(
                select(CallAttempt.engine_id).where(CallAttempt.campaign_id == campaign_id)
            )
        )
    assert engines_used == {"e0", "e1"}
    assert _check_properties(sessions, campaign_id, blocked) > 20


def test_restart_after_a_crash_leaves_nothing_open(sessions: SessionMaker) -> None:
    start = datetime.fromisoformat("2026-11-23T15:00:00+00:00")
    campaign_id = prepare_campaign(sessions, SimulationSetup(agents=1, contacts=5), start)
    with unit_of_work(sessions) as session:
        campaign = session.get_one(Campaign, campaign_id)
        for _ in range(3):
            claim = claim_next(session, campaign, start, "crashed")
            assert claim is not None
            start_attempt(session, campaign, claim, start, "crashed")
    with unit_of_work(sessions) as session:
        assert recover_engine(session, "crashed", start + timedelta(minutes=5)).attempts == 3
    _check_properties(sessions, campaign_id, set())
    with unit_of_work(sessions) as session:
        outcomes = set(session.scalars(select(CallAttempt.outcome)))
        assert outcomes == {"failed"}


class FlakyNetwork(SimNetwork):
    """The simulated network with a broken trunk for numbers ending in an even digit."""

    async def originate(self, request: OriginateRequest) -> CallId:
        if int(request.number[-1]) % 2 == 0:
            raise TelephonyError("trunk down")
        return await super().originate(request)


def test_backend_failures_end_attempts_and_the_campaign_goes_on(sessions: SessionMaker) -> None:
    start = datetime.fromisoformat("2026-11-23T15:00:00+00:00")
    clock = VirtualClock(start)
    campaign_id = prepare_campaign(sessions, SimulationSetup(agents=3, contacts=40), clock.now())
    driver = SimulatedAgents(sessions, clock, Scenario(), seed=1)
    engine = Engine(sessions, FlakyNetwork(clock, Scenario(), seed=1), clock, listener=driver)
    driver.engine = engine
    clock.run(engine.run([campaign_id], until=clock.now() + timedelta(minutes=20)))
    with unit_of_work(sessions) as session:
        attempts = session.scalars(select(CallAttempt)).all()
    failed = [a for a in attempts if int(a.b_number[-1]) % 2 == 0]
    placed = [a for a in attempts if int(a.b_number[-1]) % 2 == 1]
    assert failed and all(a.outcome == "failed" and a.cause_code == 38 for a in failed)
    assert placed and any(a.outcome == "connected" for a in placed)
    _check_properties(sessions, campaign_id, set())


def test_an_agent_finding_a_machine_reaches_the_pacing_policy(sessions: SessionMaker) -> None:
    clock = VirtualClock(datetime.fromisoformat("2026-11-23T15:00:00+00:00"))
    campaign_id = prepare_campaign(sessions, SimulationSetup(agents=2, contacts=20), clock.now())
    policy = PredictivePolicy()
    engine = Engine(
        sessions, SimNetwork(clock, Scenario(), seed=2), clock, policy_factory=lambda _: policy
    )

    async def main() -> None:
        run = asyncio.ensure_future(engine.run([campaign_id], clock.now() + timedelta(minutes=5)))
        await clock.sleep(60)
        # From a worker thread, as the agent API's request does; an unknown campaign is ignored.
        await asyncio.to_thread(engine.answering_machine_found, campaign_id)
        await asyncio.to_thread(engine.answering_machine_found, campaign_id + 1)
        await run

    clock.run(main())
    assert policy.day.counts(clock.monotonic())[2] == 1
    engine.answering_machine_found(campaign_id)  # after the engine's loop closed: nothing to tell

"""Engines in server mode on one database (virtual time, both databases): each campaign is paced
by one engine only, and a stopped engine's campaigns move to the other with nothing left open."""

import asyncio
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, select

from opendialer.clock import VirtualClock
from opendialer.db import SessionMaker, unit_of_work
from opendialer.demo import SimulationSetup, prepare_campaign
from opendialer.engine.runner import Engine
from opendialer.engine.simulation import SimulatedAgents
from opendialer.models import CallAttempt, CampaignLease, EngineLease
from opendialer.telephony.sim import SimNetwork
from opendialer.telephony.sim_scenario import Scenario

START = datetime.fromisoformat("2026-11-23T10:00:00+00:00")  # Monday 11:00 in Berlin
LEASE = 30.0


def _engine(sessions: SessionMaker, clock: VirtualClock, engine_id: str, seed: int) -> Engine:
    listener = SimulatedAgents(sessions, clock, Scenario(), seed=seed)
    network = SimNetwork(clock, Scenario(), seed=seed)
    engine = Engine(
        sessions, network, clock, engine_id=engine_id, listener=listener, lease_seconds=LEASE
    )
    listener.engine = engine
    return engine


def _dialled_by(sessions: SessionMaker, since: datetime) -> dict[int, set[str]]:
    """Which engines placed each campaign's attempts since ``since``."""
    with unit_of_work(sessions) as session:
        rows = session.execute(
            select(CallAttempt.campaign_id, CallAttempt.engine_id).where(
                CallAttempt.started_at >= since
            )
        ).all()
    found: dict[int, set[str]] = {}
    for campaign_id, engine_id in rows:
        if campaign_id is not None:
            found.setdefault(campaign_id, set()).add(str(engine_id))
    return found


def _open(sessions: SessionMaker, engine_id: str) -> int:
    with unit_of_work(sessions) as session:
        stmt = select(func.count()).where(
            CallAttempt.outcome.is_(None), CallAttempt.engine_id == engine_id
        )
        return int(session.scalar(stmt) or 0)


def _holders(sessions: SessionMaker) -> dict[int, str]:
    with unit_of_work(sessions) as session:
        return {r.campaign_id: r.engine_id for r in session.scalars(select(CampaignLease))}


@dataclass
class Seen:
    holders: dict[int, str] = field(default_factory=dict)
    dialled_by: dict[int, set[str]] = field(default_factory=dict)  # while both ran
    stopped_at: datetime = START
    open_after_stop: int = -1
    holders_after_stop: dict[int, str] = field(default_factory=dict)


def test_one_pacer_per_campaign_and_a_stop_hands_over(sessions: SessionMaker) -> None:
    clock = VirtualClock(START)
    setup = SimulationSetup(agents=3, contacts=100)
    campaigns = [prepare_campaign(sessions, setup, START, name=f"C{i}") for i in range(2)]
    first, second = _engine(sessions, clock, "e1", 1), _engine(sessions, clock, "e2", 2)
    seen = Seen()

    async def main() -> None:
        serving = [asyncio.create_task(e.serve()) for e in (first, second)]
        await clock.sleep(90)  # both running, shares settled
        settled_at = clock.now()
        await clock.sleep(120)
        seen.holders = _holders(sessions)
        seen.dialled_by = _dialled_by(sessions, settled_at)
        await first.stop(drain_seconds=60)
        seen.stopped_at = clock.now()
        seen.open_after_stop = _open(sessions, "e1")
        seen.holders_after_stop = _holders(sessions)
        await clock.sleep(60)
        for task in serving:
            task.cancel()
        await asyncio.gather(*serving, return_exceptions=True)

    clock.run(main())
    assert sorted(set(seen.holders.values())) == ["e1", "e2"]
    assert sorted(seen.dialled_by) == sorted(campaigns)
    assert all(len(engines) == 1 for engines in seen.dialled_by.values())  # one pacer each
    assert seen.open_after_stop == 0
    assert set(seen.holders_after_stop.values()) <= {"e2"}
    after = _dialled_by(sessions, seen.stopped_at)
    assert sorted(after) == sorted(campaigns)  # e2 took e1's campaign over
    assert all(engines == {"e2"} for engines in after.values())
    with unit_of_work(sessions) as session:
        assert session.get(EngineLease, "e1") is None

"""The engine dials a 200-contact campaign through the sip backend against a SIPp farm.

Runs on SQLite only: the telephony layer does not touch the database, and the engine's database
behaviour is covered on both databases by tests/engine on the sim backend.
"""

import asyncio
from datetime import time
from pathlib import Path
from typing import Any

from sqlalchemy import insert, select, update

from opendialer import migrate
from opendialer.clock import RealClock
from opendialer.db import create_db_engine, create_sessionmaker, unit_of_work
from opendialer.demo import SimulationSetup, prepare_campaign
from opendialer.engine.runner import Engine
from opendialer.engine.simulation import SimulatedAgents
from opendialer.models import (
    CallAttempt,
    CallOutcome,
    Campaign,
    Contact,
    ContactPhone,
    ContactStatus,
    DialMode,
    User,
)
from opendialer.telephony.sim_scenario import Scenario
from tests.telephony.sip.helpers import make_backend
from tests.telephony.sip.sipp import Farm

MIX = {"answer": 100, "busy": 40, "no_answer": 30, "invalid": 30}
PREFIX = {"answer": "+4930100", "busy": "+4930200", "no_answer": "+4930300", "invalid": "+4930400"}
EXPECTED = {
    "busy": {CallOutcome.BUSY},
    "no_answer": {CallOutcome.NO_ANSWER},
    "invalid": {CallOutcome.INVALID_NUMBER},
    "answer": {CallOutcome.CONNECTED, CallOutcome.ABANDONED},
}


def test_a_campaign_of_200_contacts_ends_every_attempt_once(
    farm: Farm, sip_options: dict[str, Any], tmp_path: Path
) -> None:
    peers = {
        "answer": farm.peer("answer", MIX["answer"], ring_ms=200, talk_ms=400, role="customer"),
        "busy": farm.peer("reject", MIX["busy"], ring_ms=100, code=486, reason="Busy Here"),
        "no_answer": farm.peer("no_answer", MIX["no_answer"]),
        "invalid": farm.peer("reject", MIX["invalid"], code=404, reason="Not Found"),
    }
    agents = farm.peer("answer", None, talk_ms=30_000, role="agent")
    routes = [{"prefix": PREFIX[k], "trunk": p.uri_host} for k, p in peers.items()]
    url = f"sqlite:///{tmp_path / 'farm.db'}"
    migrate.upgrade(url)
    db = create_db_engine(url)
    sessions = create_sessionmaker(db)
    clock = RealClock()
    setup = SimulationSetup(
        agents=8,
        contacts=0,
        dial_mode=DialMode.PREDICTIVE,
        calling_hours=(time(0), time(23, 59, 59)),
    )
    campaign_id = prepare_campaign(sessions, setup, clock.now())
    with unit_of_work(sessions) as session:
        campaign = session.get_one(Campaign, campaign_id)
        campaign.ring_timeout_seconds, campaign.max_tries_per_number = 1, 1
        session.execute(
            update(User)
            .where(User.tenant_id == campaign.tenant_id)
            .values(sip_uri="sip:agent@" + agents.uri_host)
        )
        _add_contacts(session, campaign)

    async def run() -> None:
        backend = make_backend({**sip_options, "routes": routes})
        scenario = Scenario.model_validate({"agents": {"wrap_up": 0.1}})
        driver = SimulatedAgents(sessions, clock, scenario, seed=1)
        engine = Engine(sessions, backend, clock, tick_seconds=0.1, listener=driver)
        driver.engine = engine
        task = asyncio.create_task(engine.run([campaign_id]))
        async with asyncio.timeout(90):
            while not _all_done(sessions, campaign_id) or engine.calls:
                await asyncio.sleep(0.25)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

    asyncio.run(run())
    with unit_of_work(sessions) as session:
        attempts = session.scalars(
            select(CallAttempt).where(CallAttempt.campaign_id == campaign_id)
        ).all()
        assert len(attempts) == sum(MIX.values())
        for attempt in attempts:
            kind = next(k for k, p in PREFIX.items() if attempt.b_number.startswith(p))
            assert attempt.ended_at is not None and attempt.outcome in EXPECTED[kind], attempt
        connected = [a for a in attempts if a.outcome is CallOutcome.CONNECTED]
        assert connected and all(a.connected_at is not None for a in connected)
    db.dispose()
    for name, peer in peers.items():
        assert peer.wait(15) == 0, name
    assert agents.wait(15) == 0


def _add_contacts(session: Any, campaign: Campaign) -> None:
    numbers = [f"{PREFIX[k]}{i:04d}" for k, count in MIX.items() for i in range(count)]
    ids = session.scalars(
        insert(Contact).returning(Contact.id, sort_by_parameter_order=True),
        [
            {
                "tenant_id": campaign.tenant_id,
                "campaign_id": campaign.id,
                "next_try_at": campaign.created_at,
                "custom_data": {},
                "form_data": {},
            }
            for _ in numbers
        ],
    ).all()
    session.execute(
        insert(ContactPhone),
        [
            {
                "contact_id": cid,
                "tenant_id": campaign.tenant_id,
                "campaign_id": campaign.id,
                "position": 1,
                "raw": n,
                "e164": n,
            }
            for cid, n in zip(ids, numbers, strict=True)
        ],
    )


def _all_done(sessions: Any, campaign_id: int) -> bool:
    with unit_of_work(sessions) as session:
        open_contacts = session.scalars(
            select(Contact.id).where(
                Contact.campaign_id == campaign_id, Contact.status != ContactStatus.DONE
            )
        ).first()
        open_attempts = session.scalars(
            select(CallAttempt.id).where(
                CallAttempt.campaign_id == campaign_id, CallAttempt.ended_at.is_(None)
            )
        ).first()
    return open_contacts is None and open_attempts is None

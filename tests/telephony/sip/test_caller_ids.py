"""The caller ID the engine chooses is the From user on the SIP wire (asserted at a SIPp peer).

SQLite only, as test_engine_farm.py: the choice itself is tested on both databases in
tests/engine/test_caller_ids.py.
"""

import asyncio
import re
from datetime import time
from pathlib import Path
from typing import Any

from sqlalchemy import select

from opendialer import migrate
from opendialer.clock import RealClock
from opendialer.db import create_db_engine, create_sessionmaker, unit_of_work
from opendialer.demo import SimulationSetup, prepare_campaign
from opendialer.engine.runner import Engine
from opendialer.engine.simulation import SimulatedAgents
from opendialer.models import (
    CallAttempt,
    CallerIdNumber,
    CallerIdStrategy,
    Campaign,
    DialMode,
)
from opendialer.telephony.sim_scenario import Scenario
from tests.engine.helpers import make_contact
from tests.telephony.sip.helpers import make_backend
from tests.telephony.sip.sipp import Farm, Message

BERLIN_CALLEE, MUNICH_CALLEE, OWN_CALLEE = "+493055501234", "+498955501234", "+493055509999"
BERLIN_POOL, HAMBURG_POOL, DEFAULT = "+493012340000", "+494012340000", "+4969000000"
OWN = "+4921112345"
EXPECTED = {BERLIN_CALLEE: BERLIN_POOL, MUNICH_CALLEE: DEFAULT, OWN_CALLEE: OWN}


def _user(header_or_line: str) -> str:
    found = re.search(r"sip:([^@;>]+)@", header_or_line)
    assert found is not None, header_or_line
    return found.group(1)


def _presented(invites: list[Message]) -> dict[str, str]:
    return {_user(m.first_line): _user(m.header("From") or "") for m in invites}


def test_the_chosen_caller_id_is_the_from_user(
    farm: Farm, sip_options: dict[str, Any], tmp_path: Path
) -> None:
    peer = farm.peer("reject", len(EXPECTED), ring_ms=50, code=486, reason="Busy Here")
    url = f"sqlite:///{tmp_path / 'callerid.db'}"
    migrate.upgrade(url)
    db = create_db_engine(url)
    sessions = create_sessionmaker(db)
    clock = RealClock()
    setup = SimulationSetup(
        agents=2, contacts=0, dial_mode=DialMode.PREDICTIVE, calling_hours=(time(0), time(23, 59))
    )
    campaign_id = prepare_campaign(sessions, setup, clock.now())
    with unit_of_work(sessions) as session:
        _arrange(session, session.get_one(Campaign, campaign_id))

    async def run() -> None:
        options = {**sip_options, "routes": [{"prefix": "+49", "trunk": peer.uri_host}]}
        backend = make_backend(options)
        driver = SimulatedAgents(sessions, clock, Scenario.model_validate({}), seed=1)
        engine = Engine(sessions, backend, clock, tick_seconds=0.1, listener=driver)
        driver.engine = engine
        task = asyncio.create_task(engine.run([campaign_id]))
        async with asyncio.timeout(60):
            while _ended(sessions, campaign_id) < len(EXPECTED):
                await asyncio.sleep(0.2)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

    asyncio.run(run())
    assert peer.wait(15) == 0
    assert _presented(peer.received("INVITE")) == EXPECTED
    with unit_of_work(sessions) as session:
        recorded = session.execute(
            select(CallAttempt.b_number, CallAttempt.a_number).where(
                CallAttempt.campaign_id == campaign_id
            )
        )
        assert {b_number: a_number for b_number, a_number in recorded} == EXPECTED
    db.dispose()


def _arrange(session: Any, campaign: Campaign) -> None:
    campaign.max_tries_per_number = 1
    campaign.caller_id = DEFAULT
    campaign.caller_id_strategy = CallerIdStrategy.LOCAL
    for number in (BERLIN_POOL, HAMBURG_POOL):
        session.add(
            CallerIdNumber(tenant_id=campaign.tenant_id, campaign_id=campaign.id, e164=number)
        )
    for callee in EXPECTED:
        make_contact(session, campaign, callee, caller_id=OWN if callee == OWN_CALLEE else None)


def _ended(sessions: Any, campaign_id: int) -> int:
    with unit_of_work(sessions) as session:
        return len(
            session.scalars(
                select(CallAttempt.id).where(
                    CallAttempt.campaign_id == campaign_id, CallAttempt.ended_at.is_not(None)
                )
            ).all()
        )

"""Deleting a campaign while it dials: refused while calls are up; then its runner stops."""

import asyncio
import logging
from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select

from opendialer.campaigns.service import delete_campaign
from opendialer.clock import VirtualClock
from opendialer.db import SessionMaker, unit_of_work
from opendialer.engine.campaign_runner import CampaignRunner
from opendialer.errors import Conflict
from opendialer.models import (
    AgentSession,
    AgentState,
    CallAttempt,
    Campaign,
    CampaignStatus,
    PacingDecision,
)
from opendialer.scoping import Scope
from tests.engine.helpers import dialling_engine

START = datetime.fromisoformat("2026-11-23T15:00:00+00:00")
UNTIL = START + timedelta(hours=2)


def _open_attempts(sessions: SessionMaker) -> int:
    with unit_of_work(sessions) as session:
        return int(session.scalar(select(func.count()).where(CallAttempt.outcome.is_(None))) or 0)


def _delete(sessions: SessionMaker, campaign_id: int) -> None:
    with unit_of_work(sessions) as session:
        tenant_id = session.get_one(Campaign, campaign_id).tenant_id
        delete_campaign(session, Scope.system(tenant_id), campaign_id)


async def _operator(sessions: SessionMaker, clock: VirtualClock, campaign_id: int) -> None:
    """Wait until calls are up, try to delete (409), stop, wait for the calls, delete."""
    while _open_attempts(sessions) == 0 and clock.now() < UNTIL:
        await clock.sleep(1)
    with pytest.raises(Conflict) as refused:
        _delete(sessions, campaign_id)
    assert refused.value.code == "campaign_has_calls"
    with unit_of_work(sessions) as session:
        session.get_one(Campaign, campaign_id).status = CampaignStatus.DISABLED
    while _open_attempts(sessions) and clock.now() < UNTIL:
        await clock.sleep(1)
    _delete(sessions, campaign_id)


def test_a_dialling_campaign_is_deleted_once_its_calls_end(
    sessions: SessionMaker, caplog: pytest.LogCaptureFixture
) -> None:
    clock = VirtualClock(START)
    campaign_id, engine = dialling_engine(sessions, clock, agents=3, contacts=60, seed=1)

    async def main() -> None:
        run = asyncio.create_task(engine.run([campaign_id], until=UNTIL))
        await _operator(sessions, clock, campaign_id)
        await run  # the runner of a deleted campaign stops: run() ends before UNTIL

    with caplog.at_level(logging.WARNING):
        clock.run(main())
    assert clock.now() < UNTIL - timedelta(minutes=30)
    assert engine.runners[campaign_id].state == "deleted"
    assert _open_attempts(sessions) == 0
    with unit_of_work(sessions) as session:
        assert session.get(Campaign, campaign_id) is None
        busy = session.scalars(
            select(AgentSession).where(
                AgentSession.state.in_([AgentState.RESERVED, AgentState.ON_CALL])
            )
        ).all()
        assert busy == []
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []


def test_a_decision_not_yet_written_does_not_hold_up_a_deleted_campaigns_runner(
    sessions: SessionMaker,
) -> None:
    """A decision that dialled nothing waits for the runner's next transaction; if the
    campaign was deleted meanwhile, its row goes (as the log's other rows did) and the runner
    still finds the campaign gone and stops."""
    clock = VirtualClock(START)
    campaign_id, engine = dialling_engine(sessions, clock, agents=3, contacts=60, seed=1)

    async def main() -> CampaignRunner:
        runner = await CampaignRunner.start(engine, campaign_id)
        with unit_of_work(sessions) as session:
            tenant_id = session.get_one(Campaign, campaign_id).tenant_id
        runner._unlogged.append(  # what a decision to dial nothing leaves
            {
                "tenant_id": tenant_id,
                "campaign_id": campaign_id,
                "decided_at": START,
                "algorithm": "predictive",
                "dials": 0,
                "target_in_flight": 0.0,
                "inputs": {},
                "reason": "hold",
            }
        )
        _delete(sessions, campaign_id)
        await runner.loop(UNTIL)
        return runner

    runner = clock.run(main())
    assert runner.state == "deleted"
    with unit_of_work(sessions) as session:
        assert session.scalar(select(func.count()).select_from(PacingDecision)) == 0

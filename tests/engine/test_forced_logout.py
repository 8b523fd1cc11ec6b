"""A supervisor forces an agent out during a call: the engine hangs the call up, cleanly."""

import asyncio
import logging
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from opendialer.agents import sessions as agent_sessions
from opendialer.clock import VirtualClock
from opendialer.db import SessionMaker, unit_of_work
from opendialer.engine.agent_state import AgentEvent
from opendialer.engine.runner import Engine
from opendialer.models import AgentSession, AgentState, CallAttempt
from opendialer.scoping import Scope
from tests.engine.helpers import dialling_engine

START = datetime.fromisoformat("2026-11-23T15:00:00+00:00")
UNTIL = START + timedelta(hours=1)


def _on_call(sessions: SessionMaker) -> AgentSession | None:
    with unit_of_work(sessions) as session:
        row = session.scalars(
            select(AgentSession).where(AgentSession.state == AgentState.ON_CALL)
        ).first()
        if row is not None:
            session.expunge(row)
        return row


async def _force_out_during_a_call(
    sessions: SessionMaker, clock: VirtualClock, engine: Engine
) -> tuple[int, datetime]:
    agent = _on_call(sessions)
    while agent is None and clock.now() < UNTIL:
        await clock.sleep(0.5)
        agent = _on_call(sessions)
    assert agent is not None
    forced_at = clock.now()
    with unit_of_work(sessions) as session:
        agent_sessions.act(
            session,
            Scope.system(agent.tenant_id),
            user_id=agent.user_id,
            event=AgentEvent.FORCE_LOGOUT,
            at=forced_at,
        )
    engine.agent_forced_out(agent.user_id)
    return agent.user_id, forced_at


def test_forced_logout_ends_the_agents_call(
    sessions: SessionMaker, caplog: pytest.LogCaptureFixture
) -> None:
    clock = VirtualClock(START)
    campaign_id, engine = dialling_engine(sessions, clock, agents=1, contacts=30, seed=2)

    async def main() -> tuple[int, datetime]:
        run = asyncio.create_task(engine.run([campaign_id], until=UNTIL))
        forced = await _force_out_during_a_call(sessions, clock, engine)
        await run
        return forced

    with caplog.at_level(logging.WARNING):
        user_id, forced_at = clock.run(main())
    with unit_of_work(sessions) as session:
        assert session.get_one(AgentSession, user_id).state is AgentState.LOGGED_OUT
        attempts = session.scalars(select(CallAttempt)).all()
        assert all(a.outcome is not None for a in attempts)
        talked = [a for a in attempts if a.connected_at is not None]
        assert talked and talked[-1].ended_at is not None
        assert talked[-1].ended_at - forced_at < timedelta(seconds=2)  # hung up, not talked out
        assert not [a for a in attempts if a.started_at > forced_at]  # nobody left to call for
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []

"""The engine's agent actions act only in the caller's tenant, and an agent only for themselves."""

import asyncio
import threading
import time
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from opendialer.clock import RealClock, VirtualClock
from opendialer.db import SessionMaker, unit_of_work
from opendialer.demo import SimulationSetup, prepare_campaign
from opendialer.engine.campaign_runner import CampaignRunner
from opendialer.engine.context import NullListener
from opendialer.engine.live import LiveCall, Phase
from opendialer.engine.runner import Engine
from opendialer.errors import Forbidden
from opendialer.models import AgentSession, AgentState, CallAttempt, CampaignMember, UserRole
from opendialer.scoping import Scope
from opendialer.telephony import CallEvent, CallEventKind, CallId
from opendialer.telephony.sim import SimNetwork
from opendialer.telephony.sim_scenario import Scenario
from tests.engine.helpers import dialling_engine

START = datetime.fromisoformat("2026-11-23T15:00:00+00:00")
UNTIL = START + timedelta(hours=1)


def _agent_on_call(sessions: SessionMaker) -> tuple[int, int] | None:
    """(tenant id, user id) of an agent on a call, if any."""
    with unit_of_work(sessions) as session:
        row = session.scalars(
            select(AgentSession).where(AgentSession.state == AgentState.ON_CALL)
        ).first()
        return None if row is None else (row.tenant_id, row.user_id)


async def _hang_up_in_each_scope(
    sessions: SessionMaker, clock: VirtualClock, engine: Engine
) -> tuple[int, dict[str, object]]:
    found = _agent_on_call(sessions)
    while found is None and clock.now() < UNTIL:
        await clock.sleep(0.5)
        found = _agent_on_call(sessions)
    assert found is not None
    tenant_id, user_id = found
    answers: dict[str, object] = {}
    other_tenant = Scope.system(tenant_id + 1000)
    answers["other tenant"] = await engine.hang_up_agent_call(other_tenant, user_id=user_id)
    answers["still on call"] = _agent_on_call(sessions) == found
    another_agent = Scope(tenant_id=tenant_id, role=UserRole.AGENT, user_id=user_id + 1000)
    try:
        await engine.hang_up_agent_call(another_agent, user_id=user_id)
    except Forbidden:
        answers["another agent"] = "forbidden"
    own = Scope(tenant_id=tenant_id, role=UserRole.AGENT, user_id=user_id)
    answers["own"] = await engine.hang_up_agent_call(own, user_id=user_id)
    return user_id, {**answers, "at": clock.now()}


def test_hang_up_finds_only_the_scopes_tenants_calls(sessions: SessionMaker) -> None:
    clock = VirtualClock(START)
    campaign_id, engine = dialling_engine(sessions, clock, agents=1, contacts=30, seed=2)

    async def main() -> tuple[int, dict[str, object]]:
        run = asyncio.create_task(engine.run([campaign_id], until=UNTIL))
        result = await _hang_up_in_each_scope(sessions, clock, engine)
        await run
        return result

    user_id, answers = clock.run(main())
    hung_up_at = answers.pop("at")
    assert isinstance(hung_up_at, datetime)
    assert answers == {
        "other tenant": False,
        "still on call": True,
        "another agent": "forbidden",
        "own": True,
    }
    with unit_of_work(sessions) as session:
        talked = session.scalars(
            select(CallAttempt).where(
                CallAttempt.user_id == user_id, CallAttempt.connected_at <= hung_up_at
            )
        ).all()
        ended = talked[-1].ended_at
        assert ended is not None and ended - hung_up_at < timedelta(seconds=2)  # not talked out


@pytest.mark.parametrize("action", ["dial_preview", "skip_preview", "hang_up_agent_call"])
def test_an_agent_scope_acts_only_for_its_own_user(sessions: SessionMaker, action: str) -> None:
    clock = VirtualClock(START)
    _, engine = dialling_engine(sessions, clock, agents=1, contacts=0, seed=1)
    scope = Scope(tenant_id=1, role=UserRole.AGENT, user_id=7)
    with pytest.raises(Forbidden):
        clock.run(getattr(engine, action)(scope, user_id=8))
    assert clock.run(getattr(engine, action)(scope, user_id=7)) is False


class _Heard(NullListener):
    def __init__(self) -> None:
        self.connected: list[CallId] = []

    def call_connected(self, call: LiveCall) -> None:
        self.connected.append(call.call_id)


def test_a_bridge_reaches_the_listeners_before_the_events_ahead_of_it_are_written(
    sessions: SessionMaker,
) -> None:
    """The agent's screen pop (a listener) hears of the bridge when it arrives, while the
    engine's database thread is still busy with the events before it (issue 19's push)."""
    clock = RealClock()  # the engine's database work in its own thread
    campaign_id = prepare_campaign(sessions, SimulationSetup(agents=2, contacts=0), clock.now())
    with unit_of_work(sessions) as session:
        agent_ids = session.scalars(
            select(CampaignMember.user_id).where(CampaignMember.campaign_id == campaign_id)
        ).all()
    heard = _Heard()
    backend = SimNetwork(clock, Scenario(), seed=1)
    engine = Engine(sessions, backend, clock, engine_id="e", listener=heard)
    busy = threading.Event()

    async def bridges_arrive() -> list[CallId]:
        engine.runners[campaign_id] = await CampaignRunner.start(engine, campaign_id)
        engine.db.submit(lambda _session: busy.wait(60), writes=False)
        for n, agent_id in enumerate(agent_ids):
            call_id = CallId(f"call-{n}")
            engine.calls[call_id] = LiveCall(
                call_id, campaign_id, n + 1, n + 1, 0.0, Phase.CONNECTING, agent_id
            )
            backend._queue.put_nowait(CallEvent(call_id, CallEventKind.BRIDGED, clock.now()))
        pump = asyncio.create_task(engine._pump())
        deadline = time.monotonic() + 30
        while len(heard.connected) < len(agent_ids) and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        told = list(heard.connected)  # the first bridge's write still waits for the thread
        busy.set()
        backend._queue.put_nowait(None)
        await pump
        await engine.db.close()
        return told

    assert asyncio.run(bridges_arrive()) == [CallId("call-0"), CallId("call-1")]

"""The campaign's wrap-up time: an agent still in wrap-up when it runs out is made ready."""

from datetime import timedelta

from sqlalchemy import select, update

from opendialer.accounts.service import NewTenant
from opendialer.agents import sessions as agent_sessions
from opendialer.campaigns.service import add_member
from opendialer.clock import VirtualClock
from opendialer.db import SessionMaker, unit_of_work
from opendialer.demo import SimulationSetup, prepare_campaign
from opendialer.engine.agent_state import AgentEvent
from opendialer.engine.listeners import Listeners
from opendialer.engine.runner import Engine
from opendialer.engine.simulation import SimulatedAgents
from opendialer.engine.wrap_up import WrapUpTimer
from opendialer.models import AgentSession, AgentState, CallAttempt, Campaign, Contact, DialMode
from opendialer.scoping import Scope
from opendialer.telephony.sim import SimNetwork
from opendialer.telephony.sim_scenario import Customers, Scenario
from tests.console.browser import make_agent, make_customer
from tests.engine.helpers import NOW

ALWAYS_ANSWERS = Scenario(customers=Customers(p_live=1.0, p_machine=0.0))


def _engine(sessions: SessionMaker) -> tuple[VirtualClock, Engine, WrapUpTimer]:
    clock = VirtualClock(NOW)
    driver = SimulatedAgents(sessions, clock, ALWAYS_ANSWERS, seed=4)
    engine = Engine(sessions, SimNetwork(clock, ALWAYS_ANSWERS, seed=4), clock, engine_id="w")
    timer = WrapUpTimer(engine)
    engine.listener = Listeners(driver, timer)
    driver.engine = engine
    return clock, engine, timer


def _run(sessions: SessionMaker, campaign_id: int, minutes: int) -> WrapUpTimer:
    clock, engine, timer = _engine(sessions)
    clock.run(engine.run([campaign_id], until=NOW + timedelta(minutes=minutes)))
    return timer


def _campaign_with_a_person(
    sessions: SessionMaker, tenant: NewTenant, wrap_up_seconds: int | None
) -> tuple[int, int]:
    setup = SimulationSetup(agents=0, contacts=0, dial_mode=DialMode.PROGRESSIVE)
    campaign_id = prepare_campaign(sessions, setup, NOW, tenant_id=tenant.tenant.id)
    person = make_agent(sessions, tenant.tenant.id, "wanda")
    scope = Scope.system(tenant.tenant.id)
    with unit_of_work(sessions) as session:
        campaign = session.get_one(Campaign, campaign_id)
        campaign.wrap_up_seconds = wrap_up_seconds
        add_member(session, campaign, person)
        agent_sessions.act(session, scope, AgentEvent.LOGIN, user_id=person, at=NOW)
        agent_sessions.act(session, scope, AgentEvent.READY, user_id=person, at=NOW)
    contact = make_customer(sessions, campaign_id, "Willi", "Wrap")
    with unit_of_work(sessions) as session:
        session.execute(
            update(Contact)
            .where(Contact.id == contact)
            .values(next_try_at=NOW - timedelta(hours=1))
        )
    return campaign_id, person


def test_agent_is_made_ready_when_the_wrap_up_time_runs_out(
    sessions: SessionMaker, tenant: NewTenant
) -> None:
    campaign_id, person = _campaign_with_a_person(sessions, tenant, wrap_up_seconds=20)
    timer = _run(sessions, campaign_id, minutes=30)
    ((readied, at),) = timer.readied
    assert readied == person
    with unit_of_work(sessions) as session:
        ended = session.scalars(select(CallAttempt.ended_at)).one()
        assert ended is not None
        assert timedelta(seconds=20) <= at - ended < timedelta(seconds=21)
        assert session.get_one(AgentSession, person).state is AgentState.READY


def test_without_a_wrap_up_time_the_agent_stays_in_wrap_up(
    sessions: SessionMaker, tenant: NewTenant
) -> None:
    campaign_id, person = _campaign_with_a_person(sessions, tenant, wrap_up_seconds=None)
    timer = _run(sessions, campaign_id, minutes=30)
    assert timer.readied == []
    with unit_of_work(sessions) as session:
        assert session.get_one(AgentSession, person).state is AgentState.WRAP_UP


def test_closing_forgets_the_wrap_ups_still_running(
    sessions: SessionMaker, tenant: NewTenant
) -> None:
    """The server stops while an agent is in wrap-up: the timer's work ends with the engine
    (nothing left pending on the loop), and the agent is not made ready by it."""
    campaign_id, person = _campaign_with_a_person(sessions, tenant, wrap_up_seconds=3600)
    clock, engine, timer = _engine(sessions)
    pending: list[int] = []

    async def run_then_close() -> None:
        await engine.run([campaign_id], until=NOW + timedelta(minutes=30))
        pending.append(timer.pending)
        await timer.close()
        pending.append(timer.pending)

    clock.run(run_then_close())
    assert pending == [1, 0]
    assert timer.readied == []
    with unit_of_work(sessions) as session:
        assert session.get_one(AgentSession, person).state is AgentState.WRAP_UP

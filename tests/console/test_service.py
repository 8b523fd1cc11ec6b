"""The console's rules without a browser: a personal callback the console scheduled reaches
its agent at its time (virtual clock), placeholders, the contact's time zone."""

from datetime import timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select

from opendialer.accounts.service import NewTenant
from opendialer.agents import sessions as agent_sessions
from opendialer.campaigns.service import add_member
from opendialer.clock import VirtualClock
from opendialer.console import service
from opendialer.console.schemas import CallbackRequest
from opendialer.db import SessionMaker, unit_of_work
from opendialer.demo import SimulationSetup, prepare_campaign
from opendialer.engine.agent_state import AgentEvent
from opendialer.engine.runner import Engine
from opendialer.engine.simulation import SimulatedAgents
from opendialer.models import AgentSession, AgentState, CallAttempt, Campaign, DialMode, UserRole
from opendialer.scoping import Scope
from opendialer.telephony.sim import SimNetwork
from opendialer.telephony.sim_scenario import Customers, Scenario
from tests.console.browser import make_agent, make_customer
from tests.engine.helpers import NOW

ALWAYS_ANSWERS = Scenario(customers=Customers(p_live=1.0, p_machine=0.0))
BERLIN = ZoneInfo("Europe/Berlin")


def _in_wrap_up_with(sessions: SessionMaker, tenant_id: int, user_id: int, contact: int) -> None:
    """The agent has just finished a call with ``contact`` (what the engine leaves behind)."""
    with unit_of_work(sessions) as session:
        row = agent_sessions.act(
            session, Scope.system(tenant_id), AgentEvent.LOGIN, user_id=user_id, at=NOW
        )
        row.state, row.contact_id = AgentState.WRAP_UP, contact
        row.campaign_id = session.scalars(select(Campaign.id)).one()


def test_personal_callback_reaches_its_agent_at_its_time(
    sessions: SessionMaker, tenant: NewTenant
) -> None:
    setup = SimulationSetup(agents=2, contacts=0, dial_mode=DialMode.PROGRESSIVE)
    campaign_id = prepare_campaign(sessions, setup, NOW, tenant_id=tenant.tenant.id)
    human = make_agent(sessions, tenant.tenant.id, "hanna")
    with unit_of_work(sessions) as session:
        add_member(session, session.get_one(Campaign, campaign_id), human)
    contact = make_customer(sessions, campaign_id, "Carl", "Callback")
    _in_wrap_up_with(sessions, tenant.tenant.id, human, contact)
    due = (NOW + timedelta(minutes=30)).astimezone(BERLIN)
    scope = Scope(tenant_id=tenant.tenant.id, role=UserRole.AGENT, user_id=human)
    with unit_of_work(sessions) as session:
        request = CallbackRequest(date=due.date(), time=due.time(), personal=True)
        assert service.schedule_callback(session, scope, request, NOW) == due
        agent_sessions.act(
            session, Scope.system(tenant.tenant.id), AgentEvent.READY, user_id=human, at=NOW
        )

    clock = VirtualClock(NOW)
    driver = SimulatedAgents(sessions, clock, ALWAYS_ANSWERS, seed=3)
    engine = Engine(
        sessions, SimNetwork(clock, ALWAYS_ANSWERS, seed=3), clock, engine_id="cb", listener=driver
    )
    driver.engine = engine
    clock.run(engine.run([campaign_id], until=NOW + timedelta(minutes=45)))

    with unit_of_work(sessions) as session:
        attempts = session.scalars(select(CallAttempt).where(CallAttempt.contact_id == contact))
        (attempt,) = attempts.all()
        assert attempt.user_id == human
        assert due <= attempt.started_at < due + timedelta(seconds=30)
        # A person who can sign in is never played by the simulator: still in wrap-up.
        assert session.get_one(AgentSession, human).state is AgentState.WRAP_UP


def test_placeholders_are_filled_and_unknown_ones_kept() -> None:
    values = {"first_name": "Eva", "external_id": "a b&c"}
    assert service.fill("Hi {first_name}, {unknown}!", values) == "Hi Eva, {unknown}!"
    url = service.fill("https://crm.example/lead?id={external_id}", values, service.url_part)
    assert url == "https://crm.example/lead?id=a%20b%26c"

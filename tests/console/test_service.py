"""The console's rules without a browser: a personal callback the console scheduled reaches
its agent at its time (virtual clock), placeholders, the contact's time zone."""

from datetime import UTC, date, datetime, timedelta
from datetime import time as dtime
from zoneinfo import ZoneInfo

from sqlalchemy import select

from opendialer.accounts.service import NewTenant
from opendialer.agents import sessions as agent_sessions
from opendialer.campaigns.service import add_member
from opendialer.clock import VirtualClock
from opendialer.console import service
from opendialer.console.push import Bridged
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
from tests import factories
from tests.console.browser import make_agent, make_customer
from tests.engine.helpers import NOW, make_contact

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


def _day_plan(day: date) -> list[tuple[datetime, str, AgentState]]:
    """An agent's night shift in Berlin: what they did when, and the state it left them in."""

    def at(hour: int, minute: int, days: int = 0) -> datetime:
        return datetime.combine(day + timedelta(days=days), dtime(hour, minute), BERLIN)

    return [
        (at(23, 0, days=-1), "login", AgentState.PAUSED),
        (at(23, 30, days=-1), "ready", AgentState.READY),  # still ready at midnight
        (at(0, 20), "lunch", AgentState.PAUSED),
        (at(0, 50), "ready", AgentState.READY),
        (at(1, 0), "reserve", AgentState.RESERVED),
        (at(1, 5), "release", AgentState.READY),
        (at(1, 30), "logout", AgentState.LOGGED_OUT),
        (at(1, 40), "login", AgentState.PAUSED),
    ]


def _seconds_in(
    plan: list[tuple[datetime, str, AgentState]], state: AgentState, start: datetime, end: datetime
) -> float:
    """The plan's seconds in ``state`` within [start, end), added up by hand."""
    total = 0.0
    for (begin, _, entered), (until, _, _) in zip(plan, [*plan[1:], (end, "", state)], strict=True):
        if entered is state:
            total += max(0.0, (min(until, end) - max(begin, start)).total_seconds())
    return total


def _play(
    sessions: SessionMaker,
    tenant_id: int,
    campaign_id: int,
    user_id: int,
    plan: list[tuple[datetime, str, AgentState]],
) -> None:
    system = Scope.system(tenant_id)
    events = {
        "login": AgentEvent.LOGIN,
        "ready": AgentEvent.READY,
        "logout": AgentEvent.LOGOUT,
        "release": AgentEvent.RELEASE,
    }
    for when, what, entered in plan:
        at = when.astimezone(UTC)
        with unit_of_work(sessions) as session:
            if what == "reserve":
                assert (
                    agent_sessions.reserve_longest_idle(session, campaign_id, at, "e1") == user_id
                )
            elif what == "lunch":
                agent_sessions.act(
                    session, system, AgentEvent.PAUSE, user_id=user_id, at=at, reason="lunch"
                )
            else:
                agent_sessions.act(session, system, events[what], user_id=user_id, at=at)
        with unit_of_work(sessions) as session:
            assert session.get_one(AgentSession, user_id).state is entered


def test_my_day_wait_and_pause_times_come_from_the_state_history(
    sessions: SessionMaker, tenant: NewTenant
) -> None:
    day = date(2026, 3, 10)
    plan = _day_plan(day)
    now = datetime.combine(day, dtime(2, 0), BERLIN)
    midnight = datetime.combine(day, dtime(0, 0), BERLIN)
    agent = make_agent(sessions, tenant.tenant.id, "nadia")
    other = make_agent(sessions, tenant.tenant.id, "otto")
    with unit_of_work(sessions) as session:
        campaign = factories.make_campaign(session, tenant.tenant.id, "Night")
        add_member(session, campaign, agent)
        campaign_id = campaign.id
    _play(sessions, tenant.tenant.id, campaign_id, agent, plan)
    # Another agent's history of the same night counts for them, not for her.
    _play(sessions, tenant.tenant.id, campaign_id, other, plan[:3])

    scope = Scope(tenant_id=tenant.tenant.id, role=UserRole.AGENT, user_id=agent)
    with unit_of_work(sessions, writes=False) as session:
        day_seen = service.console_state(session, scope, now.astimezone(UTC)).my_day
    assert day_seen.wait_seconds == _seconds_in(plan, AgentState.READY, midnight, now) == 3300
    assert day_seen.pause_seconds == _seconds_in(plan, AgentState.PAUSED, midnight, now) == 3000


def test_a_bridge_known_in_memory_shows_before_the_engine_has_written_it(
    sessions: SessionMaker, tenant: NewTenant
) -> None:
    """The engine tells the push of a bridge before its write of ``on_call`` commits: the
    reserved agent is shown on that call; a bridge of another attempt changes nothing."""
    with unit_of_work(sessions) as session:
        campaign = factories.make_campaign(session, tenant.tenant.id, "Pop")
        agent = factories.make_agent(session, tenant.tenant.id, campaigns=[campaign], ready_at=NOW)
        contact = make_contact(session, campaign, "+4930123456")
        attempt = factories.make_attempt(
            session, tenant.tenant.id, campaign_id=campaign.id, contact_id=contact.id
        )
        reserved = agent_sessions.reserve_longest_idle(
            session, campaign.id, NOW, "e1", attempt_id=attempt.id, contact_id=contact.id
        )
        ids = (agent.id, attempt.id)
    assert reserved == ids[0]
    scope = Scope(tenant_id=tenant.tenant.id, role=UserRole.AGENT, user_id=ids[0])
    bridged_at = NOW + timedelta(seconds=2)
    with unit_of_work(sessions, writes=False) as session:
        shown = service.console_state(session, scope, NOW, Bridged(ids[1], bridged_at))
        other = service.console_state(session, scope, NOW, Bridged(ids[1] + 1, bridged_at))
    assert (shown.agent.state, shown.agent.since) == (AgentState.ON_CALL, bridged_at)
    assert shown.call is not None and shown.call.bridged_at == bridged_at
    assert other.agent.state is AgentState.RESERVED
    assert other.call is not None and other.call.bridged_at is None

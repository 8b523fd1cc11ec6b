"""The engine delivers a callback ACD event at its appointment, on the virtual clock."""

from datetime import datetime, timedelta

from sqlalchemy import select

from opendialer.acd.schemas import AcdEventCreate, AcdEventType, AcdStatus
from opendialer.acd.service import create_event
from opendialer.clock import VirtualClock
from opendialer.db import SessionMaker, unit_of_work
from opendialer.demo import SimulationSetup, prepare_campaign
from opendialer.engine.simulation import simulate
from opendialer.models import (
    AcdEvent,
    AgentGroup,
    AgentGroupMember,
    CallAttempt,
    CallOutcome,
    Campaign,
    Contact,
    DialMode,
    User,
)
from opendialer.scoping import Scope
from opendialer.telephony.sim_scenario import Customers, Distribution, Scenario

START = datetime.fromisoformat("2026-11-23T10:00:00+00:00")  # Monday 11:00 in Berlin
APPOINTMENT = START + timedelta(minutes=2)
# Everyone answers and talks for 20 s: short runs, every dial decided.
ALWAYS_LIVE = Scenario(
    customers=Customers(p_live=1.0, p_machine=0.0, talk_time=Distribution(mean=20.0))
)


def _arrange(sessions: SessionMaker) -> tuple[int, list[int], int]:
    """A progressive campaign with no contacts, its 3 ready agents in one ACD group."""
    setup = SimulationSetup(agents=3, contacts=0, dial_mode=DialMode.PROGRESSIVE)
    campaign_id = prepare_campaign(sessions, setup, START)
    with unit_of_work(sessions) as session:
        campaign = session.get_one(Campaign, campaign_id)
        group = AgentGroup(tenant_id=campaign.tenant_id, name="Callbacks")
        session.add(group)
        session.flush()
        campaign.agent_group_id = group.id
        agents = list(
            session.scalars(
                select(User.id).where(User.tenant_id == campaign.tenant_id, User.role == "agent")
            )
        )
        for user_id in agents:
            session.add(AgentGroupMember(group_id=group.id, user_id=user_id))
        return campaign_id, sorted(agents), group.id


def _callback(sessions: SessionMaker, campaign_id: int, group_id: int, user_id: int) -> int:
    with unit_of_work(sessions) as session:
        tenant_id = session.get_one(Campaign, campaign_id).tenant_id
        data = AcdEventCreate(
            type_id=AcdEventType.CALLBACK,
            group_id=group_id,
            user_id=user_id,
            sender="+4930 12345678",
            subject="Please call back",
            user_data="CB-1",
            appointment_at=APPOINTMENT,
        )
        event, created = create_event(session, Scope.system(tenant_id), data, START)
        assert created
        return event.id


def test_a_callback_is_offered_to_its_user_at_the_appointment_and_dialled(
    sessions: SessionMaker,
) -> None:
    campaign_id, agents, group_id = _arrange(sessions)
    chosen = agents[-1]  # not the longest-idle one: the named user must win
    event_id = _callback(sessions, campaign_id, group_id, chosen)
    clock = VirtualClock(START)
    clock.run(simulate(sessions, clock, campaign_id, ALWAYS_LIVE, seconds=240, seed=5))
    with unit_of_work(sessions) as session:
        event = session.get_one(AcdEvent, event_id)
        assert event.offered_user_id == chosen
        assert event.offered_at is not None
        assert APPOINTMENT <= event.offered_at <= APPOINTMENT + timedelta(seconds=6)
        assert event.contact_id is not None
        contact = session.get_one(Contact, event.contact_id)
        assert contact.campaign_id == campaign_id and contact.user_data == "CB-1"
        assert contact.reserved_user_id == chosen
        attempts = session.scalars(
            select(CallAttempt).where(CallAttempt.contact_id == contact.id)
        ).all()
        assert len(attempts) == 1  # dialled once, for that agent, after the appointment
        attempt = attempts[0]
        assert attempt.user_id == chosen and attempt.started_at >= APPOINTMENT
        assert attempt.b_number == "+493012345678"
        assert attempt.outcome is CallOutcome.CONNECTED
        assert event.status_id == AcdStatus.DONE and event.done_at == attempt.ended_at


def test_nothing_is_offered_before_the_appointment(sessions: SessionMaker) -> None:
    campaign_id, agents, group_id = _arrange(sessions)
    event_id = _callback(sessions, campaign_id, group_id, agents[0])
    clock = VirtualClock(START)
    clock.run(simulate(sessions, clock, campaign_id, ALWAYS_LIVE, seconds=110, seed=5))
    with unit_of_work(sessions) as session:
        event = session.get_one(AcdEvent, event_id)
        assert event.status_id == AcdStatus.NEW and event.offered_user_id is None
        assert session.scalars(select(CallAttempt)).first() is None

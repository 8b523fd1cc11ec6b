"""Arranging campaigns and contacts directly in the database for engine tests."""

from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session

from opendialer.accounts.service import NewTenant
from opendialer.campaigns.schemas import CampaignCreate
from opendialer.campaigns.service import create_campaign
from opendialer.clock import VirtualClock
from opendialer.db import SessionMaker, unit_of_work
from opendialer.demo import SimulationSetup, prepare_campaign
from opendialer.engine.runner import Engine
from opendialer.engine.simulation import SimulatedAgents
from opendialer.models import Campaign, Contact, ContactPhone, DialMode
from opendialer.scoping import Scope
from opendialer.telephony.sim import SimNetwork
from opendialer.telephony.sim_scenario import Scenario

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)  # Monday 11:00 in Berlin


def make_campaign(session: Session, tenant: NewTenant, name: str = "C") -> Campaign:
    """Enabled, 09:00-20:00 every day."""
    data = CampaignCreate(
        name=name, dial_mode="predictive", status="enabled", calling_days=[1, 2, 3, 4, 5, 6, 7]
    )
    return create_campaign(session, Scope.system(tenant.tenant.id), data)


def make_contact(session: Session, campaign: Campaign, *numbers: str, **fields: object) -> Contact:
    fields.setdefault("next_try_at", NOW - timedelta(hours=1))
    contact = Contact(tenant_id=campaign.tenant_id, campaign_id=campaign.id, **fields)
    contact.phones = [
        ContactPhone(
            tenant_id=campaign.tenant_id, campaign_id=campaign.id, position=i, raw=n, e164=n
        )
        for i, n in enumerate(numbers, start=1)
    ]
    session.add(contact)
    session.flush()
    return contact


def dialling_engine(
    sessions: SessionMaker, clock: VirtualClock, *, agents: int, contacts: int, seed: int
) -> tuple[int, Engine]:
    """A simulated predictive campaign with ``contacts`` to dial and its engine (not started)."""
    campaign_id = prepare_campaign(
        sessions, SimulationSetup(agents=agents, contacts=0), clock.now()
    )
    with unit_of_work(sessions) as session:
        campaign = session.get_one(Campaign, campaign_id)
        for i in range(contacts):
            make_contact(session, campaign, f"+4930123{i:04d}")
    listener = SimulatedAgents(sessions, clock, Scenario(), seed=seed)
    engine = Engine(
        sessions, SimNetwork(clock, Scenario(), seed=seed), clock, engine_id="e", listener=listener
    )
    listener.engine = engine
    return campaign_id, engine


def predictive_campaign(
    sessions: SessionMaker, start: datetime, contacts: int, name: str, agents: int = 4
) -> tuple[VirtualClock, int]:
    """A virtual clock at ``start`` and a predictive campaign with its agents and contacts."""
    clock = VirtualClock(start)
    setup = SimulationSetup(agents=agents, contacts=contacts, dial_mode=DialMode.PREDICTIVE)
    return clock, prepare_campaign(sessions, setup, clock.now(), name=name)

"""Arranging campaigns and contacts directly in the database for engine tests."""

from datetime import datetime

from sqlalchemy.orm import Session

from opendialer.accounts.service import NewTenant
from opendialer.clock import VirtualClock
from opendialer.db import SessionMaker, unit_of_work
from opendialer.demo import SimulationSetup, prepare_campaign
from opendialer.engine.runner import Engine
from opendialer.engine.simulation import SimulatedAgents
from opendialer.models import Campaign, DialMode
from opendialer.telephony.sim import SimNetwork
from opendialer.telephony.sim_scenario import Scenario
from tests import factories

NOW = factories.NOW
make_contact = factories.make_contact


def make_campaign(session: Session, tenant: NewTenant, name: str = "C") -> Campaign:
    """Enabled, 09:00-20:00 every day."""
    return factories.make_campaign(session, tenant.tenant.id, name)


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

"""The demo's and the simulations' data: a tenant, a campaign open every day, its agents
(logged in, ready) and its contacts, made through the same services as the API's."""

from dataclasses import dataclass
from datetime import datetime, timedelta
from datetime import time as clock_time
from functools import cache
from typing import Any

from sqlalchemy import Insert, insert
from sqlalchemy.orm import Session
from sqlalchemy.sql.dml import ReturningInsert

from opendialer.accounts.service import create_tenant
from opendialer.agents import sessions as agent_sessions
from opendialer.campaigns.schemas import CampaignCreate
from opendialer.campaigns.service import add_member, create_campaign
from opendialer.db import SessionMaker, unit_of_work
from opendialer.engine.agent_state import AgentEvent
from opendialer.models import DialMode, Tenant, User, UserRole
from opendialer.models.campaign import DEFAULT_ABANDON_TARGET
from opendialer.models.contact import CONTACTS, PHONES
from opendialer.scoping import Scope
from opendialer.telephony.campaign_scenario import CampaignScenario

ALL_DAYS = [1, 2, 3, 4, 5, 6, 7]
INSERT_BATCH = 5000


@dataclass(frozen=True)
class SimulationSetup:
    agents: int = 20
    contacts: int = 20_000
    dial_mode: DialMode = DialMode.PREDICTIVE
    abandon_target: float = DEFAULT_ABANDON_TARGET
    calling_hours: tuple[clock_time, clock_time] = (clock_time(8), clock_time(21))
    amd: bool = False
    amd_false_positive_rate: float = 0.0
    max_tries: int = 3
    """Tries per number (the campaign's ``max_tries_per_number``)."""
    retry_after_seconds: int = 3600
    """Seconds before an unreached number is tried again (the campaign's default retry delay)."""

    @classmethod
    def of(
        cls, scenario: CampaignScenario, contacts: int, dial_mode: DialMode
    ) -> "SimulationSetup":
        """A campaign scenario's setup: the most agents its schedule has on duty, its list's
        size (or ``contacts``) and retry rules, its AMD and abandonment target."""
        listed = scenario.contacts
        return cls(
            agents=max(1, scenario.most_agents()),
            contacts=listed.size if listed is not None else contacts,
            dial_mode=dial_mode,
            abandon_target=scenario.abandon_target,
            amd=scenario.amd,
            amd_false_positive_rate=scenario.amd_false_positive_at(scenario.start_second),
            max_tries=listed.max_tries if listed is not None else cls.max_tries,
            retry_after_seconds=round(listed.retry_after) if listed is not None else 3600,
        )


def number_for(index: int) -> str:
    """A valid Berlin number per contact, distinct for every index below 90 million."""
    return f"+4930{10_000_000 + index}"


def prepare_campaign(
    sessions: SessionMaker,
    setup: SimulationSetup,
    start: datetime,
    *,
    tenant_id: int | None = None,
    name: str = "Simulation",
) -> int:
    """A campaign open every day, its agents (logged in, ready) and contacts.

    In a new tenant unless ``tenant_id`` is given.
    """
    with unit_of_work(sessions) as session:
        if tenant_id is None:
            tenant = create_tenant(session, name, default_region="DE", timezone="UTC").tenant
        else:
            tenant = session.get_one(Tenant, tenant_id)
        campaign = create_campaign(
            session,
            Scope.system(tenant.id),
            CampaignCreate(
                name=name,
                dial_mode=setup.dial_mode,
                status="enabled",
                abandon_target=setup.abandon_target,
                calling_days=ALL_DAYS,
                calling_hours_start=setup.calling_hours[0],
                calling_hours_end=setup.calling_hours[1],
                timezone="Europe/Berlin",
            ),
        )
        campaign.max_tries_per_number = setup.max_tries
        campaign.retry_delay_seconds = setup.retry_after_seconds
        campaign.amd_enabled = setup.amd
        campaign.amd_false_positive_rate = setup.amd_false_positive_rate
        for i in range(setup.agents):
            user = User(
                tenant_id=tenant.id,
                username=f"c{campaign.id}-agent{i + 1}",
                role=UserRole.AGENT,
                extension=str(100 + i),
                sip_uri=f"sip:agent{i + 1}@sim",
            )
            session.add(user)
            session.flush()
            add_member(session, campaign, user.id)
            agent_sessions.act(
                session, Scope.system(tenant.id), user_id=user.id, event=AgentEvent.LOGIN, at=start
            )
            agent_sessions.act(
                session, Scope.system(tenant.id), user_id=user.id, event=AgentEvent.READY, at=start
            )
        tenant_id, campaign_id = tenant.id, campaign.id
    _insert_contacts(sessions, tenant_id, campaign_id, setup.contacts, start)
    return campaign_id


def _insert_contacts(
    sessions: SessionMaker, tenant_id: int, campaign_id: int, count: int, start: datetime
) -> None:
    for offset in range(0, count, INSERT_BATCH):
        with unit_of_work(sessions) as session:
            indexes = range(offset, min(count, offset + INSERT_BATCH))
            add_contacts(session, tenant_id, campaign_id, indexes, start)


def add_contacts(
    session: Session, tenant_id: int, campaign_id: int, indexes: range, start: datetime
) -> None:
    """Contacts due from ``start``, one per index (numbered by :func:`number_for`): two Core
    statements on the session's connection (the ORM's bulk insert made the same rows at about
    twice the Python work per row)."""
    rows = [
        {
            "tenant_id": tenant_id,
            "campaign_id": campaign_id,
            "name": f"Contact {i}",
            "next_try_at": start - timedelta(minutes=1),
            "custom_data": {},
            "form_data": {},
        }
        for i in indexes
    ]
    # Each id found by its contact's (unique) name: a RETURNING in the rows' order would make
    # SQLite insert them one statement a row, where this is a few multi-row statements.
    index_of = {row["name"]: i for row, i in zip(rows, indexes, strict=True)}
    conn = session.connection()
    inserted = conn.execute(_contacts_insert(), rows).all()
    conn.execute(
        _phones_insert(),
        [
            {
                "contact_id": cid,
                "tenant_id": tenant_id,
                "campaign_id": campaign_id,
                "position": 1,
                "raw": number_for(index_of[name]),
                "e164": number_for(index_of[name]),
            }
            for cid, name in sorted(inserted)  # in the contacts' order, as they were inserted
        ],
    )


@cache
def _contacts_insert() -> ReturningInsert[Any]:
    return insert(CONTACTS).returning(CONTACTS.c.id, CONTACTS.c.name)


@cache
def _phones_insert() -> Insert:
    return insert(PHONES)

"""The contacts' and numbers' foreign keys (migration 24a5eed00009): one key per row, which the
import's speed on PostgreSQL depends on, and which keeps the denormalised tenant and campaign
right. On both databases."""

import pytest
from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from opendialer.accounts.service import NewTenant
from opendialer.campaigns.schemas import CampaignCreate
from opendialer.campaigns.service import create_campaign
from opendialer.db import SessionMaker, unit_of_work
from opendialer.models import Campaign, Contact, ContactPhone, Tenant
from opendialer.models.contact import CONTACTS, PHONES
from opendialer.scoping import Scope


def _campaign(sessions: SessionMaker, tenant_id: int, name: str) -> int:
    with unit_of_work(sessions) as session:
        data = CampaignCreate(name=name, dial_mode="predictive")
        return create_campaign(session, Scope.system(tenant_id), data).id


def _contact(sessions: SessionMaker, tenant_id: int, campaign_id: int) -> int:
    with unit_of_work(sessions) as session:
        values = {"tenant_id": tenant_id, "campaign_id": campaign_id}
        inserted = session.execute(insert(CONTACTS).values(values).returning(CONTACTS.c.id))
        return int(inserted.scalar_one())


def _phone(sessions: SessionMaker, contact_id: int, tenant_id: int, campaign_id: int) -> None:
    with unit_of_work(sessions) as session:
        values = {
            "contact_id": contact_id,
            "tenant_id": tenant_id,
            "campaign_id": campaign_id,
            "position": 1,
            "raw": "030 1234567",
            "e164": "+49301234567",
        }
        session.execute(insert(PHONES).values(values))


def test_a_contact_cannot_be_in_another_tenant_s_campaign(
    sessions: SessionMaker, tenant: NewTenant, other_tenant: NewTenant
) -> None:
    theirs = _campaign(sessions, other_tenant.tenant.id, "Theirs")
    with pytest.raises(IntegrityError):
        _contact(sessions, tenant.tenant.id, theirs)


def test_a_number_cannot_disagree_with_its_contact(
    sessions: SessionMaker, tenant: NewTenant, other_tenant: NewTenant
) -> None:
    ours = _campaign(sessions, tenant.tenant.id, "Ours")
    second = _campaign(sessions, tenant.tenant.id, "Second")
    contact_id = _contact(sessions, tenant.tenant.id, ours)
    with pytest.raises(IntegrityError):
        _phone(sessions, contact_id, tenant.tenant.id, second)  # another campaign
    with pytest.raises(IntegrityError):
        _phone(sessions, contact_id, other_tenant.tenant.id, ours)  # another tenant
    _phone(sessions, contact_id, tenant.tenant.id, ours)


def test_numbers_follow_their_contact_and_go_with_their_tenant(
    sessions: SessionMaker, tenant: NewTenant
) -> None:
    first = _campaign(sessions, tenant.tenant.id, "First")
    second = _campaign(sessions, tenant.tenant.id, "Second")
    contact_id = _contact(sessions, tenant.tenant.id, first)
    _phone(sessions, contact_id, tenant.tenant.id, first)
    with unit_of_work(sessions) as session:  # SQL alone, no ORM help: the key cascades it
        session.execute(update(Contact).where(Contact.id == contact_id).values(campaign_id=second))
    with unit_of_work(sessions, writes=False) as session:
        assert session.scalars(select(ContactPhone.campaign_id)).all() == [second]
    with unit_of_work(sessions) as session:
        session.execute(delete(Tenant).where(Tenant.id == tenant.tenant.id))
    with unit_of_work(sessions, writes=False) as session:
        assert session.scalars(select(Campaign.id)).all() == []
        assert session.scalars(select(Contact.id)).all() == []
        assert session.scalars(select(ContactPhone.id)).all() == []

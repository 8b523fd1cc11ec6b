"""The simulations' contacts: each due from the start, with its own number."""

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from opendialer.accounts.service import NewTenant
from opendialer.db import SessionMaker, unit_of_work
from opendialer.demo import add_contacts, number_for
from opendialer.models import Contact, ContactPhone, ContactStatus
from tests.engine.helpers import make_campaign

START = datetime(2026, 12, 7, 9, tzinfo=UTC)


def test_contacts_are_added_due_with_their_numbers(
    sessions: SessionMaker, tenant: NewTenant
) -> None:
    with unit_of_work(sessions) as session:
        campaign = make_campaign(session, tenant)
        tenant_id, campaign_id = tenant.tenant.id, campaign.id
        add_contacts(session, tenant_id, campaign_id, range(3, 7), START)
        add_contacts(session, tenant_id, campaign_id, range(7, 8), START)
    with unit_of_work(sessions) as session:
        contacts = session.scalars(select(Contact).order_by(Contact.id)).all()
        assert [c.name for c in contacts] == [f"Contact {i}" for i in range(3, 8)]
        for index, contact in zip(range(3, 8), contacts, strict=True):
            assert (contact.tenant_id, contact.campaign_id) == (tenant_id, campaign_id)
            assert contact.status is ContactStatus.PENDING and not contact.locked
            assert contact.next_try_at == START - timedelta(minutes=1)
            assert (contact.tries, contact.next_phone_position) == (0, 1)
            assert (contact.custom_data, contact.form_data) == ({}, {})
            assert contact.created_at is not None and contact.updated_at is not None
            [phone] = session.scalars(
                select(ContactPhone).where(ContactPhone.contact_id == contact.id)
            ).all()
            assert (phone.position, phone.raw, phone.e164) == (
                1,
                number_for(index),
                number_for(index),
            )
            assert (phone.tenant_id, phone.campaign_id, phone.tries, phone.invalid) == (
                tenant_id,
                campaign_id,
                0,
                False,
            )

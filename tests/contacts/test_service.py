"""Contact service: the functions the engine, the importer and the vendor dialects call."""

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from opendialer.accounts.service import NewTenant
from opendialer.campaigns.schemas import CampaignCreate
from opendialer.campaigns.service import create_campaign
from opendialer.contacts import service
from opendialer.contacts.schemas import CallAttemptRead, ContactCreate, ContactRead, ContactUpdate
from opendialer.db import SessionMaker
from opendialer.errors import InvalidPhoneNumber, NotFound, OpendialerError
from opendialer.models import (
    CallAttempt,
    Campaign,
    Contact,
    ContactPhone,
    ContactStatus,
    DialMode,
    OwnCallerIdCheck,
    Tenant,
)
from opendialer.pagination import PageQuery, fetch_page
from opendialer.scoping import Scope
from tests.conftest import make_tenant

NewContact = Callable[..., Contact]


@pytest.fixture
def acme(session: Session, tenant: NewTenant) -> Tenant:
    return session.get_one(Tenant, tenant.tenant.id)


@pytest.fixture
def campaign(session: Session, acme: Tenant) -> Campaign:
    return _campaign(session, acme, "Spring")


def _campaign(session: Session, tenant: Tenant, name: str) -> Campaign:
    return create_campaign(
        session, Scope.system(tenant.id), CampaignCreate(name=name, dial_mode=DialMode.PREVIEW)
    )


@pytest.fixture
def new_contact(session: Session, acme: Tenant, campaign: Campaign) -> NewContact:
    def make(
        phones: Any = ("0301234567",), target: Campaign | None = None, **values: Any
    ) -> Contact:
        data = ContactCreate(phones=list(phones) if isinstance(phones, tuple) else phones, **values)
        return service.create_contact(session, Scope.system(acme.id), target or campaign, data)

    return make


def _update(session: Session, contact: Contact, **values: Any) -> Contact:
    return service.update_contact(
        session, Scope.system(contact.tenant_id), contact.id, ContactUpdate.model_validate(values)
    )


# Create ------------------------------------------------------------------------------------


def test_numbers_are_read_in_the_tenant_region(sessions: SessionMaker, session: Session) -> None:
    israel = session.get_one(Tenant, make_tenant(sessions, "Voicenter", region="IL").tenant.id)
    campaign = _campaign(session, israel, "IL")
    contact = service.create_contact(
        session,
        Scope.system(israel.id),
        campaign,
        ContactCreate(phones=["0501234567", "972521234567"]),
    )
    assert [p.e164 for p in contact.phones] == ["+972501234567", "+972521234567"]
    assert {(p.tenant_id, p.campaign_id) for p in contact.phones} == {(israel.id, campaign.id)}


def test_create_keeps_positions_and_flags_invalid(new_contact: NewContact) -> None:
    contact = new_contact({2: "030 1234567", 5: "0049 (89) 4614950703", 6: "what"})
    assert [(p.position, p.e164, p.invalid) for p in contact.phones] == [
        (2, "+49301234567", False),
        (5, "+49894614950703", False),
        (6, None, True),
    ]
    assert contact.status is ContactStatus.PENDING and contact.tries == 0


def test_a_created_contact_is_the_sessions_own(session: Session, new_contact: NewContact) -> None:
    contact = new_contact(("0301234567", "0891234567"), name="Before")
    assert session.get(Contact, contact.id) is contact
    assert not session.new and not session.dirty  # inserted already, nothing pending
    assert [p.position for p in contact.phones] == [1, 2]
    assert contact.phones[1].contact_id == contact.id
    contact.name = "After"
    contact.phones[1].e164 = None
    session.flush()
    session.expire_all()
    assert session.get_one(Contact, contact.id).name == "After"
    assert [p.e164 for p in session.get_one(Contact, contact.id).phones] == ["+49301234567", None]


def test_create_without_a_valid_number_writes_nothing(
    session: Session, new_contact: NewContact
) -> None:
    with pytest.raises(InvalidPhoneNumber) as raised:
        new_contact(("1", "abc"), name="Nobody")
    assert raised.value.status_code == 422
    assert session.scalars(select(Contact)).all() == []
    assert session.scalars(select(ContactPhone)).all() == []


def test_create_refuses_a_campaign_of_another_tenant(
    other_tenant: NewTenant, session: Session, acme: Tenant
) -> None:
    other = session.get_one(Tenant, other_tenant.tenant.id)
    foreign = _campaign(session, other, "Theirs")
    with pytest.raises(NotFound):
        service.create_contact(
            session, Scope.system(acme.id), foreign, ContactCreate(phones=["0301234567"])
        )


def test_the_create_reads_its_campaign_as_columns_within_the_scope(
    other_tenant: NewTenant, session: Session, acme: Tenant, campaign: Campaign
) -> None:
    """The native route's look-up: the three columns and the tenant's region, no ORM object;
    another tenant's campaign and a missing one are the same 404."""
    found, region = service.campaign_for_create(session, Scope.system(acme.id), campaign.id)
    assert found == service.CampaignForCreate(campaign.id, acme.id, campaign.own_caller_id_check)
    assert isinstance(found.own_caller_id_check, OwnCallerIdCheck)
    assert region == acme.default_region
    other = session.get_one(Tenant, other_tenant.tenant.id)
    foreign = _campaign(session, other, "Theirs")
    for missing in (foreign.id, foreign.id + 1000):
        with pytest.raises(NotFound):
            service.campaign_for_create(session, Scope.system(acme.id), missing)
    contact = service.create_contact(
        session,
        Scope.system(acme.id),
        found,
        ContactCreate(phones=["0301234567"], caller_id="+4930999"),
        region=region,
    )
    assert contact.campaign_id == campaign.id and contact.tenant_id == acme.id


def test_the_native_create_answers_with_the_rows_it_inserted(
    session: Session, acme: Tenant, campaign: Campaign
) -> None:
    """``create_contact_read`` renders the inserted rows without ORM objects: the answer is the
    contact as read back from the database through the ORM, numbers in position order."""
    scope = Scope.system(acme.id)
    found, region = service.campaign_for_create(session, scope, campaign.id)
    data = ContactCreate(
        phones={2: "0891234567", 1: "0301234567"}, name="Read", custom_data={"a": 1}, priority=3
    )
    answer = service.create_contact_read(session, scope, found, data, region=region)
    session.flush()
    session.expire_all()
    stored = session.get_one(Contact, answer.id)
    assert answer == ContactRead.model_validate(stored)
    assert answer.model_dump_json() == ContactRead.model_validate(stored).model_dump_json()
    assert [p.position for p in answer.phones] == [1, 2]
    assert answer.phones[0].e164 == "+49301234567"


def test_next_try_defaults_to_now(new_contact: NewContact) -> None:
    before = datetime.now(UTC)
    assert before <= new_contact().next_try_at <= datetime.now(UTC)
    later = datetime(2030, 1, 1, tzinfo=UTC)
    assert new_contact(next_try_at=later).next_try_at == later


# Update ------------------------------------------------------------------------------------


def test_a_failed_update_changes_nothing_in_the_session(
    session: Session, new_contact: NewContact
) -> None:
    """A dialect that catches the error must not commit half an update."""
    contact = new_contact(("0301111111", "0302222222"), name="Before")
    for bad in (
        {"name": "After", "list_id": 999_999},
        {"name": "After", "form_data": {"unknown": 1}},
        {"name": "After", "phones": {1: None, 2: "nonsense"}},
        {"name": "After", "campaign_id": 999_999},
    ):
        with pytest.raises(OpendialerError):
            _update(session, contact, **bad)
    assert contact.name == "Before" and contact not in session.dirty
    assert [(p.position, p.e164) for p in contact.phones] == [
        (1, "+49301111111"),
        (2, "+49302222222"),
    ]


def test_a_contact_keeps_a_number_the_network_has_not_rejected(
    session: Session, new_contact: NewContact
) -> None:
    contact = new_contact(("0301111111", "0302222222"))
    contact.phones[1].invalid = True  # the network answered 404 for it
    with pytest.raises(InvalidPhoneNumber):
        _update(session, contact, phones={1: None})
    assert _update(session, contact, phones={1: None, 3: "0303333333"}).phones[1].position == 3


def test_renumbering_starts_afresh_but_keeps_the_abandon_rest(
    session: Session, new_contact: NewContact
) -> None:
    contact = new_contact(("0301111111", "0302222222"))
    first, second = contact.phones
    rested = datetime.now(UTC) - timedelta(hours=1)
    first.tries, first.last_cause, first.abandoned_at = 2, 17, rested
    second.tries = 1
    _update(session, contact, phones={1: "0309999999", 2: "0301111111"})
    first, second = contact.phones
    assert (first.e164, first.tries, first.last_cause, first.abandoned_at) == (
        "+49309999999",
        0,
        None,
        None,
    )
    assert (second.e164, second.tries, second.abandoned_at) == ("+49301111111", 0, rested)


def test_update_ignores_unset_fields(session: Session, new_contact: NewContact) -> None:
    contact = new_contact(name="Name", city="Berlin", priority=4, custom_data={"a": 1})
    _update(session, contact, city=None, comment="hello")
    assert (contact.name, contact.city, contact.priority, contact.comment) == (
        "Name",
        None,
        4,
        "hello",
    )
    assert contact.custom_data == {"a": 1}


def test_move_to_another_campaign(session: Session, acme: Tenant, new_contact: NewContact) -> None:
    contact = new_contact(("0301111111", "0302222222"))
    autumn = _campaign(session, acme, "Autumn")
    _update(session, contact, campaign_id=autumn.id)
    session.expire_all()
    phone_campaigns = session.scalars(
        select(ContactPhone.campaign_id).where(ContactPhone.contact_id == contact.id)
    ).all()
    assert contact.campaign_id == autumn.id and set(phone_campaigns) == {autumn.id}


# Look-ups ----------------------------------------------------------------------------------


def test_find_by_user_data_is_oldest_first_and_scoped(
    other_tenant: NewTenant, session: Session, acme: Tenant, new_contact: NewContact
) -> None:
    autumn = _campaign(session, acme, "Autumn")
    first = new_contact(user_data="K-1")
    second = new_contact(user_data="K-1", target=autumn)
    new_contact(user_data="K-2")
    other = session.get_one(Tenant, other_tenant.tenant.id)
    data = ContactCreate(phones=["0301234567"], user_data="K-1")
    service.create_contact(session, Scope.system(other.id), _campaign(session, other, "X"), data)
    assert service.find_by_user_data(session, Scope.system(acme.id), "K-1") == [first, second]
    assert service.find_by_user_data(
        session, Scope.system(acme.id), "K-1", campaign_id=autumn.id
    ) == [second]
    assert service.find_by_user_data(session, Scope.system(acme.id), "K-3") == []


def test_find_by_phone_matches_any_position_within_the_tenant(
    other_tenant: NewTenant, session: Session, acme: Tenant, new_contact: NewContact
) -> None:
    first = new_contact({4: "0301234567"})
    second = new_contact(("0309999999", "+49 30 1234567"))
    new_contact(("0308888888",))
    other = session.get_one(Tenant, other_tenant.tenant.id)
    data = ContactCreate(phones=["0301234567"])
    service.create_contact(session, Scope.system(other.id), _campaign(session, other, "X"), data)
    assert service.find_by_phone(session, Scope.system(acme.id), "+49301234567") == [first, second]
    assert service.find_by_phone(session, Scope.system(acme.id), "0301234567") == []  # E.164 only
    assert (
        service.find_by_phone(session, Scope.system(acme.id), "+49301234567", campaign_id=0) == []
    )


def test_phone_filter_never_matches_invalid_numbers(
    session: Session, acme: Tenant, new_contact: NewContact
) -> None:
    """An unparseable query must not turn into "e164 IS NULL"."""
    new_contact(("0301234567", "garbage"))

    def found(phone: str, region: str | None) -> list[Contact]:
        stmt = service.contacts_query(Scope.system(acme.id), phone=phone, region=region)
        return list(session.scalars(stmt))

    assert found("garbage", "DE") == [] and found("030 1234567", None) == []
    assert len(found("030 1234567", "DE")) == 1 and len(found("+49301234567", None)) == 1


# Lock, reset, delete, history --------------------------------------------------------------


def test_lock_unlock(session: Session, acme: Tenant, new_contact: NewContact) -> None:
    contact = new_contact()
    assert service.lock_contact(session, Scope.system(acme.id), contact.id).locked is True
    assert service.unlock_contact(session, Scope.system(acme.id), contact.id).locked is False
    with pytest.raises(NotFound):
        service.lock_contact(session, Scope.system(acme.id + 1000), contact.id)


def test_reset_leaves_a_contact_in_a_call_to_its_engine(
    session: Session, acme: Tenant, new_contact: NewContact
) -> None:
    contact = new_contact()
    contact.status, contact.tries, contact.phones[0].tries = ContactStatus.IN_CALL, 2, 2
    reset = service.reset_contact(session, Scope.system(acme.id), contact.id)
    assert (reset.status, reset.tries, reset.phones[0].tries) == (ContactStatus.IN_CALL, 0, 0)
    reset.status = ContactStatus.DONE
    assert (
        service.reset_contact(session, Scope.system(acme.id), contact.id).status
        is ContactStatus.PENDING
    )


def test_delete_and_history(session: Session, acme: Tenant, new_contact: NewContact) -> None:
    contact, other = new_contact(user_data="K"), new_contact(user_data="K")
    for owner in (contact, contact, other):
        session.add(CallAttempt(tenant_id=acme.id, contact_id=owner.id, b_number="+49301234567"))
    session.flush()
    page = fetch_page(
        session,
        service.contact_history_query(Scope.system(acme.id), contact.id),
        CallAttempt.id,
        PageQuery(limit=10),
        CallAttemptRead,
    )
    assert [row.contact_id for row in page.items] == [contact.id, contact.id]
    assert (
        session.scalars(
            service.contact_history_query(Scope.system(acme.id + 1000), contact.id)
        ).all()
        == []
    )
    by_user_data = session.scalars(
        service.user_data_history_query(Scope.system(acme.id), "K")
    ).all()
    assert len(by_user_data) == 3
    service.delete_contact(session, Scope.system(acme.id), contact.id)
    session.expire_all()
    assert session.get(Contact, contact.id) is None
    assert (
        session.scalars(service.contact_history_query(Scope.system(acme.id), contact.id)).all()
        == []
    )
    assert len(session.scalars(select(CallAttempt)).all()) == 3

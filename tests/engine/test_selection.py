"""Claiming the next contact: order, eligibility, rotation and exclusivity, on both databases."""

from datetime import UTC, datetime, timedelta

from sqlalchemy import event
from sqlalchemy.orm import Session

from opendialer.accounts.service import NewTenant
from opendialer.db import SessionMaker, unit_of_work
from opendialer.engine.kept_tenant import read_rules
from opendialer.engine.selection import claim_next
from opendialer.models import (
    Campaign,
    CampaignStatus,
    Contact,
    ContactStatus,
    DncEntry,
)
from tests.engine.helpers import NOW, make_campaign, make_contact


def _campaign(session: Session, tenant: NewTenant) -> Campaign:
    return make_campaign(session, tenant)


_contact = make_contact


def test_order_is_priority_then_next_try_then_age(session: Session, tenant: NewTenant) -> None:
    campaign = _campaign(session, tenant)
    old = _contact(session, campaign, "+4930100", next_try_at=NOW - timedelta(hours=2))
    young = _contact(session, campaign, "+4930101", next_try_at=NOW - timedelta(hours=2))
    urgent = _contact(session, campaign, "+4930102", priority=5)
    earlier = _contact(session, campaign, "+4930103", next_try_at=NOW - timedelta(hours=3))
    order = [claim_next(session, campaign, NOW, "t") for _ in range(5)]
    assert [c.contact_id if c else None for c in order] == [
        urgent.id,
        earlier.id,
        old.id,
        young.id,
        None,
    ]


def test_skips_locked_future_done_and_windows(session: Session, tenant: NewTenant) -> None:
    campaign = _campaign(session, tenant)
    _contact(session, campaign, "+4930100", locked=True)
    _contact(session, campaign, "+4930101", next_try_at=NOW + timedelta(minutes=1))
    _contact(session, campaign, "+4930102", status=ContactStatus.DONE)
    later = _contact(session, campaign, "+4930103", begin_at=NOW + timedelta(days=1))
    ended = _contact(session, campaign, "+4930104", end_at=NOW - timedelta(days=1))
    assert claim_next(session, campaign, NOW, "t") is None
    assert later.next_try_at == NOW + timedelta(days=1)
    assert ended.status == ContactStatus.DONE


def test_dnc_numbers_are_never_claimed_unless_ignored(session: Session, tenant: NewTenant) -> None:
    campaign = _campaign(session, tenant)
    session.add(DncEntry(tenant_id=campaign.tenant_id, e164="+4930100"))
    session.add(DncEntry(tenant_id=campaign.tenant_id, campaign_id=campaign.id, e164="+4930101"))
    two = _contact(session, campaign, "+4930100", "+4930102")
    _contact(session, campaign, "+4930101")
    allowed = _contact(session, campaign, "+4930100", ignore_dnc=True, priority=-1)
    first = claim_next(session, campaign, NOW, "t")
    assert first is not None and (first.contact_id, first.e164) == (two.id, "+4930102")
    second = claim_next(session, campaign, NOW, "t")
    assert second is not None and (second.contact_id, second.e164) == (allowed.id, "+4930100")
    assert claim_next(session, campaign, NOW, "t") is None


def test_a_claim_is_one_read_and_one_write(sessions: SessionMaker, tenant: NewTenant) -> None:
    """The engine's way (arranged earlier, claimed in a new transaction): the contacts, their
    numbers and their DNC state come in one query, then the compare-and-set."""
    with unit_of_work(sessions) as session:
        campaign = _campaign(session, tenant)
        session.add(DncEntry(tenant_id=campaign.tenant_id, e164="+4930100"))
        session.add(
            DncEntry(tenant_id=campaign.tenant_id, campaign_id=campaign.id, e164="+4930101")
        )
        two = _contact(session, campaign, "+4930100", "+4930101", "+4930102")
    statements: list[str] = []

    def record(conn: object, cursor: object, statement: str, *args: object) -> None:
        statements.append(statement)

    with unit_of_work(sessions) as session:
        campaign = session.get_one(Campaign, campaign.id)
        # The tenant's own rules are kept between transactions (test_kept_tenant.py).
        read_rules(session.connection(), campaign.tenant_id)
        bind = session.connection().engine
        event.listen(bind, "before_cursor_execute", record)
        try:
            claim = claim_next(session, campaign, NOW, "t")
        finally:
            event.remove(bind, "before_cursor_execute", record)
    assert claim is not None and (claim.contact_id, claim.e164) == (two.id, "+4930102")
    # ... and one insert: the two numbers passed over for DNC (the compliance report's hits).
    assert [s.split()[0] for s in statements] == ["SELECT", "INSERT", "UPDATE"], statements


def test_numbers_rotate_and_exhausted_contacts_finish(session: Session, tenant: NewTenant) -> None:
    campaign = _campaign(session, tenant)
    contact = _contact(session, campaign, "+4930100", "+4930101", "+4930102")
    contact.next_phone_position = 2
    contact.phones[1].invalid = True
    claim = claim_next(session, campaign, NOW, "t")
    assert claim is not None and claim.position == 3
    for phone in contact.phones:
        phone.tries = campaign.max_tries_per_number
    contact.status = ContactStatus.PENDING
    session.flush()
    assert claim_next(session, campaign, NOW, "t") is None
    session.refresh(contact)
    assert contact.status == ContactStatus.DONE


def test_recently_abandoned_number_rests_72_hours(session: Session, tenant: NewTenant) -> None:
    campaign = _campaign(session, tenant)
    contact = _contact(session, campaign, "+4930100")
    contact.phones[0].abandoned_at = NOW - timedelta(hours=71)
    session.flush()
    assert claim_next(session, campaign, NOW, "t") is None
    contact.phones[0].abandoned_at = NOW - timedelta(hours=73)
    contact.next_try_at = NOW - timedelta(minutes=1)
    session.flush()
    assert claim_next(session, campaign, NOW, "t") is not None


def test_a_claimed_contact_is_not_claimed_again(sessions: SessionMaker, tenant: NewTenant) -> None:
    with unit_of_work(sessions) as session:
        campaign = _campaign(session, tenant)
        contact_id = _contact(session, campaign, "+4930100").id
    with unit_of_work(sessions) as first:
        claim = claim_next(first, first.get_one(Campaign, campaign.id), NOW, "a")
        assert claim is not None and claim.contact_id == contact_id
    with unit_of_work(sessions) as second:
        assert claim_next(second, second.get_one(Campaign, campaign.id), NOW, "b") is None
        contact = second.get_one(Contact, contact_id)
        assert (contact.status, contact.claimed_by) == (ContactStatus.IN_CALL, "a")


def test_nothing_is_claimed_outside_the_campaign_window(
    session: Session, tenant: NewTenant
) -> None:
    campaign = _campaign(session, tenant)
    _contact(session, campaign, "+4930100")
    campaign.status = CampaignStatus.DISABLED
    assert claim_next(session, campaign, NOW, "t") is None
    campaign.status = CampaignStatus.ENABLED
    assert claim_next(session, campaign, NOW.replace(hour=22), "t") is None  # 23:00 in Berlin
    assert claim_next(session, campaign, NOW, "t") is not None


def test_callee_outside_local_hours_waits_for_the_morning(
    session: Session, tenant: NewTenant
) -> None:
    campaign = _campaign(session, tenant)
    new_york = _contact(session, campaign, "+12125550100")  # 05:00 in New York
    assert claim_next(session, campaign, NOW, "t") is None
    assert new_york.next_try_at == datetime(2026, 11, 23, 14, 0, tzinfo=UTC)
    assert new_york.status == ContactStatus.PENDING
    berlin = _contact(session, campaign, "+12125550101", "+4930100")
    claim = claim_next(session, campaign, NOW, "t")
    assert claim is not None and (claim.contact_id, claim.e164) == (berlin.id, "+4930100")

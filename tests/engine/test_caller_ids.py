"""The caller ID a claim presents: the contact's own, the pool's (rotation or local presence),
else the campaign's; retired numbers never; the attempt records it."""

from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import bindparam, update
from sqlalchemy.orm import Session

from opendialer.accounts.service import NewTenant
from opendialer.engine.caller_ids import DEFAULT_CALLER_ID, claiming_pick_statement, pool_pick
from opendialer.engine.outcomes import start_attempt
from opendialer.engine.selection import claim_next
from opendialer.models import CallerIdNumber, CallerIdStrategy, Campaign
from opendialer.models.contact import CONTACTS
from opendialer.phones import area_of
from tests.engine.helpers import NOW, make_campaign, make_contact

BERLIN_POOL = "+493012340000"
MUNICH_POOL = "+498912340000"
NEW_YORK_POOL = "+12125550111"
POOL = [BERLIN_POOL, MUNICH_POOL, NEW_YORK_POOL]
OPEN_EVERYWHERE = NOW + timedelta(hours=7)  # 18:00 Berlin, 12:00 New York, 09:00 Los Angeles
CALLEES = ["+493055501234", "+498955501234", "+12125550100", "+13105550100", "+4915112345678"]


def _pool(session: Session, campaign: Campaign, *numbers: str) -> list[CallerIdNumber]:
    rows = [
        CallerIdNumber(tenant_id=campaign.tenant_id, campaign_id=campaign.id, e164=n)
        for n in numbers
    ]
    session.add_all(rows)
    session.flush()
    return rows


def _campaign(session: Session, tenant: NewTenant, strategy: CallerIdStrategy) -> Campaign:
    campaign = make_campaign(session, tenant, strategy.value)
    campaign.caller_id = "+4969000000"
    campaign.caller_id_strategy = strategy
    return campaign


def test_the_contacts_own_caller_id_comes_first_and_is_recorded(
    session: Session, tenant: NewTenant
) -> None:
    campaign = _campaign(session, tenant, CallerIdStrategy.LOCAL)
    _pool(session, campaign, BERLIN_POOL)
    make_contact(session, campaign, "+493055501234", caller_id="+4940777")
    claim = claim_next(session, campaign, NOW, "t")
    assert claim is not None and claim.caller_id == "+4940777"
    assert start_attempt(session, campaign, claim, NOW, "t").a_number == "+4940777"


def test_fixed_presents_the_campaigns_or_the_default(session: Session, tenant: NewTenant) -> None:
    campaign = _campaign(session, tenant, CallerIdStrategy.FIXED)
    _pool(session, campaign, BERLIN_POOL)
    make_contact(session, campaign, "+493055501234")
    make_contact(session, campaign, "+493055501235")
    first = claim_next(session, campaign, NOW, "t")
    assert first is not None and first.caller_id == "+4969000000"
    campaign.caller_id = None
    second = claim_next(session, campaign, NOW, "t")
    assert second is not None and second.caller_id == DEFAULT_CALLER_ID


def test_rotation_uses_each_active_number_in_turn(session: Session, tenant: NewTenant) -> None:
    campaign = _campaign(session, tenant, CallerIdStrategy.ROTATION)
    munich = _pool(session, campaign, *POOL)[1]
    munich.retired_at = NOW - timedelta(days=1)
    for i in range(4):
        make_contact(session, campaign, f"+49305550{i:04d}")
    presented = []
    for minute in range(4):
        claim = claim_next(session, campaign, NOW + timedelta(minutes=minute), "t")
        assert claim is not None
        presented.append(claim.caller_id)
    assert presented == [BERLIN_POOL, NEW_YORK_POOL, BERLIN_POOL, NEW_YORK_POOL]


@settings(
    max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    callee=st.sampled_from(CALLEES),
    pool=st.lists(st.sampled_from(POOL), unique=True),
    retired=st.sets(st.sampled_from(POOL)),
)
def test_local_presence_is_the_callees_area_else_the_default(
    session: Session, tenant: NewTenant, callee: str, pool: list[str], retired: set[str]
) -> None:
    nested = session.begin_nested()
    try:
        campaign = _campaign(session, tenant, CallerIdStrategy.LOCAL)
        for row in _pool(session, campaign, *pool):
            row.retired_at = NOW if row.e164 in retired else None
        make_contact(session, campaign, callee)
        claim = claim_next(session, campaign, OPEN_EVERYWHERE, "t")
        assert claim is not None
        area = area_of(callee)
        local = [n for n in pool if n not in retired and area is not None and area_of(n) == area]
        assert claim.caller_id == (local[0] if local else "+4969000000")
    finally:
        nested.rollback()


def test_a_pick_folded_into_a_claim_marks_a_number_only_when_the_contact_is_claimed(
    session: Session, tenant: NewTenant
) -> None:
    """PostgreSQL's one-statement claim and pick: a contact another engine claimed first
    leaves the pool as it was."""
    conn = session.connection()
    if conn.dialect.name != "postgresql":
        pytest.skip("SQLite claims and picks in two statements")
    campaign = _campaign(session, tenant, CallerIdStrategy.ROTATION)
    (number,) = _pool(session, campaign, BERLIN_POOL)
    contact = make_contact(session, campaign, "+493055501234")
    claim = (
        update(CONTACTS)
        .where(CONTACTS.c.id == bindparam("contact_id"), CONTACTS.c.status == "pending")
        .values(status="in_call", updated_at=bindparam("updated_at"))
    )
    params = {"contact_id": contact.id, "updated_at": NOW, "now": NOW}
    pick = pool_pick(campaign, None, "+493055501234")
    assert pick is not None
    statement = claiming_pick_statement(claim, bool(pick["local"]))
    assert tuple(conn.execute(statement, {**params, **pick}).one()) == (1, BERLIN_POOL)
    later = {**params, "now": NOW + timedelta(minutes=1)}
    assert tuple(conn.execute(statement, {**later, **pick}).one()) == (0, None)
    session.refresh(number)
    assert number.last_used_at == NOW

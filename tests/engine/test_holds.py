"""Frequency caps and consent: never dialled over a cap, without required consent, or after
revocation; a held contact is parked until the hold lifts, with the reason in its history."""

from datetime import datetime, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.orm import Session

from opendialer.accounts.service import NewTenant
from opendialer.engine.compliance import cap_lifts_at, consent_valid
from opendialer.engine.outcomes import set_result_code
from opendialer.engine.selection import claim_next
from opendialer.models import (
    CallAttempt,
    Campaign,
    Consent,
    Contact,
    ContactHold,
    ContactStatus,
    HoldReason,
    ResultAction,
    ResultCode,
)
from tests.engine.helpers import NOW, make_campaign, make_contact
from tests.factories import make_attempt

WINDOW = timedelta(days=7)


def _counted(starts: list[datetime], at: datetime, window: timedelta) -> int:
    return sum(1 for s in starts if s > at - window)


@given(
    offsets=st.lists(st.integers(min_value=0, max_value=7 * 24 * 60 - 1), max_size=15),
    limit=st.integers(min_value=1, max_value=8),
)
def test_cap_lifts_exactly_when_the_window_allows(offsets: list[int], limit: int) -> None:
    starts = [NOW - timedelta(minutes=m) for m in offsets]
    until = cap_lifts_at(starts, limit, WINDOW)
    if until is None:
        assert _counted(starts, NOW, WINDOW) < limit
        return
    assert until > NOW - timedelta(microseconds=1)
    assert _counted(starts, until, WINDOW) < limit
    assert _counted(starts, until - timedelta(microseconds=1), WINDOW) >= limit


@given(
    given_ago=st.integers(-100, 100),
    expires_in=st.none() | st.integers(-100, 100),
    revoked_ago=st.none() | st.integers(-100, 100),
)
def test_consent_is_valid_only_while_given_unexpired_and_unrevoked(
    given_ago: int, expires_in: int | None, revoked_ago: int | None
) -> None:
    hour = timedelta(hours=1)
    given_at = NOW - given_ago * hour
    expires = None if expires_in is None else NOW + expires_in * hour
    revoked = None if revoked_ago is None else NOW - revoked_ago * hour
    valid = consent_valid(given_at, expires, revoked, NOW)
    if valid:
        assert given_at <= NOW and (expires is None or expires > NOW)
        assert revoked is None or revoked > NOW
    else:
        assert (
            given_at > NOW
            or (expires is not None and expires <= NOW)
            or (revoked is not None and revoked <= NOW)
        )


def _attempt(
    session: Session, campaign: Campaign, e164: str, at: datetime, **fields: object
) -> None:
    make_attempt(
        session,
        campaign.tenant_id,
        campaign_id=campaign.id,
        b_number=e164,
        started_at=at,
        ended_at=at,
        **fields,
    )


def _holds(session: Session, contact: Contact) -> list[tuple[HoldReason, datetime]]:
    rows = session.execute(
        select(ContactHold.reason, ContactHold.until).where(ContactHold.contact_id == contact.id)
    )
    return [(r[0], r[1]) for r in rows]


def test_number_cap_counts_every_campaign_of_the_tenant(
    session: Session, tenant: NewTenant
) -> None:
    capped = make_campaign(session, tenant, "capped")
    capped.max_attempts_per_number = 2
    other = make_campaign(session, tenant, "other")
    first = NOW - timedelta(days=3)
    _attempt(session, other, "+4930100", first)
    _attempt(session, capped, "+4930100", NOW - timedelta(days=1))
    contact = make_contact(session, capped, "+4930100")
    assert claim_next(session, capped, NOW, "t") is None
    assert contact.next_try_at == first + WINDOW
    assert _holds(session, contact) == [(HoldReason.NUMBER_CAP, first + WINDOW)]
    claim = claim_next(session, capped, first + WINDOW, "t")
    assert claim is not None and claim.contact_id == contact.id


def test_contact_and_conversation_caps(session: Session, tenant: NewTenant) -> None:
    campaign = make_campaign(session, tenant)
    campaign.max_attempts_per_contact = 1
    campaign.max_conversations = 1
    campaign.cap_window_hours = 24
    talked = make_contact(session, campaign, "+4930100")
    _attempt(session, campaign, "+4930100", NOW - timedelta(hours=2), connected_at=NOW)
    tried = make_contact(session, campaign, "+4930101", "+4930102")
    _attempt(session, campaign, "+4930101", NOW - timedelta(hours=5), contact_id=tried.id)
    free = make_contact(session, campaign, "+4930103", priority=-1)
    claim = claim_next(session, campaign, NOW, "t")
    assert claim is not None and claim.contact_id == free.id
    assert _holds(session, talked) == [(HoldReason.CONVERSATION_CAP, NOW + timedelta(hours=22))]
    assert _holds(session, tried) == [(HoldReason.CONTACT_CAP, NOW + timedelta(hours=19))]


def _consent(session: Session, contact: Contact, **fields: object) -> Consent:
    values: dict[str, object] = {"source": "web form", "given_at": NOW - timedelta(days=1)}
    values.update(fields)
    consent = Consent(tenant_id=contact.tenant_id, contact_id=contact.id, **values)
    session.add(consent)
    session.flush()
    return consent


def test_required_consent(session: Session, tenant: NewTenant) -> None:
    campaign = make_campaign(session, tenant)
    campaign.require_consent = True
    none = make_contact(session, campaign, "+4930100", priority=3)
    expired = make_contact(session, campaign, "+4930101", priority=2)
    _consent(session, expired, expires_at=NOW - timedelta(minutes=1))
    revoked = make_contact(session, campaign, "+4930102", priority=1)
    _consent(session, revoked, revoked_at=NOW - timedelta(seconds=1))
    valid = make_contact(session, campaign, "+4930103")
    _consent(session, valid, expires_at=NOW + timedelta(days=30), reference="contract 7")
    claim = claim_next(session, campaign, NOW, "t")
    assert claim is not None and claim.contact_id == valid.id
    for contact in (none, expired, revoked):
        assert _holds(session, contact) == [(HoldReason.NO_CONSENT, NOW + timedelta(days=1))]


def test_consent_and_caps_checked_together(session: Session, tenant: NewTenant) -> None:
    """Every check on at once (one statement reads them all): missing consent holds first,
    then the cap that lifts last; a consenting contact under every cap is claimed."""
    campaign = make_campaign(session, tenant)
    campaign.require_consent = True
    campaign.max_attempts_per_number = 3
    campaign.max_attempts_per_contact = 1
    campaign.cap_window_hours = 24
    unasked = make_contact(session, campaign, "+4930100", priority=3)
    _attempt(session, campaign, "+4930100", NOW - timedelta(hours=1), contact_id=unasked.id)
    tried = make_contact(session, campaign, "+4930101", priority=2)
    _consent(session, tried)
    _attempt(session, campaign, "+4930101", NOW - timedelta(hours=6), contact_id=tried.id)
    shared = make_contact(session, campaign, "+4930102", priority=1)
    _consent(session, shared)
    for hours in (3, 2, 1):  # another contact's calls to the same number
        _attempt(session, campaign, "+4930102", NOW - timedelta(hours=hours))
    ready = make_contact(session, campaign, "+4930103")
    _consent(session, ready)
    claim = claim_next(session, campaign, NOW, "t")
    assert claim is not None and claim.contact_id == ready.id
    assert _holds(session, unasked) == [(HoldReason.NO_CONSENT, NOW + timedelta(days=1))]
    assert _holds(session, tried) == [(HoldReason.CONTACT_CAP, NOW + timedelta(hours=18))]
    assert _holds(session, shared) == [(HoldReason.NUMBER_CAP, NOW + timedelta(hours=21))]


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    counts=st.lists(st.integers(0, 4), min_size=3, max_size=3),
    limit=st.integers(1, 3),
    window_hours=st.sampled_from([1, 24, 168]),
)
def test_never_claimed_over_the_number_cap(
    session: Session, tenant: NewTenant, counts: list[int], limit: int, window_hours: int
) -> None:
    nested = session.begin_nested()
    try:
        campaign = make_campaign(session, tenant, "capped")
        campaign.max_attempts_per_number = limit
        campaign.cap_window_hours = window_hours
        numbers = [f"+493010{i}" for i in range(len(counts))]
        for number, count in zip(numbers, counts, strict=True):
            for k in range(count):
                _attempt(session, campaign, number, NOW - timedelta(minutes=k * 10 + 1))
            make_contact(session, campaign, number)
        claimed = set()
        while (claim := claim_next(session, campaign, NOW, "t")) is not None:
            claimed.add(claim.e164)
        window = timedelta(hours=window_hours)
        for number, count in zip(numbers, counts, strict=True):
            in_window = sum(1 for k in range(count) if timedelta(minutes=k * 10 + 1) < window)
            assert (number in claimed) == (in_window < limit)
    finally:
        nested.rollback()


def test_a_revoking_result_code_revokes_at_once(session: Session, tenant: NewTenant) -> None:
    campaign = make_campaign(session, tenant)
    contact = make_contact(session, campaign, "+4930100")
    consent = _consent(session, contact)
    code = ResultCode(
        tenant_id=campaign.tenant_id,
        campaign_id=campaign.id,
        code="STOP",
        text_en="Do not call me",
        text_de="Nicht mehr anrufen",
        action=ResultAction.REVOKE_CONSENT,
    )
    session.add(code)
    _attempt(session, campaign, "+4930100", NOW, contact_id=contact.id)
    attempt = session.scalars(select(CallAttempt).where(CallAttempt.contact_id == contact.id)).one()
    set_result_code(session, campaign, attempt, code, NOW)
    session.refresh(consent)
    assert consent.revoked_at == NOW
    assert contact.status == ContactStatus.DONE
    assert claim_next(session, campaign, NOW, "t") is None

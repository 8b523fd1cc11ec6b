"""The tenant's own calendars, closed dates and caps hold for every campaign, besides the
campaign's: a day closed by either is closed, and a number over either cap is not dialled."""

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.orm import Session

from opendialer.accounts.service import NewTenant
from opendialer.calendars import holiday_dates, number_region, parse_calendar
from opendialer.db import SessionMaker, unit_of_work
from opendialer.engine.compliance import TenantRules, callee_open
from opendialer.engine.holds import tenant_rules
from opendialer.engine.selection import claim_next
from opendialer.models import ContactHold, HoldReason, Tenant
from opendialer.phones import time_zones
from tests.engine.helpers import NOW, make_campaign, make_contact
from tests.engine.test_compliance import campaign
from tests.engine.test_compliance_holidays import BERLIN, CALENDARS, NEW_YORK, NUMBERS
from tests.factories import make_attempt
from tests.statements import statements_sent

DATES = st.lists(st.dates(date(2024, 1, 1), date(2030, 12, 31)), max_size=10)


def _covered(code: str, number: str) -> bool:
    calendar, region = parse_calendar(code), number_region(number)
    return (
        region is not None
        and calendar.country == region[0]
        and (None in (calendar.subdivision, region[1]) or calendar.subdivision == region[1])
    )


@settings(max_examples=300, deadline=None)
@given(
    moment=st.datetimes(
        min_value=datetime(2024, 1, 1), max_value=datetime(2030, 12, 31), timezones=st.just(UTC)
    ),
    number=st.sampled_from(NUMBERS),
    own=st.lists(st.sampled_from(CALENDARS), max_size=2, unique=True),
    tenants=st.lists(st.sampled_from(CALENDARS), max_size=2, unique=True),
    own_closed=DATES,
    tenant_closed=DATES,
)
def test_open_means_no_day_off_of_the_campaign_or_the_tenant(
    moment: datetime,
    number: str,
    own: list[str],
    tenants: list[str],
    own_closed: list[date],
    tenant_closed: list[date],
) -> None:
    c = campaign(holiday_calendars=own, closed_dates=[d.isoformat() for d in own_closed])
    rules = TenantRules(tuple(tenants), tuple(d.isoformat() for d in tenant_closed))
    if not callee_open(number, c, moment, rules):
        return
    for name in time_zones(number) or ("Europe/Berlin",):
        day = moment.astimezone(ZoneInfo(name)).date()
        assert day not in own_closed and day not in tenant_closed
        for code in [*own, *tenants]:
            if _covered(code, number):
                assert day not in holiday_dates(parse_calendar(code), day.year)


def _tenant(session: Session, tenant: NewTenant, **rules: object) -> Tenant:
    row = session.get_one(Tenant, tenant.tenant.id)
    for key, value in rules.items():
        setattr(row, key, value)
    session.flush()
    return row


def test_tenant_rules_are_read_once_per_transaction(
    sessions: SessionMaker, tenant: NewTenant
) -> None:
    with unit_of_work(sessions) as session:
        assert tenant_rules(session, tenant.tenant.id) == TenantRules()
        _tenant(session, tenant, holiday_calendars=["US"], max_conversations=2, cap_window_hours=24)
    with (
        unit_of_work(sessions) as session,
        statements_sent(session.connection().engine) as statements,
    ):
        rules = [tenant_rules(session, tenant.tenant.id) for _ in range(3)]
    assert rules == [TenantRules(("US",), (), None, None, 2, 24)] * 3
    assert len(statements) == 1


def test_a_tenant_holiday_parks_the_callee_until_the_next_open_day(
    session: Session, tenant: NewTenant
) -> None:
    _tenant(session, tenant, holiday_calendars=["US"])
    c = make_campaign(session, tenant)  # keeps no calendar of its own
    july_4 = datetime(2026, 7, 4, 14, 0, tzinfo=UTC)  # 16:00 Berlin, 10:00 New York
    american = make_contact(session, c, NEW_YORK, next_try_at=july_4 - timedelta(hours=1))
    german = make_contact(session, c, BERLIN, next_try_at=july_4 - timedelta(minutes=30))
    claim = claim_next(session, c, july_4, "t")
    assert claim is not None and claim.contact_id == german.id
    assert claim_next(session, c, july_4, "t") is None
    assert american.next_try_at == datetime(2026, 7, 5, 13, 0, tzinfo=UTC)


def test_a_tenant_closed_date_closes_every_campaign(session: Session, tenant: NewTenant) -> None:
    first, second = make_campaign(session, tenant, "one"), make_campaign(session, tenant, "two")
    make_contact(session, first, BERLIN)
    make_contact(session, second, "+49301234568")
    _tenant(session, tenant, closed_dates=[NOW.date().isoformat()])
    assert claim_next(session, first, NOW, "t") is None
    assert claim_next(session, second, NOW, "t") is None
    _tenant(session, tenant, closed_dates=[])
    assert claim_next(session, first, NOW, "t") is not None


def _attempts(session: Session, tenant_id: int, campaign_id: int, e164: str, ago: int) -> None:
    at = NOW - timedelta(hours=ago)
    make_attempt(
        session, tenant_id, campaign_id=campaign_id, b_number=e164, started_at=at, ended_at=at
    )


def test_the_later_lift_of_two_caps_parks_the_contact(session: Session, tenant: NewTenant) -> None:
    """The campaign allows 3 a day, the tenant 2 a week: the tenant's is the stricter here."""
    other = make_campaign(session, tenant, "other")
    capped = make_campaign(session, tenant, "capped")
    capped.max_attempts_per_number, capped.cap_window_hours = 3, 24
    _tenant(session, tenant, max_attempts_per_number=2, cap_window_hours=168)
    _attempts(session, tenant.tenant.id, other.id, BERLIN, ago=100)  # counted by the tenant only
    _attempts(session, tenant.tenant.id, capped.id, BERLIN, ago=2)
    contact = make_contact(session, capped, BERLIN)
    assert claim_next(session, capped, NOW, "t") is None
    lifts = NOW - timedelta(hours=100) + timedelta(days=7)
    assert contact.next_try_at == lifts
    holds = session.execute(select(ContactHold.reason, ContactHold.until)).all()
    assert [tuple(hold) for hold in holds] == [(HoldReason.NUMBER_CAP, lifts)]


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    ages=st.lists(st.lists(st.integers(1, 200), max_size=4), min_size=3, max_size=3),
    own=st.none() | st.tuples(st.integers(1, 3), st.sampled_from([1, 24, 168])),
    tenants=st.none() | st.tuples(st.integers(1, 3), st.sampled_from([1, 24, 168])),
    tenant_counts_contacts=st.booleans(),
)
def test_never_claimed_over_the_campaign_or_the_tenant_cap(
    session: Session,
    tenant: NewTenant,
    ages: list[list[int]],
    own: tuple[int, int] | None,
    tenants: tuple[int, int] | None,
    tenant_counts_contacts: bool,
) -> None:
    """Attempts (hours ago) to each number, made by another campaign of the tenant and by the
    contact itself in turn; a number is claimed only when every cap allows it."""
    nested = session.begin_nested()
    try:
        other = make_campaign(session, tenant, "other")
        capped = make_campaign(session, tenant, "capped")
        if own is not None:
            capped.max_attempts_per_number, capped.cap_window_hours = own
        if tenants is not None:
            per = "contact" if tenant_counts_contacts else "number"
            cap = f"max_attempts_per_{per}"
            _tenant(session, tenant, **{cap: tenants[0], "cap_window_hours": tenants[1]})
        numbers = [f"+493010{i}" for i in range(len(ages))]
        for number, hours in zip(numbers, ages, strict=True):
            contact = make_contact(session, capped, number)
            for k, ago in enumerate(hours):
                owner = (other.id, None) if k % 2 else (capped.id, contact.id)
                at = NOW - timedelta(hours=ago)
                make_attempt(
                    session,
                    tenant.tenant.id,
                    campaign_id=owner[0],
                    contact_id=owner[1],
                    b_number=number,
                    started_at=at,
                    ended_at=at,
                )
        claimed = set()
        while (claim := claim_next(session, capped, NOW, "t")) is not None:
            claimed.add(claim.e164)
        for number, hours in zip(numbers, ages, strict=True):
            allowed = True
            if own is not None:
                allowed &= sum(1 for a in hours if a < own[1]) < own[0]
            if tenants is not None:
                mine = hours[::2] if tenant_counts_contacts else hours
                allowed &= sum(1 for a in mine if a < tenants[1]) < tenants[0]
            assert (number in claimed) == allowed, (number, hours)
    finally:
        nested.rollback()

"""Public holidays and closed dates: never dialled on a day off in the callee's region."""

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy.orm import Session

from opendialer.accounts.service import NewTenant
from opendialer.calendars import (
    UnknownCalendar,
    holiday_dates,
    number_region,
    parse_calendar,
)
from opendialer.engine.compliance import (
    callee_open,
    campaign_window_open,
    next_callee_opening,
)
from opendialer.engine.selection import claim_next
from opendialer.models import Campaign
from opendialer.phones import time_zones
from tests.engine.helpers import make_campaign, make_contact
from tests.engine.test_compliance import campaign

NEW_YORK = "+12125550100"
LOS_ANGELES = "+13105550100"
BERLIN = "+49301234567"
GERMAN_MOBILE = "+4915112345678"
TORONTO = "+14165550100"
NUMBERS = [NEW_YORK, LOS_ANGELES, BERLIN, GERMAN_MOBILE, TORONTO, "+18005550100", "+442071234567"]
CALENDARS = ["US", "US-CA", "US-NY", "DE", "DE-BY", "CA-ON", "GB-ENG"]


def test_regions_of_numbers() -> None:
    assert number_region(NEW_YORK) == ("US", "NY")
    assert number_region(LOS_ANGELES) == ("US", "CA")
    assert number_region(TORONTO) == ("CA", "ON")
    assert number_region(GERMAN_MOBILE) == ("DE", None)  # may ring anywhere in Germany


def test_unknown_calendars_are_refused() -> None:
    assert parse_calendar("de-by").subdivision == "BY"
    with pytest.raises(UnknownCalendar):
        parse_calendar("XX")
    with pytest.raises(UnknownCalendar):
        parse_calendar("DE-ZZ")


def test_independence_day_closes_us_numbers_only() -> None:
    c = campaign(holiday_calendars=["US"])
    july_4 = datetime(2026, 7, 4, 16, 0, tzinfo=UTC)  # 12:00 in New York, 18:00 in Berlin
    assert not callee_open(NEW_YORK, c, july_4)
    assert callee_open(BERLIN, c, july_4)
    assert callee_open(NEW_YORK, c, july_4 + timedelta(days=3))  # Tuesday 7 July


def test_subdivision_holidays_hold_where_the_number_may_ring() -> None:
    # 31 March 2026 is Cesar Chavez Day in California only.
    c = campaign(holiday_calendars=["US-CA"])
    at = datetime(2026, 3, 31, 18, 0, tzinfo=UTC)
    assert not callee_open(LOS_ANGELES, c, at)
    assert callee_open(NEW_YORK, c, at)
    # 6 January is a holiday in Bavaria: a Berlin landline is Berlin's, a mobile may be in Munich.
    bavaria = campaign(holiday_calendars=["DE-BY"])
    epiphany = datetime(2026, 1, 6, 10, 0, tzinfo=UTC)
    assert not callee_open(GERMAN_MOBILE, bavaria, epiphany)


def test_closed_dates_close_the_campaign_and_the_callee() -> None:
    c = campaign(closed_dates=["2026-11-23"])
    monday_noon = datetime(2026, 11, 23, 11, 0, tzinfo=UTC)
    assert not campaign_window_open(c, monday_noon)
    assert not callee_open(BERLIN, c, monday_noon)
    assert campaign_window_open(c, monday_noon + timedelta(days=1))


def test_next_opening_skips_christmas() -> None:
    c = campaign(holiday_calendars=["DE"], calling_days=[1, 2, 3, 4, 5])
    christmas_eve_night = datetime(2026, 12, 24, 22, 0, tzinfo=UTC)
    # 25 and 26 December are holidays, 27 is a Sunday: Monday 28 December, 09:00 Berlin.
    assert next_callee_opening(BERLIN, c, christmas_eve_night) == datetime(
        2026, 12, 28, 8, 0, tzinfo=UTC
    )


@settings(max_examples=300)
@given(
    moment=st.datetimes(
        min_value=datetime(2024, 1, 1), max_value=datetime(2030, 12, 31), timezones=st.just(UTC)
    ),
    number=st.sampled_from(NUMBERS),
    codes=st.lists(st.sampled_from(CALENDARS), max_size=3, unique=True),
    closed=st.lists(st.dates(date(2024, 1, 1), date(2030, 12, 31)), max_size=20),
)
def test_open_means_no_day_off_anywhere_the_number_rings(
    moment: datetime, number: str, codes: list[str], closed: list[date]
) -> None:
    c = campaign(holiday_calendars=codes, closed_dates=[d.isoformat() for d in closed])
    if not callee_open(number, c, moment):
        return
    region = number_region(number)
    for name in time_zones(number) or ("Europe/Berlin",):
        local = moment.astimezone(ZoneInfo(name))
        assert time(9) <= local.time() < time(20)
        assert local.date() not in closed
        for code in codes:
            calendar = parse_calendar(code)
            applies = (
                region is not None
                and calendar.country == region[0]
                and (None in (calendar.subdivision, region[1]) or calendar.subdivision == region[1])
            )
            if applies:
                assert local.date() not in holiday_dates(calendar, local.date().year)


def _holiday_campaign(session: Session, tenant: NewTenant) -> Campaign:
    c = make_campaign(session, tenant)
    c.holiday_calendars = ["US"]
    session.flush()
    return c


def test_contacts_are_parked_until_the_next_open_day(session: Session, tenant: NewTenant) -> None:
    c = _holiday_campaign(session, tenant)
    july_4 = datetime(2026, 7, 4, 14, 0, tzinfo=UTC)  # 16:00 Berlin, 10:00 New York
    contact = make_contact(session, c, NEW_YORK, next_try_at=july_4 - timedelta(hours=1), tries=0)
    other = make_contact(session, c, BERLIN, next_try_at=july_4 - timedelta(minutes=30))
    claim = claim_next(session, c, july_4, "t")
    assert claim is not None and claim.contact_id == other.id
    assert claim_next(session, c, july_4, "t") is None
    # Sunday 5 July is open in the US calendar (the observed day is Friday 3 July): 09:00 EDT.
    assert contact.next_try_at == datetime(2026, 7, 5, 13, 0, tzinfo=UTC)

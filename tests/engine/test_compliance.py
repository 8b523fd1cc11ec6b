"""Calling-time rules, including numbers that span several time zones."""

from datetime import UTC, datetime, time
from zoneinfo import ZoneInfo

from hypothesis import given
from hypothesis import strategies as st

from opendialer.engine.compliance import (
    callee_hours_open,
    campaign_window_open,
    next_callee_opening,
    within_hours,
)
from opendialer.models import Campaign, CampaignStatus

ALL_DAYS = [1, 2, 3, 4, 5, 6, 7]


def campaign(**fields: object) -> Campaign:
    values: dict[str, object] = {
        "status": CampaignStatus.ENABLED,
        "timezone": "Europe/Berlin",
        "calling_hours_start": time(9),
        "calling_hours_end": time(20),
        "calling_days": ALL_DAYS,
        "begin_at": None,
        "end_at": None,
    }
    values.update(fields)
    return Campaign(**values)


def test_within_hours_plain_and_overnight() -> None:
    monday_10 = datetime(2026, 11, 23, 10, 0)
    assert within_hours(monday_10, time(9), time(20), [1])
    assert not within_hours(monday_10, time(9), time(20), [2])
    assert not within_hours(monday_10.replace(hour=20), time(9), time(20), [1])
    assert within_hours(monday_10.replace(hour=23), time(22), time(2), [1])
    assert within_hours(datetime(2026, 11, 24, 1, 0), time(22), time(2), [1])
    assert not within_hours(datetime(2026, 11, 24, 1, 0), time(22), time(2), [2])


def test_campaign_window_needs_enabled_dates_and_hours() -> None:
    noon = datetime(2026, 11, 23, 11, 0, tzinfo=UTC)  # 12:00 in Berlin
    assert campaign_window_open(campaign(), noon)
    assert not campaign_window_open(campaign(status=CampaignStatus.DISABLED), noon)
    assert not campaign_window_open(campaign(begin_at=datetime(2026, 12, 1, tzinfo=UTC)), noon)
    assert not campaign_window_open(campaign(end_at=datetime(2026, 11, 1, tzinfo=UTC)), noon)
    assert not campaign_window_open(campaign(calling_days=[2, 3]), noon)


def test_callee_local_time_is_used() -> None:
    # 15:00 UTC: 16:00 Berlin, 10:00 New York, 07:00 Los Angeles
    at = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)
    c = campaign()
    assert callee_hours_open("+49301234567", c, at)
    assert callee_hours_open("+12125550100", c, at)
    assert not callee_hours_open("+13105550100", c, at)


def test_multi_zone_number_needs_every_zone_open() -> None:
    idaho = "+12085550100"  # Boise (UTC-7) and Los Angeles (UTC-8)
    c = campaign()
    # 16:30 UTC: 09:30 in Boise but 08:30 in Los Angeles
    assert not callee_hours_open(idaho, c, datetime(2026, 11, 23, 16, 30, tzinfo=UTC))
    assert callee_hours_open(idaho, c, datetime(2026, 11, 23, 17, 0, tzinfo=UTC))
    # Toll-free numbers ring from Guam (UTC+10) to Newfoundland (UTC-3:30): the only hour
    # inside 9-20 everywhere starts at 23:00 UTC (09:00 Guam, 19:30 St John's).
    toll_free = "+18005550100"
    at = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)
    assert next_callee_opening(toll_free, c, at) == datetime(2026, 11, 23, 23, 0, tzinfo=UTC)


def test_next_opening_is_the_morning() -> None:
    c = campaign()
    night = datetime(2026, 11, 23, 23, 0, tzinfo=UTC)  # midnight in Berlin
    opening = next_callee_opening("+49301234567", c, night)
    assert opening == datetime(2026, 11, 24, 8, 0, tzinfo=UTC)
    assert next_callee_opening("+49301234567", campaign(calling_days=[]), night) is None


@given(
    moment=st.datetimes(
        min_value=datetime(2020, 1, 1), max_value=datetime(2035, 1, 1), timezones=st.just(UTC)
    ),
    number=st.sampled_from(["+49301234567", "+12125550100", "+18005550100", "+61291234567"]),
)
def test_open_means_every_zone_is_within_hours(moment: datetime, number: str) -> None:
    from opendialer.phones import time_zones

    c = campaign()
    if callee_hours_open(number, c, moment):
        for name in time_zones(number):
            local = moment.astimezone(ZoneInfo(name))
            assert time(9) <= local.time() < time(20)

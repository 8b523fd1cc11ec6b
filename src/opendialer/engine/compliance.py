"""Calling-time rules: the campaign's own window and the callee's local hours.

A campaign has one set of calling hours and days. They hold twice: in the campaign's time zone
(when the campaign works) and in every zone the dialled number may ring in (when the callee may
be called). A number whose zone phonenumbers cannot tell is judged in the campaign's zone.
"""

from collections.abc import Collection
from datetime import datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from opendialer.models import Campaign, CampaignStatus
from opendialer.phones import time_zones

SEARCH_STEP = timedelta(minutes=5)
SEARCH_HORIZON = timedelta(days=8)


@lru_cache(maxsize=1024)
def zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def within_hours(local: datetime, start: time, end: time, days: Collection[int]) -> bool:
    """``local`` on an allowed ISO weekday and in [start, end); start > end spans midnight."""
    clock = local.time().replace(tzinfo=None)
    if start <= end:
        return local.isoweekday() in days and start <= clock < end
    if clock >= start:
        return local.isoweekday() in days
    return clock < end and (local - timedelta(days=1)).isoweekday() in days


def _open_in(zone_name: str, campaign: Campaign, now: datetime) -> bool:
    local = now.astimezone(zone(zone_name))
    return within_hours(
        local, campaign.calling_hours_start, campaign.calling_hours_end, campaign.calling_days
    )


def campaign_window_open(campaign: Campaign, now: datetime) -> bool:
    """Enabled, inside its dates, and inside its days and hours in its own time zone."""
    if campaign.status != CampaignStatus.ENABLED:
        return False
    if campaign.begin_at is not None and now < campaign.begin_at:
        return False
    if campaign.end_at is not None and now >= campaign.end_at:
        return False
    return _open_in(campaign.timezone, campaign, now)


def callee_zones(e164: str, campaign: Campaign) -> tuple[str, ...]:
    return time_zones(e164) or (campaign.timezone,)


def callee_hours_open(e164: str, campaign: Campaign, now: datetime) -> bool:
    """True only when the calling hours hold in every zone the number may ring in."""
    return all(_open_in(name, campaign, now) for name in callee_zones(e164, campaign))


def next_callee_opening(e164: str, campaign: Campaign, now: datetime) -> datetime | None:
    """The first moment (to 5 minutes) when the callee may be called; None if not within 8 days."""
    moment = now
    while moment - now <= SEARCH_HORIZON:
        if callee_hours_open(e164, campaign, moment):
            return moment
        moment += SEARCH_STEP
    return None

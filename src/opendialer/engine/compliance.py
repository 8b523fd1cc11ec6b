"""Calling-time rules: the campaign's own window, the callee's local hours and holidays.

A campaign has one set of calling hours and days. They hold twice: in the campaign's time zone
(when the campaign works) and in every zone the dialled number may ring in (when the callee may
be called). A number whose zone phonenumbers cannot tell is judged in the campaign's zone.

Days off work the same way: the campaign's own closed dates close its window (in its zone) and
the callee's day (in each zone the number rings in); the public holidays of the calendars the
campaign keeps close the callee's day where the calendar covers the number's region
(calendars.py).

The tenant keeps its own calendars and closed dates (``TenantRules``) for all its campaigns:
they add to the campaign's (a day closed by either is closed).
"""

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from opendialer.calendars import Calendar, is_holiday, number_region, parse_calendar
from opendialer.models import Campaign, CampaignStatus
from opendialer.phones import time_zones

SEARCH_STEP = timedelta(minutes=5)
SEARCH_HORIZON = timedelta(days=8)
HOLIDAY_SEARCH_HORIZON = timedelta(days=15)  # Christmas to Epiphany, with its weekends


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


@dataclass(frozen=True, slots=True)
class TenantRules:
    """The tenant's own compliance settings, kept by every campaign besides the campaign's."""

    holiday_calendars: tuple[str, ...] = ()
    closed_dates: tuple[str, ...] = ()
    max_attempts_per_number: int | None = None
    max_attempts_per_contact: int | None = None
    max_conversations: int | None = None
    cap_window_hours: int = 168

    @property
    def keeps_days_off(self) -> bool:
        return bool(self.holiday_calendars or self.closed_dates)


NO_TENANT_RULES = TenantRules()


@lru_cache(maxsize=1024)
def _calendars(codes: tuple[str, ...]) -> tuple[Calendar, ...]:
    return tuple(parse_calendar(code) for code in codes)


@lru_cache(maxsize=1024)
def _dates(texts: tuple[str, ...]) -> frozenset[date]:
    return frozenset(date.fromisoformat(text) for text in texts)


def closed_dates(campaign: Campaign, tenant: TenantRules = NO_TENANT_RULES) -> frozenset[date]:
    """The campaign's closed dates and its tenant's."""
    return _dates((*(campaign.closed_dates or ()), *tenant.closed_dates))


def holiday_calendars(
    campaign: Campaign, tenant: TenantRules = NO_TENANT_RULES
) -> tuple[Calendar, ...]:
    """The calendars the campaign keeps and those its tenant keeps."""
    return _calendars((*(campaign.holiday_calendars or ()), *tenant.holiday_calendars))


def keeps_days_off(campaign: Campaign, tenant: TenantRules = NO_TENANT_RULES) -> bool:
    return bool(campaign.closed_dates or campaign.holiday_calendars or tenant.keeps_days_off)


def tenant_closed(campaign: Campaign, tenant: TenantRules, now: datetime) -> bool:
    """A closed date of the tenant's, in the campaign's time zone (closes its window)."""
    if not tenant.closed_dates:
        return False
    return now.astimezone(zone(campaign.timezone)).date() in _dates(tenant.closed_dates)


def campaign_window_open(campaign: Campaign, now: datetime) -> bool:
    """Enabled, inside its dates, and inside its days and hours in its own time zone, on a day
    it is not closed."""
    if campaign.status != CampaignStatus.ENABLED:
        return False
    if campaign.begin_at is not None and now < campaign.begin_at:
        return False
    if campaign.end_at is not None and now >= campaign.end_at:
        return False
    if now.astimezone(zone(campaign.timezone)).date() in closed_dates(campaign):
        return False
    return _open_in(campaign.timezone, campaign, now)


def callee_zones(e164: str, campaign: Campaign) -> tuple[str, ...]:
    return time_zones(e164) or (campaign.timezone,)


def callee_hours_open(e164: str, campaign: Campaign, now: datetime) -> bool:
    """True only when the calling hours hold in every zone the number may ring in."""
    return all(_open_in(name, campaign, now) for name in callee_zones(e164, campaign))


def _day_off(
    zones: Sequence[str],
    region: tuple[str, str | None] | None,
    campaign: Campaign,
    tenant: TenantRules,
    now: datetime,
) -> bool:
    closed = closed_dates(campaign, tenant)
    calendars = holiday_calendars(campaign, tenant)
    for name in zones:
        day = now.astimezone(zone(name)).date()
        if day in closed or (region is not None and is_holiday(calendars, region, day)):
            return True
    return False


def callee_day_off(
    e164: str, campaign: Campaign, now: datetime, tenant: TenantRules = NO_TENANT_RULES
) -> bool:
    """A closed date or a public holiday (the campaign's or its tenant's) in any zone the
    number may ring in."""
    if not keeps_days_off(campaign, tenant):
        return False
    return _day_off(callee_zones(e164, campaign), number_region(e164), campaign, tenant, now)


def callee_open(
    e164: str, campaign: Campaign, now: datetime, tenant: TenantRules = NO_TENANT_RULES
) -> bool:
    """Inside the callee's hours everywhere the number rings, on none of its days off."""
    return callee_hours_open(e164, campaign, now) and not callee_day_off(
        e164, campaign, now, tenant
    )


def next_callee_opening(
    e164: str, campaign: Campaign, now: datetime, tenant: TenantRules = NO_TENANT_RULES
) -> datetime | None:
    """The first moment (to 5 minutes) when the callee may be called; None if not within 8 days
    (15 days for a campaign or tenant that keeps days off)."""
    horizon = HOLIDAY_SEARCH_HORIZON if keeps_days_off(campaign, tenant) else SEARCH_HORIZON
    moment = now
    while moment - now <= horizon:
        if callee_open(e164, campaign, moment, tenant):
            return moment
        moment += SEARCH_STEP
    return None


def cap_lifts_at(starts: Sequence[datetime], limit: int, window: timedelta) -> datetime | None:
    """When a rolling-window cap of ``limit`` attempts next allows one; None if it allows now.

    ``starts`` are the attempts counted now (those after now - window). Once the oldest
    ``len(starts) - limit + 1`` of them have left the window, fewer than ``limit`` remain.
    """
    if len(starts) < limit:
        return None
    return sorted(starts)[len(starts) - limit] + window


def consent_valid(
    given_at: datetime, expires_at: datetime | None, revoked_at: datetime | None, now: datetime
) -> bool:
    """Given by now, not yet expired, not revoked."""
    if given_at > now or (revoked_at is not None and revoked_at <= now):
        return False
    return expires_at is None or now < expires_at

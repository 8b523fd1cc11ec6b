"""Public-holiday calendars (the ``holidays`` library) and the region a number rings in.

A calendar is named by a country code, optionally with a subdivision: ``"DE"``, ``"DE-BY"``,
``"US-CA"``. A number's country comes from ``phonenumbers``; its subdivision only where its
geography names one the calendar knows (US and Canadian numbers name their state or province).
A number whose subdivision cannot be told may ring anywhere in its country, so every
subdivision's calendar of that country holds for it (mobile numbers, most of Europe).
"""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from functools import lru_cache

import holidays
import phonenumbers


@dataclass(frozen=True, slots=True)
class Calendar:
    country: str
    subdivision: str | None = None


class UnknownCalendar(ValueError):
    """A country or subdivision the holidays library does not know."""


@lru_cache(maxsize=256)
def parse_calendar(code: str) -> Calendar:
    country, _, subdivision = code.strip().upper().partition("-")
    supported = holidays.list_supported_countries()
    if country not in supported:
        raise UnknownCalendar(f"unknown holiday calendar country {country!r}")
    if subdivision and subdivision not in supported[country]:
        raise UnknownCalendar(f"unknown subdivision {subdivision!r} of {country}")
    return Calendar(country, subdivision or None)


@lru_cache(maxsize=4096)
def holiday_dates(calendar: Calendar, year: int) -> frozenset[date]:
    days = holidays.country_holidays(calendar.country, subdiv=calendar.subdivision, years=year)
    return frozenset(days.keys())


@lru_cache(maxsize=1024)
def _subdivision_in(description: str, country: str) -> str | None:
    """The subdivision a geocoder description names ("New York, NY", "California"), if any."""
    if country not in holidays.list_supported_countries():
        return None
    cls = type(holidays.country_holidays(country))
    codes = set(getattr(cls, "subdivisions", ()))
    tail = description.rpartition(", ")[2].upper()
    if tail in codes:
        return tail
    aliases: dict[str, str] = getattr(cls, "subdivisions_aliases", {})
    return aliases.get(description)


@lru_cache(maxsize=65536)
def number_region(e164: str) -> tuple[str, str | None] | None:
    """(country, subdivision or None) of a number; None when its country is unknown."""
    try:
        number = phonenumbers.parse(e164)
    except phonenumbers.NumberParseException:
        return None
    country = phonenumbers.region_code_for_number(number)
    if country in (None, "ZZ", "001"):
        return None
    from phonenumbers import geocoder  # its data takes 0.3 s to load: only when asked

    description = geocoder.description_for_number(number, "en")
    return country, _subdivision_in(description, country)


def covers(calendar: Calendar, region: tuple[str, str | None]) -> bool:
    """The calendar holds where the number may ring."""
    country, subdivision = region
    if calendar.country != country:
        return False
    return calendar.subdivision is None or subdivision in (None, calendar.subdivision)


def is_holiday(calendars: Iterable[Calendar], region: tuple[str, str | None], day: date) -> bool:
    return any(day in holiday_dates(c, day.year) for c in calendars if covers(c, region))

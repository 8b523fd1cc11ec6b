"""The caller ID a call presents.

In order: the contact's own caller ID (Voicenter ``CallerID`` per target, the native contact's
``caller_id``); else the campaign's strategy: ``fixed`` presents the campaign's caller ID,
``rotation`` the pool's least recently used active number, ``local`` the pool's least recently
used number of the callee's country and area (``phonenumbers`` geography), falling back to the
campaign's caller ID. Retired pool numbers are never presented. The number presented is written
on the attempt (``CallAttempt.a_number``).
"""

from datetime import datetime
from functools import lru_cache

import phonenumbers
from phonenumbers import geocoder
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from opendialer.models import CallerIdNumber, CallerIdStrategy, Campaign

DEFAULT_CALLER_ID = "+10000000000"


@lru_cache(maxsize=65536)
def area_of(e164: str) -> tuple[str, str] | None:
    """(country, area described by phonenumbers) of a geographic number; None for the rest
    (mobile, toll-free and numbers whose area the library does not describe)."""
    try:
        number = phonenumbers.parse(e164)
    except phonenumbers.NumberParseException:
        return None
    country = phonenumbers.region_code_for_number(number)
    area = geocoder.description_for_number(number, "en")
    country_name = geocoder.country_name_for_number(number, "en")
    if not country or not area or area == country_name:
        return None
    return country, area


def _pool(session: Session, campaign: Campaign) -> list[tuple[int, str]]:
    """Active pool numbers, least recently used first."""
    rows = session.execute(
        select(CallerIdNumber.id, CallerIdNumber.e164)
        .where(CallerIdNumber.campaign_id == campaign.id, CallerIdNumber.retired_at.is_(None))
        .order_by(CallerIdNumber.last_used_at.nulls_first(), CallerIdNumber.id)
    )
    return [(row[0], row[1]) for row in rows]


def _pick_from_pool(session: Session, campaign: Campaign, callee: str, now: datetime) -> str | None:
    pool = _pool(session, campaign)
    if campaign.caller_id_strategy == CallerIdStrategy.LOCAL:
        area = area_of(callee)
        pool = [entry for entry in pool if area is not None and area_of(entry[1]) == area]
    if not pool:
        return None
    chosen_id, e164 = pool[0]
    session.execute(
        update(CallerIdNumber).where(CallerIdNumber.id == chosen_id).values(last_used_at=now)
    )
    return e164


def choose_caller_id(
    session: Session, campaign: Campaign, own: str | None, callee: str, now: datetime
) -> str:
    """The caller ID to present to ``callee`` (``own``: the contact's)."""
    if own:
        return own
    if campaign.caller_id_strategy != CallerIdStrategy.FIXED:
        pooled = _pick_from_pool(session, campaign, callee, now)
        if pooled is not None:
            return pooled
    return campaign.caller_id or DEFAULT_CALLER_ID

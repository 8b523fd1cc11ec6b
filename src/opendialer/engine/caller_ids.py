"""The caller ID a call presents.

In order: the contact's own caller ID (Voicenter ``CallerID`` per target, the native contact's
``caller_id``); else the campaign's strategy: ``fixed`` presents the campaign's caller ID,
``rotation`` the pool's least recently used active number, ``local`` the pool's least recently
used number of the callee's country and area (``phonenumbers`` geography), falling back to the
campaign's caller ID. Retired pool numbers are never presented. The number presented is written
on the attempt (``CallAttempt.a_number``).
"""

from datetime import datetime
from functools import cache, lru_cache
from typing import Any

import phonenumbers
from phonenumbers import geocoder
from sqlalchemy import Select, Table, Update, bindparam, select, update
from sqlalchemy.orm import Session

from opendialer.models import CallerIdNumber, CallerIdStrategy, Campaign

DEFAULT_CALLER_ID = "+10000000000"
POOL: Table = CallerIdNumber.__table__  # type: ignore[assignment]


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


@cache
def _pool_statement() -> Select[Any]:
    """Active pool numbers, least recently used first (built once: a claim runs it each time)."""
    pool = POOL.c
    return (
        select(pool.id, pool.e164)
        .where(pool.campaign_id == bindparam("campaign_id"), pool.retired_at.is_(None))
        .order_by(pool.last_used_at.nulls_first(), pool.id)
    )


@cache
def _used_statement() -> Update:
    pool = POOL.c
    return (
        update(POOL)
        .where(pool.id == bindparam("chosen_id"))
        .values(last_used_at=bindparam("now", type_=pool.last_used_at.type))
    )


def _pick_from_pool(session: Session, campaign: Campaign, callee: str, now: datetime) -> str | None:
    rows = session.execute(_pool_statement(), {"campaign_id": campaign.id})
    pool: list[tuple[int, str]] = [(row[0], row[1]) for row in rows]
    if campaign.caller_id_strategy == CallerIdStrategy.LOCAL:
        area = area_of(callee)
        pool = [entry for entry in pool if area is not None and area_of(entry[1]) == area]
    if not pool:
        return None
    chosen_id, e164 = pool[0]
    session.execute(_used_statement(), {"chosen_id": chosen_id, "now": now})
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

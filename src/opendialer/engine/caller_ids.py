"""The caller ID a call presents.

In order: the contact's own caller ID (Voicenter ``CallerID`` per target, the native contact's
``caller_id``); else the campaign's strategy: ``fixed`` presents the campaign's caller ID,
``rotation`` the pool's least recently used active number, ``local`` the pool's least recently
used number of the callee's country and area (``phonenumbers`` geography), falling back to the
campaign's caller ID. Retired pool numbers are never presented. The number presented is written
on the attempt (``CallAttempt.a_number``).
"""

from datetime import datetime
from functools import cache

from sqlalchemy import Connection, Table, Update, bindparam, select, update

from opendialer.models import CallerIdNumber, CallerIdStrategy, Campaign
from opendialer.phones import area_key

DEFAULT_CALLER_ID = "+10000000000"
POOL: Table = CallerIdNumber.__table__  # type: ignore[assignment]


@cache
def _pick_statement(local: bool) -> Update:
    """Take the active pool number used longest ago (of the callee's area, for ``local``) and
    mark it used, in one statement (built once: a claim runs it each time). Two engines
    choosing at once may present the same number; each call still presents a pool number."""
    pool = POOL.c
    chosen = (
        select(pool.id)
        .where(pool.campaign_id == bindparam("pool_campaign_id"), pool.retired_at.is_(None))
        .order_by(pool.last_used_at.nulls_first(), pool.id)
        .limit(1)
    )
    if local:
        chosen = chosen.where(pool.area == bindparam("callee_area"))
    return (
        update(POOL)
        .where(pool.id == chosen.scalar_subquery())
        .values(last_used_at=bindparam("now", type_=pool.last_used_at.type))
        .returning(pool.e164)
    )


def _pick_from_pool(conn: Connection, campaign: Campaign, callee: str, now: datetime) -> str | None:
    params: dict[str, object] = {"pool_campaign_id": campaign.id, "now": now}
    local = campaign.caller_id_strategy == CallerIdStrategy.LOCAL
    if local:
        params["callee_area"] = area_key(callee)
        if params["callee_area"] is None:
            return None
    picked: str | None = conn.execute(_pick_statement(local), params).scalar()
    return picked


def choose_caller_id(
    conn: Connection, campaign: Campaign, own: str | None, callee: str, now: datetime
) -> str:
    """The caller ID to present to ``callee`` (``own``: the contact's)."""
    if own:
        return own
    if campaign.caller_id_strategy != CallerIdStrategy.FIXED:
        pooled = _pick_from_pool(conn, campaign, callee, now)
        if pooled is not None:
            return pooled
    return campaign.caller_id or DEFAULT_CALLER_ID

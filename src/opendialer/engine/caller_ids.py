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
from typing import Any

from sqlalchemy import (
    Connection,
    Select,
    Table,
    Update,
    bindparam,
    func,
    literal_column,
    select,
    update,
)

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


def pool_pick(campaign: Campaign, own: str | None, callee: str) -> dict[str, object] | None:
    """The parameters of the pool look-up presenting a caller ID to ``callee`` needs (besides
    ``now``); None when none is made: the contact's own caller ID, a fixed strategy, or a
    callee of no known area for local presence."""
    if own or campaign.caller_id_strategy == CallerIdStrategy.FIXED:
        return None
    params: dict[str, object] = {"pool_campaign_id": campaign.id, "local": False}
    if campaign.caller_id_strategy == CallerIdStrategy.LOCAL:
        area = area_key(callee)
        if area is None:
            return None
        params |= {"local": True, "callee_area": area}
    return params


@cache
def claiming_pick_statement(claim: Update, local: bool) -> Select[Any]:
    """PostgreSQL: ``claim`` (an UPDATE of one contact) and the pool pick in one round trip;
    a number is marked used only when the contact was claimed. Returns (rows claimed, the
    caller ID picked or NULL)."""
    claimed = claim.returning(literal_column("1").label("one")).cte("claimed")
    pick = _pick_statement(local)
    picked = pick.where(select(claimed.c.one).exists()).cte("picked")
    return select(
        select(func.count()).select_from(claimed).scalar_subquery().label("claimed"),
        select(picked.c.e164).scalar_subquery().label("caller_id"),
    )


def present(campaign: Campaign, own: str | None, pooled: str | None) -> str:
    """What is presented: the contact's own, else the pool's pick, else the campaign's."""
    return own or pooled or campaign.caller_id or DEFAULT_CALLER_ID


def pooled(conn: Connection, pick: dict[str, object], now: datetime) -> str | None:
    """The pool's pick for ``pool_pick``'s parameters, marked used."""
    statement = _pick_statement(bool(pick["local"]))
    picked: str | None = conn.execute(statement, {**pick, "now": now}).scalar()
    return picked


def choose_caller_id(
    conn: Connection, campaign: Campaign, own: str | None, callee: str, now: datetime
) -> str:
    """The caller ID to present to ``callee`` (``own``: the contact's)."""
    pick = pool_pick(campaign, own, callee)
    return present(campaign, own, None if pick is None else pooled(conn, pick, now))

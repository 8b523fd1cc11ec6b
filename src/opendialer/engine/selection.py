"""Claiming the next contact and number to dial, atomically.

The candidate comes from the ``ix_contacts_dial_queue`` partial index (priority, next try, age),
so a claim costs the same with 1,000 or 10,000,000 contacts. On PostgreSQL, ``FOR UPDATE SKIP
LOCKED`` lets several engine processes claim side by side; on SQLite (one writer at a time) the
claim is a compare-and-set ``UPDATE ... WHERE status = 'pending'``, which is also kept on
PostgreSQL as the final guard. Either way a contact is never in two calls at once.

A claim runs once per dial, so it reads plain rows (the few columns it decides on, not ORM
objects) through the session's connection: one query for the candidates, their numbers, each
number's DNC state, the version of the tenant's rules (kept between transactions,
engine/kept_tenant.py) and the campaign's (for the runner's kept copy, engine/kept_campaign.py),
then the compare-and-set.
"""

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, fields
from datetime import datetime, timedelta
from functools import cache
from typing import Any

from sqlalchemy import Connection, Select, Update, bindparam, insert, literal, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.util import identity_key

from opendialer.dnc.service import blocked_clause
from opendialer.engine.caller_ids import (
    DEFAULT_CALLER_ID,
    claiming_pick_statement,
    pool_pick,
    pooled,
    present,
)
from opendialer.engine.compliance import (
    TenantRules,
    callee_open,
    campaign_window_open,
    next_callee_opening,
    tenant_closed,
)
from opendialer.engine.holds import compliance_hold, holds_apply, record_hold
from opendialer.engine.kept_campaign import version_column as campaign_version_column
from opendialer.engine.kept_tenant import (
    KeptRules,
    current_rules,
    kept_rules,
    read_rules,
    version_column,
)
from opendialer.models import MAX_PHONES, Campaign, Contact, ContactStatus
from opendialer.models.base import utcnow
from opendialer.models.contact import CONTACTS, DIAL_QUEUE_WHERE, PHONES
from opendialer.models.reporting import DNC_REFUSALS

ABANDON_REDIAL_BLOCK = timedelta(hours=72)
RECHECK_DELAY = timedelta(days=1)  # DNC-listed numbers: look again tomorrow
CANDIDATES_PER_CLAIM = 4


@dataclass(frozen=True, slots=True)
class Claim:
    contact_id: int
    phone_id: int
    position: int
    e164: str
    caller_id: str = DEFAULT_CALLER_ID  # presented on this call (engine/caller_ids.py)


@dataclass(frozen=True, slots=True)
class _Phone:
    id: int
    position: int
    e164: str | None
    invalid: bool
    tries: int
    abandoned_at: datetime | None
    dnc_blocked: bool


@dataclass(slots=True)
class _Candidate:
    id: int
    begin_at: datetime | None
    end_at: datetime | None
    ignore_dnc: bool
    next_phone_position: int
    caller_id: str | None
    phones: list[_Phone] = field(default_factory=list)


# The columns read, in the order of the fields they fill.
CANDIDATE_COLUMNS = tuple(f.name for f in fields(_Candidate) if f.name != "phones")
PHONE_COLUMNS = tuple(f.name for f in fields(_Phone) if f.name != "dnc_blocked")


@cache
def _candidates_statement(postgresql: bool, reserved: bool) -> Select[Any]:
    """The candidates with their numbers and whether each number is on a DNC list, built once
    per shape (building it costs more than running it). Table columns, not ORM attributes:
    a plain Core statement costs less to run.

    Personal callbacks (``reserved_user_id``) go only to their agent, with the agent first.
    """
    contact = CONTACTS.c
    reserved_user = (
        contact.reserved_user_id == bindparam("reserved_for")
        if reserved
        else contact.reserved_user_id.is_(None)
    )
    queue = (
        select(
            *(contact[name] for name in CANDIDATE_COLUMNS), contact.priority, contact.next_try_at
        )
        .where(
            contact.campaign_id == bindparam("campaign_id"),
            DIAL_QUEUE_WHERE,  # literally the index predicate, so the planner uses the index
            contact.next_try_at <= bindparam("now", type_=contact.next_try_at.type),
            reserved_user,
        )
        .order_by(contact.priority.desc(), contact.next_try_at, contact.id)
        .limit(literal(CANDIDATES_PER_CLAIM, literal_execute=True))
    )
    if postgresql:
        queue = queue.with_for_update(skip_locked=True)
    candidates = queue.subquery("candidates")
    phones = PHONES.alias("phones")
    now = bindparam("now", type_=contact.next_try_at.type)
    blocked = blocked_clause(bindparam("tenant_id"), bindparam("campaign_id"), phones.c.e164, now)
    return (
        select(
            *(candidates.c[name] for name in CANDIDATE_COLUMNS),
            *(phones.c[name] for name in PHONE_COLUMNS),
            blocked.label("dnc_blocked"),
            campaign_version_column().label("campaign_version"),
            version_column().label("tenant_version"),
        )
        .outerjoin(phones, phones.c.contact_id == candidates.c.id)
        .order_by(
            candidates.c.priority.desc(),
            candidates.c.next_try_at,
            candidates.c.id,
            phones.c.position,
        )
    )


@dataclass(frozen=True, slots=True)
class _Versions:
    """The campaign's and the tenant's rules' versions, as the candidates statement read them."""

    campaign: datetime | None
    tenant: datetime | None


class StaleCampaign(Exception):
    """The campaign's row changed since the copy the claim was given (the caller's ``confirm``
    said so): nothing was written; claim again on the copy loaded anew."""


def _candidates(
    conn: Connection, campaign: Campaign, now: datetime, reserved_for: int | None
) -> tuple[list[_Candidate], _Versions | None]:
    """The candidates, and the versions this transaction sees (None without a candidate)."""
    postgresql = conn.dialect.name == "postgresql"
    stmt = _candidates_statement(postgresql, reserved_for is not None)
    params = {
        "campaign_id": campaign.id,
        "tenant_id": campaign.tenant_id,
        "now": now,
        "reserved_for": reserved_for,
    }
    rows = conn.execute(stmt, params).all()
    return _grouped(rows), (_Versions(rows[0][-2], rows[0][-1]) if rows else None)


def _grouped(rows: Iterable[tuple[Any, ...]]) -> list[_Candidate]:
    """Rows of (contact columns, phone columns, DNC flag, campaign and tenant versions), a
    contact's rows together."""
    candidates: list[_Candidate] = []
    split = len(CANDIDATE_COLUMNS)
    for row in rows:
        if not candidates or candidates[-1].id != row[0]:
            candidates.append(_Candidate(*row[:split]))
        if row[split] is not None:  # a contact without numbers has one row of NULLs
            candidates[-1].phones.append(_Phone(*row[split:-2]))
    return candidates


def _callee_open(phone: _Phone, campaign: Campaign, now: datetime, tenant: TenantRules) -> bool:
    return phone.e164 is not None and callee_open(phone.e164, campaign, now, tenant)


def _in_window(contact: _Candidate, now: datetime) -> bool:
    return (contact.begin_at is None or contact.begin_at <= now) and (
        contact.end_at is None or now < contact.end_at
    )


def _spent(phone: _Phone, campaign: Campaign) -> bool:
    """Never dialable again: invalid, or out of tries."""
    return phone.invalid or phone.e164 is None or phone.tries >= campaign.max_tries_per_number


def _usable(phone: _Phone, campaign: Campaign, now: datetime, check_dnc: bool) -> bool:
    """Dialable apart from the callee's local hours."""
    if _spent(phone, campaign) or _resting(phone, now):
        return False
    return not (check_dnc and phone.dnc_blocked)


def _resting(phone: _Phone, now: datetime) -> bool:
    return phone.abandoned_at is not None and now - phone.abandoned_at < ABANDON_REDIAL_BLOCK


def _rotation(contact: _Candidate) -> list[_Phone]:
    """Phones in dialling order, starting at the contact's next position (1..6 rotate)."""
    start = contact.next_phone_position
    return sorted(contact.phones, key=lambda p: (p.position - start) % MAX_PHONES)


def _exhausted(contact: _Candidate, campaign: Campaign) -> bool:
    return all(_spent(p, campaign) for p in contact.phones)


def _expire_loaded(session: Session, contact_id: int, names: Iterable[str]) -> None:
    """Contact objects the session already holds must not keep the values a claim changed."""
    loaded = session.identity_map.get(identity_key(Contact, contact_id))
    if loaded is not None:
        session.expire(loaded, [*names, "updated_at"])


@cache
def _compare_and_set_statement(in_cte: bool = False) -> Update:
    """``in_cte``: as a part of a larger statement, which runs no column defaults (the row's
    ``updated_at`` is then a parameter)."""
    contact = CONTACTS.c
    stamped = {"updated_at": bindparam("updated_at", type_=contact.updated_at.type)}
    return (
        update(CONTACTS)
        .where(contact.id == bindparam("contact_id"), contact.status == ContactStatus.PENDING)
        .values(
            status=ContactStatus.IN_CALL,
            claimed_at=bindparam("now", type_=contact.claimed_at.type),
            claimed_by=bindparam("engine_id"),
            **(stamped if in_cte else {}),
        )
    )


def _compare_and_set(
    session: Session,
    conn: Connection,
    contact: _Candidate,
    campaign: Campaign,
    now: datetime,
    engine_id: str,
    e164: str,
) -> str | None:
    """Claim ``contact`` and pick the caller ID its call to ``e164`` presents; None when another
    engine claimed it first. On PostgreSQL a pool's pick comes in the same statement."""
    params = {"contact_id": contact.id, "now": now, "engine_id": engine_id}
    pick = pool_pick(campaign, contact.caller_id, e164)
    _expire_loaded(session, contact.id, ["status", "claimed_at", "claimed_by"])
    if pick is not None and conn.dialect.name == "postgresql":
        claim = _compare_and_set_statement(in_cte=True)
        statement = claiming_pick_statement(claim, bool(pick["local"]))
        stamped = {**params, **pick, "updated_at": utcnow()}
        claimed, picked = conn.execute(statement, stamped).one()
    else:
        claimed = conn.execute(_compare_and_set_statement(), params).rowcount
        picked = pooled(conn, pick, now) if claimed and pick is not None else None
    return present(campaign, contact.caller_id, picked) if claimed else None


@cache
def _set_statement(column: str) -> Update:
    """Set one column of one contact (built once per column: parks and holds run it often)."""
    return (
        update(CONTACTS)
        .where(CONTACTS.c.id == bindparam("contact_id"))
        .values({column: bindparam("value", type_=CONTACTS.c[column].type)})
    )


def _set(session: Session, conn: Connection, contact_id: int, column: str, value: object) -> None:
    conn.execute(_set_statement(column), {"contact_id": contact_id, "value": value})
    _expire_loaded(session, contact_id, [column])


def _next_look(
    contact: _Candidate,
    campaign: Campaign,
    now: datetime,
    usable: list[_Phone],
    tenant: TenantRules,
) -> datetime:
    """When a contact with nothing to dial now is worth looking at again."""
    if contact.begin_at is not None and now < contact.begin_at:
        return contact.begin_at
    openings = [next_callee_opening(p.e164, campaign, now, tenant) for p in usable if p.e164]
    if known := [o for o in openings if o is not None]:
        return min(known)
    rests = [
        p.abandoned_at + ABANDON_REDIAL_BLOCK
        for p in contact.phones
        if p.abandoned_at is not None and _resting(p, now)
    ]
    return min(rests, default=now + RECHECK_DELAY)


def _park(
    session: Session,
    conn: Connection,
    contact: _Candidate,
    campaign: Campaign,
    now: datetime,
    usable: list[_Phone],
    tenant: TenantRules,
) -> None:
    """Finish a contact that has nothing left to dial, or schedule the next look at it."""
    if _exhausted(contact, campaign) or (contact.end_at is not None and now >= contact.end_at):
        _set(session, conn, contact.id, "status", ContactStatus.DONE)
    else:
        next_look = _next_look(contact, campaign, now, usable, tenant)
        _set(session, conn, contact.id, "next_try_at", next_look)


def _pick(
    contact: _Candidate, campaign: Campaign, now: datetime, tenant: TenantRules
) -> tuple[_Phone | None, list[_Phone]]:
    """The number to dial now (None if none), and every number usable apart from the hour."""
    check_dnc = not contact.ignore_dnc
    usable = [p for p in _rotation(contact) if _usable(p, campaign, now, check_dnc)]
    phone = next((p for p in usable if _callee_open(p, campaign, now, tenant)), None)
    return (phone if _in_window(contact, now) else None), usable


def _record_dnc_refusals(
    conn: Connection, contact: _Candidate, campaign: Campaign, now: datetime
) -> None:
    """Each number passed over because it is on a DNC list leaves a row (the compliance
    report's "DNC hits refused"), all in one statement; numbers spent anyway are not counted."""
    if contact.ignore_dnc:
        return
    rows = [
        {
            "tenant_id": campaign.tenant_id,
            "campaign_id": campaign.id,
            "contact_id": contact.id,
            "e164": phone.e164,
            "at": now,
        }
        for phone in contact.phones
        if phone.dnc_blocked and phone.e164 is not None and not _spent(phone, campaign)
    ]
    if rows:
        conn.execute(insert(DNC_REFUSALS), rows)


def _held(
    session: Session,
    conn: Connection,
    contact: _Candidate,
    campaign: Campaign,
    now: datetime,
    e164: str,
    tenant: TenantRules,
) -> bool:
    """A frequency cap or missing consent parks the contact until it lifts (and says why)."""
    if not holds_apply(campaign, tenant):
        return False
    hold = compliance_hold(conn, campaign, contact.id, e164, now, tenant)
    if hold is None:
        return False
    record_hold(conn, campaign, contact.id, e164, hold)
    _set(session, conn, contact.id, "next_try_at", hold.until)
    return True


def _claim_one_of(
    session: Session,
    conn: Connection,
    candidates: list[_Candidate],
    campaign: Campaign,
    now: datetime,
    engine_id: str,
    tenant: TenantRules,
) -> Claim | None:
    """The first of ``candidates`` with a number to dial now, claimed; the others before it
    are parked (or held) on the way."""
    for contact in candidates:
        _record_dnc_refusals(conn, contact, campaign, now)
        phone, usable = _pick(contact, campaign, now, tenant)
        if phone is None:
            _park(session, conn, contact, campaign, now, usable, tenant)
            continue
        assert phone.e164 is not None
        if _held(session, conn, contact, campaign, now, phone.e164, tenant):
            continue
        caller_id = _compare_and_set(session, conn, contact, campaign, now, engine_id, phone.e164)
        if caller_id is not None:
            return Claim(contact.id, phone.id, phone.position, phone.e164, caller_id)
    return None


def _open_rules(conn: Connection, campaign: Campaign, now: datetime) -> KeptRules | None:
    """The tenant's rules, None when they close the campaign today. The kept copy decides
    only while its version holds (the candidates statement reads it): a day it closes is
    confirmed from the row."""
    kept = kept_rules(conn, campaign.tenant_id)
    if tenant_closed(campaign, kept.rules, now):
        kept = read_rules(conn, campaign.tenant_id)
    return None if tenant_closed(campaign, kept.rules, now) else kept


def claim_next(
    session: Session,
    campaign: Campaign,
    now: datetime,
    engine_id: str,
    *,
    reserved_for: int | None = None,
    confirm: Callable[[datetime | None], bool] | None = None,
) -> Claim | None:
    """Claim the best eligible contact and pick its number; None when nothing is due.

    With ``reserved_for``, only that agent's personal callbacks are considered. ``confirm`` is
    given the campaign's version as the candidates statement read it (None: deleted), before
    anything is written (``KeptCampaign.confirm``); when it answers False the claim stops with
    :class:`StaleCampaign`. Without a candidate it is not asked.
    """
    if not campaign_window_open(campaign, now):
        return None
    session.flush()  # the claim reads plain rows: they must show what the session changed
    conn = session.connection()
    kept = _open_rules(conn, campaign, now)
    while kept is not None:
        candidates, versions = _candidates(conn, campaign, now, reserved_for)
        if not candidates or versions is None:
            return None
        if confirm is not None and not confirm(versions.campaign):
            raise StaleCampaign(campaign.id)
        kept = current_rules(conn, campaign.tenant_id, kept, versions.tenant)
        if tenant_closed(campaign, kept.rules, now):
            return None
        claim = _claim_one_of(session, conn, candidates, campaign, now, engine_id, kept.rules)
        if claim is not None:
            return claim
    return None

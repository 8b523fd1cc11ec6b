"""Claiming the next contact and number to dial, atomically.

The candidate comes from the ``ix_contacts_dial_queue`` partial index (priority, next try, age),
so a claim costs the same with 1,000 or 10,000,000 contacts. On PostgreSQL, ``FOR UPDATE SKIP
LOCKED`` lets several engine processes claim side by side; on SQLite (one writer at a time) the
claim is a compare-and-set ``UPDATE ... WHERE status = 'pending'``, which is also kept on
PostgreSQL as the final guard. Either way a contact is never in two calls at once.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache

from sqlalchemy import Select, Update, bindparam, literal, select, update
from sqlalchemy.orm import Session, joinedload

from opendialer.dnc.service import blocked_clause, blocked_numbers
from opendialer.engine.compliance import (
    callee_hours_open,
    campaign_window_open,
    next_callee_opening,
)
from opendialer.models import MAX_PHONES, Campaign, Contact, ContactPhone, ContactStatus
from opendialer.models.contact import DIAL_QUEUE_WHERE

ABANDON_REDIAL_BLOCK = timedelta(hours=72)
RECHECK_DELAY = timedelta(days=1)  # DNC-listed numbers: look again tomorrow
CANDIDATES_PER_CLAIM = 4


@dataclass(frozen=True, slots=True)
class Claim:
    contact_id: int
    phone_id: int
    position: int
    e164: str


@cache
def _candidates_statement(postgresql: bool, reserved: bool) -> Select[Contact]:
    """The candidates query, built once per shape (building it costs more than running it).

    Personal callbacks (``reserved_user_id``) go only to their agent, with the agent first.
    """
    reserved_user = (
        Contact.reserved_user_id == bindparam("reserved_for")
        if reserved
        else Contact.reserved_user_id.is_(None)
    )
    blocked = blocked_clause(bindparam("tenant_id"), bindparam("campaign_id"), ContactPhone.e164)
    stmt = (
        select(Contact)
        .where(
            Contact.campaign_id == bindparam("campaign_id"),
            DIAL_QUEUE_WHERE,  # literally the index predicate, so the planner uses the index
            Contact.next_try_at <= bindparam("now", type_=Contact.next_try_at.type),
            reserved_user,
        )
        .order_by(Contact.priority.desc(), Contact.next_try_at, Contact.id)
        .limit(literal(CANDIDATES_PER_CLAIM, literal_execute=True))
        # One round trip for the contacts, their numbers and whether each number is on a DNC list.
        .options(joinedload(Contact.phones).with_expression(ContactPhone.dnc_blocked, blocked))
    )
    return stmt.with_for_update(skip_locked=True, of=Contact) if postgresql else stmt


def _candidates(
    session: Session, campaign: Campaign, now: datetime, reserved_for: int | None
) -> Sequence[Contact]:
    postgresql = session.get_bind().dialect.name == "postgresql"
    stmt = _candidates_statement(postgresql, reserved_for is not None)
    params = {
        "campaign_id": campaign.id,
        "tenant_id": campaign.tenant_id,
        "now": now,
        "reserved_for": reserved_for,
    }
    return session.scalars(stmt, params).unique().all()


def _dnc_blocked(session: Session, campaign: Campaign, candidates: Sequence[Contact]) -> set[str]:
    """The candidates' numbers on a DNC list.

    The candidates query marks them; numbers loaded earlier in the session (so not refreshed by
    that query) are looked up.
    """
    phones = [p for c in candidates if not c.ignore_dnc for p in c.phones if p.e164]
    blocked = {p.e164 for p in phones if p.dnc_blocked and p.e164}
    unknown = [p.e164 for p in phones if p.dnc_blocked is None and p.e164]
    if unknown:
        blocked |= blocked_numbers(session, campaign.tenant_id, campaign.id, unknown)
    return blocked


def _callee_open(phone: ContactPhone, campaign: Campaign, now: datetime) -> bool:
    return phone.e164 is not None and callee_hours_open(phone.e164, campaign, now)


def _in_window(contact: Contact, now: datetime) -> bool:
    return (contact.begin_at is None or contact.begin_at <= now) and (
        contact.end_at is None or now < contact.end_at
    )


def _usable(phone: ContactPhone, campaign: Campaign, now: datetime, blocked: set[str]) -> bool:
    """Dialable apart from the callee's local hours."""
    if phone.invalid or phone.e164 is None or phone.tries >= campaign.max_tries_per_number:
        return False
    if _resting(phone, now):
        return False
    return phone.e164 not in blocked


def _resting(phone: ContactPhone, now: datetime) -> bool:
    return phone.abandoned_at is not None and now - phone.abandoned_at < ABANDON_REDIAL_BLOCK


def _rotation(contact: Contact) -> list[ContactPhone]:
    """Phones in dialling order, starting at the contact's next position (1..6 rotate)."""
    start = contact.next_phone_position
    return sorted(contact.phones, key=lambda p: (p.position - start) % MAX_PHONES)


def _exhausted(contact: Contact, campaign: Campaign) -> bool:
    return all(
        p.invalid or p.e164 is None or p.tries >= campaign.max_tries_per_number
        for p in contact.phones
    )


@cache
def _compare_and_set_statement() -> Update:
    return (
        update(Contact)
        .where(Contact.id == bindparam("contact_id"), Contact.status == ContactStatus.PENDING)
        .values(
            status=ContactStatus.IN_CALL,
            claimed_at=bindparam("now", type_=Contact.claimed_at.type),
            claimed_by=bindparam("engine_id"),
        )
        .execution_options(synchronize_session=False)
    )


def _compare_and_set(session: Session, contact: Contact, now: datetime, engine_id: str) -> bool:
    params = {"contact_id": contact.id, "now": now, "engine_id": engine_id}
    result = session.execute(_compare_and_set_statement(), params)
    return bool(result.rowcount)  # type: ignore[attr-defined]


def _next_look(
    contact: Contact, campaign: Campaign, now: datetime, usable: list[ContactPhone]
) -> datetime:
    """When a contact with nothing to dial now is worth looking at again."""
    if contact.begin_at is not None and now < contact.begin_at:
        return contact.begin_at
    openings = [next_callee_opening(p.e164, campaign, now) for p in usable if p.e164]
    if known := [o for o in openings if o is not None]:
        return min(known)
    rests = [
        p.abandoned_at + ABANDON_REDIAL_BLOCK
        for p in contact.phones
        if p.abandoned_at is not None and _resting(p, now)
    ]
    return min(rests, default=now + RECHECK_DELAY)


def _park(contact: Contact, campaign: Campaign, now: datetime, usable: list[ContactPhone]) -> None:
    """Finish a contact that has nothing left to dial, or schedule the next look at it."""
    if _exhausted(contact, campaign) or (contact.end_at is not None and now >= contact.end_at):
        contact.status = ContactStatus.DONE
    else:
        contact.next_try_at = _next_look(contact, campaign, now, usable)


def claim_next(
    session: Session,
    campaign: Campaign,
    now: datetime,
    engine_id: str,
    *,
    reserved_for: int | None = None,
) -> Claim | None:
    """Claim the best eligible contact and pick its number; None when nothing is due.

    With ``reserved_for``, only that agent's personal callbacks are considered.
    """
    if not campaign_window_open(campaign, now):
        return None
    while candidates := _candidates(session, campaign, now, reserved_for):
        blocked = _dnc_blocked(session, campaign, candidates)
        for contact in candidates:
            dnc = set() if contact.ignore_dnc else blocked
            usable = [p for p in _rotation(contact) if _usable(p, campaign, now, dnc)]
            phone = next((p for p in usable if _callee_open(p, campaign, now)), None)
            if phone is None or not _in_window(contact, now):
                _park(contact, campaign, now, usable)
                continue
            if _compare_and_set(session, contact, now, engine_id):
                session.flush()
                session.expire(contact, ["status", "claimed_at", "claimed_by"])
                assert phone.e164 is not None
                return Claim(contact.id, phone.id, phone.position, phone.e164)
        session.flush()
    return None

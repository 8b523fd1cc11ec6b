"""A campaign's dial queue seen as single-number targets (Voicenter "calls").

A *target* is a contact with one number. It is *queued* while it is not done: waiting to be
dialled (``pending``, including scheduled and locked ones) or in a call right now (``in_call``).
Removing a queued target deletes the contact; its call attempts stay as history (their contact
id is cleared), and a call in progress runs to its end.
"""

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from typing import Any

from sqlalchemy import Insert, Select, case, delete, func, insert, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.dml import ReturningInsert

from opendialer.contacts.service import guard_duplicates
from opendialer.models import Contact, ContactPhone, ContactStatus
from opendialer.models.contact import CONTACTS, PHONES
from opendialer.scoping import Scope

LOOKUP_CHUNK = 1000
QUEUED = Contact.status != ContactStatus.DONE


@dataclass(slots=True)
class NewTarget:
    """A target ready to insert: everything checked, the number normalised."""

    tenant_id: int
    campaign_id: int
    raw: str
    e164: str
    name: str | None = None
    caller_id: str | None = None
    priority: int = 1
    custom_data: dict[str, Any] = field(default_factory=dict)
    next_try_at: datetime | None = None
    originate_is_local: bool | None = None
    ignore_dnc: bool = False


@dataclass(slots=True)
class TargetChanges:
    """The fields an update supplies; ``None`` means "not supplied, keep"."""

    name: str | None = None
    caller_id: str | None = None
    priority: int | None = None
    custom_data: dict[str, Any] | None = None  # merged into the stored object, key by key
    next_try_at: datetime | None = None
    originate_is_local: bool | None = None


@dataclass(frozen=True, slots=True)
class QueueSummary:
    queued: int = 0
    """Targets not done: waiting (scheduled or due) or in a call now."""
    due: int = 0
    """Waiting, unlocked and due now: what the engine may dial next."""
    max_priority: int | None = None
    min_priority: int | None = None


def _contact_row(target: NewTarget, now: datetime) -> dict[str, Any]:
    return {
        "tenant_id": target.tenant_id,
        "campaign_id": target.campaign_id,
        "name": target.name,
        "caller_id": target.caller_id,
        "priority": target.priority,
        "custom_data": target.custom_data,
        "form_data": {},
        "next_try_at": target.next_try_at or now,
        "originate_is_local": target.originate_is_local,
        "ignore_dnc": target.ignore_dnc,
        "status": ContactStatus.PENDING,
        "locked": False,
        "tries": 0,
        "next_phone_position": 1,
        "created_at": now,
        "updated_at": now,
    }


@cache
def _insert_one() -> ReturningInsert[Any]:
    return insert(CONTACTS).returning(CONTACTS.c.id)


@cache
def _insert_many() -> ReturningInsert[Any]:
    return insert(CONTACTS).returning(CONTACTS.c.id, sort_by_parameter_order=True)


@cache
def _insert_phones() -> Insert:
    return insert(PHONES)


def add_targets(session: Session, targets: Sequence[NewTarget]) -> list[int]:
    """Insert the targets in two batched statements (contacts, then their numbers); their ids."""
    if not targets:
        return []
    now = datetime.now(UTC)
    # Core statements on the session's connection: the ORM's bulk bookkeeping would double
    # the cost of the single-target adds that arrive one request at a time.
    conn = session.connection()
    rows = [_contact_row(t, now) for t in targets]
    if len(rows) == 1:
        ids = [conn.execute(_insert_one(), rows[0]).scalar_one()]
    else:
        ids = list(conn.execute(_insert_many(), rows).scalars())
    phones = [
        {
            "contact_id": contact_id,
            "tenant_id": t.tenant_id,
            "campaign_id": t.campaign_id,
            "position": 1,
            "raw": t.raw,
            "e164": t.e164,
            "invalid": False,
            "tries": 0,
        }
        for contact_id, t in zip(ids, targets, strict=True)
    ]
    conn.execute(_insert_phones(), phones)
    return ids


def update_or_add(session: Session, target: NewTarget, changes: TargetChanges) -> None:
    """The supplied fields of every queued target with the number; the target is added when
    none is queued. Simultaneous calls for one new number add it once."""
    guard_duplicates(session, Scope.system(target.tenant_id))
    occurrences = queued_with_number(session, target.campaign_id, target.e164)
    if occurrences:
        update_targets(session, occurrences, changes)
    else:
        add_targets(session, [target])


def _with_number(campaign_id: int, e164: str) -> Select[Any]:
    return select(ContactPhone.contact_id).where(
        ContactPhone.campaign_id == campaign_id, ContactPhone.e164 == e164
    )


def queued_with_number(session: Session, campaign_id: int, e164: str) -> list[Contact]:
    """Every queued target of the campaign with this number (at any position), oldest first."""
    stmt = (
        select(Contact)
        .where(Contact.campaign_id == campaign_id, QUEUED)
        .where(Contact.id.in_(_with_number(campaign_id, e164)))
        .order_by(Contact.id)
    )
    return list(session.scalars(stmt))


def remove_number(session: Session, campaign_id: int, e164: str) -> int:
    """Delete every queued target with this number; how many (0 is fine)."""
    stmt = delete(Contact).where(
        Contact.campaign_id == campaign_id,
        QUEUED,
        Contact.id.in_(_with_number(campaign_id, e164)),
    )
    return _deleted(session, stmt)


def clear_queue(session: Session, campaign_id: int) -> int:
    """Delete every queued target of the campaign; done ones, history and members stay."""
    return _deleted(session, delete(Contact).where(Contact.campaign_id == campaign_id, QUEUED))


def _deleted(session: Session, stmt: Any) -> int:
    result = session.execute(stmt.execution_options(synchronize_session=False))
    session.expire_all()
    return int(result.rowcount)  # type: ignore[attr-defined]


def update_targets(session: Session, contacts: Sequence[Contact], changes: TargetChanges) -> None:
    """Change only the supplied fields of each target."""
    for contact in contacts:
        for name in ("name", "caller_id", "priority", "next_try_at", "originate_is_local"):
            value = getattr(changes, name)
            if value is not None:
                setattr(contact, name, value)
        if changes.custom_data is not None:
            contact.custom_data = {**(contact.custom_data or {}), **changes.custom_data}
    session.flush()


def queue_summaries(
    session: Session, campaign_ids: Collection[int], now: datetime
) -> dict[int, QueueSummary]:
    """Per campaign, in one grouped query; campaigns with an empty queue get zeros."""
    waiting = Contact.status == ContactStatus.PENDING
    due = waiting & Contact.locked.is_(False) & (Contact.next_try_at <= now)
    summaries = {campaign_id: QueueSummary() for campaign_id in campaign_ids}
    ids = sorted(campaign_ids)
    for start in range(0, len(ids), LOOKUP_CHUNK):
        rows = session.execute(
            select(
                Contact.campaign_id,
                func.count(),
                func.count(case((due, 1))),
                func.max(Contact.priority),
                func.min(Contact.priority),
            )
            .where(Contact.campaign_id.in_(ids[start : start + LOOKUP_CHUNK]), QUEUED)
            .group_by(Contact.campaign_id)
        )
        for campaign_id, queued, due_now, highest, lowest in rows:
            summaries[campaign_id] = QueueSummary(queued, due_now, highest, lowest)
    return summaries


def queued_targets(session: Session, campaign_id: int, limit: int) -> list[Contact]:
    """The campaign's queued targets, newest first, at most ``limit``."""
    stmt = (
        select(Contact)
        .where(Contact.campaign_id == campaign_id, QUEUED)
        .order_by(Contact.id.desc())
        .limit(limit)
    )
    return list(session.scalars(stmt))

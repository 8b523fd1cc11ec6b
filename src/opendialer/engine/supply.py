"""How many contacts a campaign has to dial now and in the next minutes, for pacing.

Counted on the dial-queue index (pending, not locked, not a personal callback), each count capped
so that a list of millions costs what one of a few thousand does. The counts are an upper bound:
a contact whose numbers turn out blocked, resting or outside the callee's hours is counted until
a claim reschedules it.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from opendialer.models.contact import CONTACTS, DIAL_QUEUE_WHERE

SOON = timedelta(minutes=10)
COUNT_CAP = 5000
"""Beyond this many the supply is as good as unlimited for pacing."""


@dataclass(frozen=True, slots=True)
class Supply:
    now: int
    soon: int
    """Dialable now or within :data:`SOON` (includes ``now``)."""


def _due_by(session: Session, campaign_id: int, at: datetime) -> int:
    contact = CONTACTS.c
    due = (
        select(contact.id)
        .where(
            contact.campaign_id == campaign_id,
            DIAL_QUEUE_WHERE,
            contact.next_try_at <= at,
            contact.reserved_user_id.is_(None),
        )
        .limit(COUNT_CAP)
        .subquery()
    )
    return int(session.execute(select(func.count()).select_from(due)).scalar_one())


def count_supply(session: Session, campaign_id: int, now: datetime) -> Supply:
    dialable = _due_by(session, campaign_id, now)
    soon = dialable if dialable >= COUNT_CAP else _due_by(session, campaign_id, now + SOON)
    return Supply(dialable, soon)


def next_due_at(session: Session, campaign_id: int, now: datetime) -> datetime | None:
    """When the campaign's next contact in the dial queue falls due after ``now`` (None: no
    contact waits): the runner with nothing to dial sleeps until then."""
    contact = CONTACTS.c
    return session.execute(
        select(func.min(contact.next_try_at)).where(
            contact.campaign_id == campaign_id,
            DIAL_QUEUE_WHERE,
            contact.next_try_at > now,
            contact.reserved_user_id.is_(None),
        )
    ).scalar_one_or_none()

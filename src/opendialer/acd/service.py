"""ACD events: creation (with the group's no-duplicates rule), reading, status transitions.

Delivery (which due event goes to which agent, and how a callback gets dialled) lives in
:mod:`opendialer.acd.delivery`; the engine calls it on its clock.
"""

from datetime import datetime

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from opendialer.acd.schemas import CLOSED_STATUSES, AcdEventCreate, AcdStatus
from opendialer.dedupe import exclusive
from opendialer.errors import Conflict, NotFound
from opendialer.models import AcdEvent as AcdEvent
from opendialer.models import AgentGroup, Campaign, Contact, User
from opendialer.scoping import Scope, get_owned

OPEN_STATUSES = tuple(s for s in AcdStatus if s not in CLOSED_STATUSES)
MAX_COMMENT = 100_000


def events_query(scope: Scope) -> Select[AcdEvent]:
    return select(AcdEvent).where(AcdEvent.tenant_id == scope.tenant_id)


def list_events(session: Session, scope: Scope) -> list[AcdEvent]:
    return list(session.scalars(events_query(scope).order_by(AcdEvent.id)))


def get_event(session: Session, scope: Scope, event_id: int) -> AcdEvent:
    return get_owned(session, AcdEvent, scope, event_id, "acd_event")


def _check_references(session: Session, scope: Scope, data: AcdEventCreate) -> None:
    get_owned(session, AgentGroup, scope, data.group_id, "acd_group")
    if data.user_id is not None:
        get_owned(session, User, scope, data.user_id, "user")
    if data.contact_id is not None:
        get_owned(session, Contact, scope, data.contact_id, "contact")
    if data.campaign_id is not None:
        get_owned(session, Campaign, scope, data.campaign_id, "campaign")


def find_open_duplicate(session: Session, scope: Scope, data: AcdEventCreate) -> AcdEvent | None:
    """The oldest open event of the same type from the same sender in the same group."""
    stmt = events_query(scope).where(
        AcdEvent.group_id == data.group_id,
        AcdEvent.type_id == int(data.type_id),
        AcdEvent.sender == data.sender,
        AcdEvent.status_id.in_([int(s) for s in OPEN_STATUSES]),
    )
    return session.scalars(stmt.order_by(AcdEvent.id).limit(1)).first()


def _note(event: AcdEvent, text: str) -> None:
    combined = f"{event.comment}\n{text}" if event.comment else text
    event.comment = combined[-MAX_COMMENT:]


def create_event(
    session: Session, scope: Scope, data: AcdEventCreate, now: datetime
) -> tuple[AcdEvent, bool]:
    """The new event and True; or, when the group allows no duplicates and an open one exists,
    that event with a comment added and False."""
    _check_references(session, scope, data)
    group = session.get_one(AgentGroup, data.group_id)
    if group.no_duplicate_events:
        exclusive(session, "acd_events", group.id)  # simultaneous duplicates: one event
        existing = find_open_duplicate(session, scope, data)
        if existing is not None:
            _note(existing, f"{now.isoformat(timespec='seconds')} duplicate: {data.subject}")
            session.flush()
            return existing, False
    values = data.model_dump()
    values["type_id"] = int(data.type_id)
    event = AcdEvent(tenant_id=scope.tenant_id, status_id=int(AcdStatus.NEW), **values)
    session.add(event)
    session.flush()
    return event, True


def offer(session: Session, event: AcdEvent, user_id: int, at: datetime) -> None:
    """New -> Seen: the event is now with ``user_id``."""
    event.status_id = int(AcdStatus.SEEN)
    event.offered_user_id = user_id
    event.offered_at = at
    session.flush()


def complete(session: Session, event: AcdEvent, at: datetime) -> AcdEvent:
    """-> Done. Idempotent for a done event; a failed or closed one cannot be completed."""
    if event.status_id == AcdStatus.DONE:
        return event
    if event.status_id in (AcdStatus.ERROR, AcdStatus.CHAT_CLOSED):
        raise Conflict(
            "The event is closed", code="event_closed", details={"status": event.status_id}
        )
    event.status_id = int(AcdStatus.DONE)
    event.done_at = at
    session.flush()
    return event


def complete_event(
    session: Session, scope: Scope, event_id: int, at: datetime, user_id: int | None = None
) -> AcdEvent:
    """The agent finished the event; with ``user_id``, only the agent it was offered to may."""
    event = get_event(session, scope, event_id)
    if user_id is not None and event.offered_user_id not in (None, user_id):
        raise NotFound("acd_event", event_id)
    return complete(session, event, at)


def fail(session: Session, event: AcdEvent, at: datetime, reason: str) -> None:
    event.status_id = int(AcdStatus.ERROR)
    event.done_at = at
    _note(event, f"{at.isoformat(timespec='seconds')} {reason}")
    session.flush()

"""A contact's state set by hand (mmDial's ``editlead``): its status or result code, its tries.

The rules live here, not in a face: a status is one of the campaign's result codes, or
``pending`` / ``done``; a contact in a call keeps its status until the call ends.
"""

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from opendialer.contacts.service import get_contact
from opendialer.errors import BadRequest, Conflict
from opendialer.models import ContactStatus, ResultCode
from opendialer.scoping import Scope

HAND_STATUSES = (ContactStatus.PENDING, ContactStatus.DONE)


@dataclass(frozen=True)
class StatusChange:
    """A checked change: a result code (the status stays), or a status without a code."""

    result_code_id: int | None
    status: ContactStatus | None = None


def status_change(session: Session, scope: Scope, *, contact_id: int, status: str) -> StatusChange:
    """Check ``status`` for the contact, writing nothing yet."""
    contact = get_contact(session, scope, contact_id)
    code_id = session.scalar(
        select(ResultCode.id).where(
            ResultCode.campaign_id == contact.campaign_id, ResultCode.code == status
        )
    )
    if code_id is not None:
        return StatusChange(result_code_id=code_id)
    if status not in HAND_STATUSES:
        raise BadRequest(
            f"Unknown status {status!r}: use a result code, pending or done",
            code="unknown_status",
        )
    if contact.status is ContactStatus.IN_CALL:
        raise Conflict("The lead is in a call right now", code="in_call")
    return StatusChange(result_code_id=None, status=ContactStatus(status))


def set_by_hand(
    session: Session,
    scope: Scope,
    *,
    contact_id: int,
    change: StatusChange | None = None,
    tries: int | None = None,
) -> None:
    """Apply a checked status change and a new try count (each when given)."""
    contact = get_contact(session, scope, contact_id)
    if change is not None:
        contact.result_code_id = change.result_code_id
        if change.status is not None:
            contact.status = change.status
    if tries is not None:
        contact.tries = tries
    session.flush()

"""Consent and caller-ID pools: the rules; a session in, flushed, never committed."""

from datetime import datetime

from sqlalchemy import Select, select, update
from sqlalchemy.orm import Session

from opendialer.compliance.schemas import CallerIdCreate, ConsentCreate
from opendialer.errors import BadRequest, Conflict, InvalidPhoneNumber
from opendialer.models import (
    CallerIdNumber,
    Campaign,
    Consent,
    Contact,
    ContactHold,
    ContactStatus,
)
from opendialer.phones import e164_or_none
from opendialer.scoping import Scope, get_owned


def add_consent(session: Session, contact: Contact, data: ConsentCreate) -> Consent:
    if data.expires_at is not None and data.expires_at <= data.given_at:
        raise BadRequest("consent expires before it was given", code="invalid_dates")
    consent = Consent(tenant_id=contact.tenant_id, contact_id=contact.id, **data.model_dump())
    session.add(consent)
    session.flush()
    return consent


def revoke_consent(session: Session, contact: Contact, now: datetime) -> int:
    """Revoke every consent of the contact at once; a waiting contact is finished, so no engine
    dials it again (a call in progress ends as it would). Returns how many were revoked."""
    result = session.execute(
        update(Consent)
        .where(Consent.contact_id == contact.id, Consent.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    if contact.status == ContactStatus.PENDING:
        contact.status = ContactStatus.DONE
    session.flush()
    return int(result.rowcount)  # type: ignore[attr-defined]


def consents_query(contact_id: int) -> Select[Consent]:
    return select(Consent).where(Consent.contact_id == contact_id)


def holds_query(contact_id: int) -> Select[ContactHold]:
    return select(ContactHold).where(ContactHold.contact_id == contact_id)


def add_caller_id(
    session: Session, campaign: Campaign, region: str, data: CallerIdCreate
) -> CallerIdNumber:
    """A valid number only: a caller ID that is not a real number is refused (422)."""
    e164 = e164_or_none(data.number, region)
    if e164 is None:
        raise InvalidPhoneNumber(f"{data.number!r} is not a valid caller ID")
    taken = select(CallerIdNumber.id).where(
        CallerIdNumber.campaign_id == campaign.id, CallerIdNumber.e164 == e164
    )
    if session.scalar(taken) is not None:
        raise Conflict(f"{e164} is already in the pool", code="duplicate_caller_id")
    row = CallerIdNumber(tenant_id=campaign.tenant_id, campaign_id=campaign.id, e164=e164)
    session.add(row)
    session.flush()
    return row


def caller_ids_query(campaign_id: int) -> Select[CallerIdNumber]:
    return select(CallerIdNumber).where(CallerIdNumber.campaign_id == campaign_id)


def retire_caller_id(
    session: Session, scope: Scope, caller_id_id: int, now: datetime
) -> CallerIdNumber:
    row = get_owned(session, CallerIdNumber, scope, caller_id_id, "caller_id")
    if row.retired_at is None:
        row.retired_at = now
        session.flush()
    return row

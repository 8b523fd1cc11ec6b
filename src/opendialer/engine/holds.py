"""Frequency caps and consent: whether a picked number may be dialled now, and if not, until when.

Caps count the tenant's call attempts in a rolling window (``Campaign.cap_window_hours``): to
one number across every campaign of the tenant (attempts, and live conversations), and to one
contact. The queries run only for campaigns that set a cap or require consent, on the
``(tenant_id, b_number, started_at)`` and ``(contact_id, started_at)`` indexes.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from opendialer.engine.compliance import cap_lifts_at, consent_valid
from opendialer.models import CallAttempt, Campaign, Consent, ContactHold, HoldReason

CONSENT_RECHECK = timedelta(days=1)
CONSENT_CHANNEL = "phone"


@dataclass(frozen=True, slots=True)
class Hold:
    reason: HoldReason
    until: datetime


def holds_apply(campaign: Campaign) -> bool:
    return bool(
        campaign.require_consent
        or campaign.max_attempts_per_number
        or campaign.max_attempts_per_contact
        or campaign.max_conversations
    )


def _consent_hold(session: Session, contact_id: int, now: datetime) -> Hold | None:
    latest = session.execute(
        select(Consent.given_at, Consent.expires_at, Consent.revoked_at)
        .where(Consent.contact_id == contact_id, Consent.channel == CONSENT_CHANNEL)
        .order_by(Consent.given_at.desc(), Consent.id.desc())
        .limit(1)
    ).first()
    if latest is not None and consent_valid(*latest, now):
        return None
    return Hold(HoldReason.NO_CONSENT, now + CONSENT_RECHECK)


def _number_hold(
    session: Session, campaign: Campaign, e164: str, now: datetime, window: timedelta
) -> Hold | None:
    rows = session.execute(
        select(CallAttempt.started_at, CallAttempt.connected_at).where(
            CallAttempt.tenant_id == campaign.tenant_id,
            CallAttempt.b_number == e164,
            CallAttempt.started_at > now - window,
        )
    ).all()
    if campaign.max_attempts_per_number:
        until = cap_lifts_at([r[0] for r in rows], campaign.max_attempts_per_number, window)
        if until is not None:
            return Hold(HoldReason.NUMBER_CAP, until)
    if campaign.max_conversations:
        talks = [r[0] for r in rows if r[1] is not None]
        until = cap_lifts_at(talks, campaign.max_conversations, window)
        if until is not None:
            return Hold(HoldReason.CONVERSATION_CAP, until)
    return None


def _contact_hold(
    session: Session, campaign: Campaign, contact_id: int, now: datetime, window: timedelta
) -> Hold | None:
    assert campaign.max_attempts_per_contact is not None
    starts = session.scalars(
        select(CallAttempt.started_at).where(
            CallAttempt.contact_id == contact_id, CallAttempt.started_at > now - window
        )
    ).all()
    until = cap_lifts_at(starts, campaign.max_attempts_per_contact, window)
    return None if until is None else Hold(HoldReason.CONTACT_CAP, until)


def compliance_hold(
    session: Session, campaign: Campaign, contact_id: int, e164: str, now: datetime
) -> Hold | None:
    """Why this contact's number may not be dialled now (None: it may)."""
    if campaign.require_consent and (hold := _consent_hold(session, contact_id, now)):
        return hold
    window = timedelta(hours=campaign.cap_window_hours)
    number_capped = campaign.max_attempts_per_number or campaign.max_conversations
    if number_capped and (hold := _number_hold(session, campaign, e164, now, window)):
        return hold
    if campaign.max_attempts_per_contact:
        return _contact_hold(session, campaign, contact_id, now, window)
    return None


def record_hold(
    session: Session, campaign: Campaign, contact_id: int, e164: str, hold: Hold
) -> None:
    session.add(
        ContactHold(
            tenant_id=campaign.tenant_id,
            contact_id=contact_id,
            e164=e164,
            reason=hold.reason,
            until=hold.until,
        )
    )

"""Frequency caps and consent: whether a picked number may be dialled now, and if not, until when.

Caps count the tenant's call attempts in a rolling window (``Campaign.cap_window_hours``): to
one number across every campaign of the tenant (attempts, and live conversations), and to one
contact. The queries run only for campaigns that set a cap or require consent, on the
``(tenant_id, b_number, started_at)`` and ``(contact_id, started_at)`` indexes.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from typing import Any

from sqlalchemy import Select, Table, bindparam, select
from sqlalchemy.orm import Session

from opendialer.engine.compliance import cap_lifts_at, consent_valid
from opendialer.models import CallAttempt, Campaign, Consent, ContactHold, HoldReason

CONSENT_RECHECK = timedelta(days=1)
CONSENT_CHANNEL = "phone"
ATTEMPTS: Table = CallAttempt.__table__  # type: ignore[assignment]
CONSENTS: Table = Consent.__table__  # type: ignore[assignment]


# Statements are built once (building costs more than running them; a claim runs them each time).
@cache
def _latest_consent_statement() -> Select[Any]:
    consent = CONSENTS.c
    return (
        select(consent.given_at, consent.expires_at, consent.revoked_at)
        .where(consent.contact_id == bindparam("contact_id"), consent.channel == CONSENT_CHANNEL)
        .order_by(consent.given_at.desc(), consent.id.desc())
        .limit(1)
    )


@cache
def _number_attempts_statement() -> Select[Any]:
    attempt = ATTEMPTS.c
    return select(attempt.started_at, attempt.connected_at).where(
        attempt.tenant_id == bindparam("tenant_id"),
        attempt.b_number == bindparam("e164"),
        attempt.started_at > bindparam("since", type_=attempt.started_at.type),
    )


@cache
def _contact_attempts_statement() -> Select[Any]:
    attempt = ATTEMPTS.c
    return select(attempt.started_at).where(
        attempt.contact_id == bindparam("contact_id"),
        attempt.started_at > bindparam("since", type_=attempt.started_at.type),
    )


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
    latest = session.execute(_latest_consent_statement(), {"contact_id": contact_id}).first()
    if latest is not None and consent_valid(latest[0], latest[1], latest[2], now):
        return None
    return Hold(HoldReason.NO_CONSENT, now + CONSENT_RECHECK)


def _number_hold(
    session: Session, campaign: Campaign, e164: str, now: datetime, window: timedelta
) -> Hold | None:
    params = {"tenant_id": campaign.tenant_id, "e164": e164, "since": now - window}
    rows = session.execute(_number_attempts_statement(), params).all()
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
    params = {"contact_id": contact_id, "since": now - window}
    starts = session.scalars(_contact_attempts_statement(), params).all()
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

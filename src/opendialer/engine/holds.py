"""Frequency caps and consent: whether a picked number may be dialled now, and if not, until when.

Caps count the tenant's call attempts in a rolling window (``cap_window_hours``): to one
number across every campaign of the tenant (attempts, and live conversations), and to one
contact. The campaign's caps and the tenant's (``TenantRules``) both hold, each over its own
window: a contact over either is parked until every cap it is over allows a call again. The
queries run only where a cap is set or consent is required, on the
``(tenant_id, b_number, started_at)`` and ``(contact_id, started_at)`` indexes.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from typing import Any

from sqlalchemy import Select, Table, bindparam, select
from sqlalchemy.orm import Session

from opendialer.engine.compliance import (
    NO_TENANT_RULES,
    TenantRules,
    cap_lifts_at,
    consent_valid,
)
from opendialer.models import CallAttempt, Campaign, Consent, ContactHold, HoldReason, Tenant

CONSENT_RECHECK = timedelta(days=1)
CONSENT_CHANNEL = "phone"
HELD_TENANTS = "opendialer.engine.holds.tenants"
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


def tenant_rules(session: Session, tenant_id: int) -> TenantRules:
    """The tenant's own calendars, closed dates and caps: read once per transaction (the
    session's identity map holds the tenant for the transaction's other claims)."""
    tenant = session.get_one(Tenant, tenant_id)
    # The identity map holds objects weakly: keep the tenant for the session's later claims
    # (expired at commit, so the next transaction reads it again).
    session.info.setdefault(HELD_TENANTS, {})[tenant_id] = tenant
    return TenantRules(
        tuple(tenant.holiday_calendars or ()),
        tuple(tenant.closed_dates or ()),
        tenant.max_attempts_per_number,
        tenant.max_attempts_per_contact,
        tenant.max_conversations,
        tenant.cap_window_hours,
    )


@dataclass(frozen=True, slots=True)
class Hold:
    reason: HoldReason
    until: datetime


@dataclass(frozen=True, slots=True)
class Cap:
    """At most ``limit`` of ``reason``'s kind of attempt in a rolling ``window``."""

    reason: HoldReason
    limit: int
    window: timedelta


def caps(campaign: Campaign, tenant: TenantRules = NO_TENANT_RULES) -> list[Cap]:
    """Every cap set, the campaign's and the tenant's."""
    found: list[Cap] = []
    for owner in (campaign, tenant):
        window = timedelta(hours=owner.cap_window_hours)
        for reason, limit in (
            (HoldReason.NUMBER_CAP, owner.max_attempts_per_number),
            (HoldReason.CONVERSATION_CAP, owner.max_conversations),
            (HoldReason.CONTACT_CAP, owner.max_attempts_per_contact),
        ):
            if limit:
                found.append(Cap(reason, limit, window))
    return found


def holds_apply(campaign: Campaign, tenant: TenantRules = NO_TENANT_RULES) -> bool:
    return bool(campaign.require_consent or caps(campaign, tenant))


def _consent_hold(session: Session, contact_id: int, now: datetime) -> Hold | None:
    latest = session.execute(_latest_consent_statement(), {"contact_id": contact_id}).first()
    if latest is not None and consent_valid(latest[0], latest[1], latest[2], now):
        return None
    return Hold(HoldReason.NO_CONSENT, now + CONSENT_RECHECK)


def _latest_lift(
    rows: Sequence[tuple[datetime, datetime | None]], applying: list[Cap], now: datetime
) -> Hold | None:
    """The hold of the cap that lifts last among those ``rows`` (start, connected) exceed."""
    holds = []
    for cap in applying:
        counted = [
            start
            for start, connected in rows
            if start > now - cap.window
            and (cap.reason != HoldReason.CONVERSATION_CAP or connected is not None)
        ]
        until = cap_lifts_at(counted, cap.limit, cap.window)
        if until is not None:
            holds.append(Hold(cap.reason, until))
    return max(holds, key=lambda hold: hold.until, default=None)


def _number_hold(
    session: Session, campaign: Campaign, e164: str, now: datetime, applying: list[Cap]
) -> Hold | None:
    since = now - max(cap.window for cap in applying)
    params = {"tenant_id": campaign.tenant_id, "e164": e164, "since": since}
    rows = session.execute(_number_attempts_statement(), params)
    return _latest_lift([(start, connected) for start, connected in rows], applying, now)


def _contact_hold(
    session: Session, contact_id: int, now: datetime, applying: list[Cap]
) -> Hold | None:
    params = {"contact_id": contact_id, "since": now - max(cap.window for cap in applying)}
    starts = session.scalars(_contact_attempts_statement(), params).all()
    return _latest_lift([(start, None) for start in starts], applying, now)


def compliance_hold(
    session: Session,
    campaign: Campaign,
    contact_id: int,
    e164: str,
    now: datetime,
    tenant: TenantRules = NO_TENANT_RULES,
) -> Hold | None:
    """Why this contact's number may not be dialled now (None: it may)."""
    if campaign.require_consent and (hold := _consent_hold(session, contact_id, now)):
        return hold
    every = caps(campaign, tenant)
    on_number = [cap for cap in every if cap.reason != HoldReason.CONTACT_CAP]
    on_contact = [cap for cap in every if cap.reason == HoldReason.CONTACT_CAP]
    holds = [
        on_number and _number_hold(session, campaign, e164, now, on_number),
        on_contact and _contact_hold(session, contact_id, now, on_contact),
    ]
    found = [hold for hold in holds if hold]
    return max(found, key=lambda hold: hold.until, default=None)


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

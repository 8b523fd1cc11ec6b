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

from sqlalchemy import (
    Connection,
    Integer,
    Select,
    Table,
    bindparam,
    cast,
    insert,
    literal_column,
    null,
    select,
    union_all,
)
from sqlalchemy.orm import Session
from sqlalchemy.sql import ColumnElement, Executable

from opendialer.engine.compliance import (
    NO_TENANT_RULES,
    TenantRules,
    cap_lifts_at,
    consent_valid,
)
from opendialer.models import Campaign, Consent, HoldReason, Tenant
from opendialer.models.call import ATTEMPTS
from opendialer.models.compliance import CONTACT_HOLDS

CONSENT_RECHECK = timedelta(days=1)
CONSENT_CHANNEL = "phone"
HELD_TENANTS = "opendialer.engine.holds.tenants"
CONSENTS: Table = Consent.__table__  # type: ignore[assignment]


# What the one statement of a check returns, per row: (kind, time, time, time).
CONSENT_ROW, NUMBER_ROW, CONTACT_ROW = 0, 1, 2


@cache
def _hold_rows_statement(consent: bool, on_number: bool, on_contact: bool) -> Executable:
    """Everything a check reads, in one round trip (built once per shape: a claim runs it each
    time): the contact's latest consent (given, expires, revoked), the tenant's attempts to the
    number in the window (started, connected) and the contact's (started)."""
    when = ATTEMPTS.c.started_at.type
    nothing = cast(null(), when)
    attempt, given = ATTEMPTS.c, CONSENTS.c
    parts: list[Select[Any]] = []
    if consent:
        latest = (
            select(_kind(CONSENT_ROW), given.given_at, given.expires_at, given.revoked_at)
            .where(given.contact_id == bindparam("contact_id"), given.channel == CONSENT_CHANNEL)
            .order_by(given.given_at.desc(), given.id.desc())
            .limit(1)
            .subquery()
        )
        parts.append(select(latest))
    if on_number:
        parts.append(
            select(_kind(NUMBER_ROW), attempt.started_at, attempt.connected_at, nothing).where(
                attempt.tenant_id == bindparam("tenant_id"),
                attempt.b_number == bindparam("e164"),
                attempt.started_at > bindparam("number_since", type_=when),
            )
        )
    if on_contact:
        parts.append(
            select(_kind(CONTACT_ROW), attempt.started_at, nothing, nothing).where(
                attempt.contact_id == bindparam("contact_id"),
                attempt.started_at > bindparam("contact_since", type_=when),
            )
        )
    return parts[0] if len(parts) == 1 else union_all(*parts)


def _kind(kind: int) -> ColumnElement[int]:
    return literal_column(str(kind), Integer).label("kind")


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


def _consent_hold(rows: Sequence[Sequence[Any]], now: datetime) -> Hold | None:
    latest = next((row for row in rows if row[0] == CONSENT_ROW), None)
    if latest is not None and consent_valid(latest[1], latest[2], latest[3], now):
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


def _cap_hold(
    rows: Sequence[Sequence[Any]], kind: int, applying: list[Cap], now: datetime
) -> Hold | None:
    if not applying:
        return None
    counted = [(row[1], row[2]) for row in rows if row[0] == kind]
    return _latest_lift(counted, applying, now)


def _since(now: datetime, applying: list[Cap]) -> datetime:
    return now - max((cap.window for cap in applying), default=timedelta(0))


def compliance_hold(
    conn: Connection,
    campaign: Campaign,
    contact_id: int,
    e164: str,
    now: datetime,
    tenant: TenantRules = NO_TENANT_RULES,
) -> Hold | None:
    """Why this contact's number may not be dialled now (None: it may): missing consent first,
    else the cap that lifts last. One statement reads what every check needs."""
    every = caps(campaign, tenant)
    on_number = [cap for cap in every if cap.reason != HoldReason.CONTACT_CAP]
    on_contact = [cap for cap in every if cap.reason == HoldReason.CONTACT_CAP]
    consent = bool(campaign.require_consent)
    if not (consent or on_number or on_contact):
        return None
    params = {
        "contact_id": contact_id,
        "tenant_id": campaign.tenant_id,
        "e164": e164,
        "number_since": _since(now, on_number),
        "contact_since": _since(now, on_contact),
    }
    statement = _hold_rows_statement(consent, bool(on_number), bool(on_contact))
    rows = conn.execute(statement, params).all()
    if consent and (hold := _consent_hold(rows, now)):
        return hold
    holds = [
        _cap_hold(rows, NUMBER_ROW, on_number, now),
        _cap_hold(rows, CONTACT_ROW, on_contact, now),
    ]
    found = [hold for hold in holds if hold]
    return max(found, key=lambda hold: hold.until, default=None)


def record_hold(
    conn: Connection, campaign: Campaign, contact_id: int, e164: str, hold: Hold
) -> None:
    values = {"tenant_id": campaign.tenant_id, "contact_id": contact_id, "e164": e164}
    conn.execute(insert(CONTACT_HOLDS), {**values, "reason": hold.reason, "until": hold.until})

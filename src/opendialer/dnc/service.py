"""Do-not-call rules: which numbers a campaign must never dial, and keeping the lists."""

from collections import Counter
from collections.abc import Collection, Iterator
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, or_, select
from sqlalchemy.orm import Session

from opendialer.dnc.schemas import DncBulkResult, DncNumbers, DncOutcome, DncRecordOutcome
from opendialer.models import Campaign, DncEntry, Tenant
from opendialer.phones import normalize
from opendialer.scoping import get_owned

# Keeps IN (...) lists under every database's bind-parameter limit.
LOOKUP_CHUNK = 5000


def _chunks(items: list[str], size: int) -> Iterator[list[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _scope(campaign_id: int | None) -> ColumnElement[bool]:
    """The tenant-wide list, plus the campaign's own list when a campaign is given."""
    tenant_wide: ColumnElement[bool] = DncEntry.campaign_id.is_(None)
    return (
        tenant_wide
        if campaign_id is None
        else or_(tenant_wide, DncEntry.campaign_id == campaign_id)
    )


def blocked_numbers(
    session: Session, tenant_id: int, campaign_id: int | None, numbers: Collection[str]
) -> set[str]:
    """The E.164 numbers among ``numbers`` on the tenant's list or on the campaign's list."""
    blocked: set[str] = set()
    for chunk in _chunks(sorted(set(numbers)), LOOKUP_CHUNK):
        stmt = select(DncEntry.e164).where(
            DncEntry.tenant_id == tenant_id, DncEntry.e164.in_(chunk), _scope(campaign_id)
        )
        blocked.update(session.scalars(stmt))
    return blocked


def is_blocked(session: Session, tenant_id: int, campaign_id: int | None, e164: str) -> bool:
    return bool(blocked_numbers(session, tenant_id, campaign_id, [e164]))


def _check_campaign(session: Session, tenant_id: int, campaign_id: int | None) -> None:
    if campaign_id is not None:
        get_owned(session, Campaign, tenant_id, campaign_id, "campaign")


def _result(records: list[DncRecordOutcome]) -> DncBulkResult:
    counts = Counter(r.outcome for r in records)
    return DncBulkResult(counts={o: counts.get(o, 0) for o in DncOutcome}, records=records)


def _existing(
    session: Session, tenant_id: int, campaign_id: int | None, numbers: list[str]
) -> dict[str, DncEntry]:
    """Entries on exactly this list (tenant-wide, or the campaign's own)."""
    scope = (
        DncEntry.campaign_id.is_(None)
        if campaign_id is None
        else DncEntry.campaign_id == campaign_id
    )
    found: dict[str, DncEntry] = {}
    for chunk in _chunks(sorted(set(numbers)), LOOKUP_CHUNK):
        stmt = select(DncEntry).where(
            DncEntry.tenant_id == tenant_id, DncEntry.e164.in_(chunk), scope
        )
        found.update({e.e164: e for e in session.scalars(stmt)})
    return found


def add_numbers(session: Session, tenant: Tenant, data: DncNumbers) -> DncBulkResult:
    """Put numbers on a list; each record says added, exists or invalid_number."""
    _check_campaign(session, tenant.id, data.campaign_id)
    phones = [normalize(raw, tenant.default_region) for raw in data.numbers]
    existing = set(
        _existing(session, tenant.id, data.campaign_id, [p.e164 for p in phones if p.e164])
    )
    now = datetime.now(UTC)
    records = []
    for phone in phones:
        if phone.e164 is None:
            outcome = DncOutcome.INVALID_NUMBER
        elif phone.e164 in existing:
            outcome = DncOutcome.EXISTS
        else:
            existing.add(phone.e164)
            session.add(
                DncEntry(
                    tenant_id=tenant.id,
                    campaign_id=data.campaign_id,
                    e164=phone.e164,
                    source=data.source,
                    note=data.note,
                    created_at=now,
                )
            )
            outcome = DncOutcome.ADDED
        records.append(DncRecordOutcome(number=phone.raw, e164=phone.e164, outcome=outcome))
    session.flush()
    return _result(records)


def remove_numbers(session: Session, tenant: Tenant, data: DncNumbers) -> DncBulkResult:
    """Take numbers off a list; each record says removed, not_found or invalid_number."""
    _check_campaign(session, tenant.id, data.campaign_id)
    phones = [normalize(raw, tenant.default_region) for raw in data.numbers]
    existing = _existing(session, tenant.id, data.campaign_id, [p.e164 for p in phones if p.e164])
    records = []
    for phone in phones:
        entry = existing.pop(phone.e164, None) if phone.e164 else None
        if phone.e164 is None:
            outcome = DncOutcome.INVALID_NUMBER
        elif entry is None:
            outcome = DncOutcome.NOT_FOUND
        else:
            session.delete(entry)
            outcome = DncOutcome.REMOVED
        records.append(DncRecordOutcome(number=phone.raw, e164=phone.e164, outcome=outcome))
    session.flush()
    return _result(records)


def entries_for(
    session: Session, tenant_id: int, campaign_id: int | None, e164: str
) -> list[DncEntry]:
    """The entries that block ``e164`` for the campaign (tenant-wide and the campaign's own)."""
    _check_campaign(session, tenant_id, campaign_id)
    stmt = select(DncEntry).where(
        DncEntry.tenant_id == tenant_id, DncEntry.e164 == e164, _scope(campaign_id)
    )
    return list(session.scalars(stmt.order_by(DncEntry.id)))


def fuzzy_entries(session: Session, tenant_id: int, e164: str, digits: int = 7) -> list[DncEntry]:
    """Entries whose number ends in the same ``digits`` digits (mmDial's ``fuzzy`` check).

    A suffix match cannot use the E.164 index, so this one scans the tenant's list.
    """
    stmt = select(DncEntry).where(
        DncEntry.tenant_id == tenant_id, DncEntry.e164.endswith(e164[-digits:], autoescape=True)
    )
    return list(session.scalars(stmt.order_by(DncEntry.id)))


def dnc_query(
    tenant_id: int,
    *,
    campaign_id: int | None = None,
    tenant_wide: bool = False,
    number: str | None = None,
) -> Select[Any]:
    stmt = select(DncEntry).where(DncEntry.tenant_id == tenant_id)
    if tenant_wide:
        stmt = stmt.where(DncEntry.campaign_id.is_(None))
    elif campaign_id is not None:
        stmt = stmt.where(DncEntry.campaign_id == campaign_id)
    if number:
        stmt = stmt.where(DncEntry.e164.contains(number.lstrip("+"), autoescape=True))
    return stmt


def delete_entry(session: Session, tenant_id: int, entry_id: int) -> None:
    session.delete(get_owned(session, DncEntry, tenant_id, entry_id, "dnc_entry"))
    session.flush()

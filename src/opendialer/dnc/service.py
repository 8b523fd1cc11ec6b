"""Do-not-call rules: which numbers a campaign must never dial."""

from collections.abc import Collection, Iterator

from sqlalchemy import ColumnElement, or_, select
from sqlalchemy.orm import Session

from opendialer.models import DncEntry

# Keeps IN (...) lists under every database's bind-parameter limit.
LOOKUP_CHUNK = 5000


def _chunks(items: list[str], size: int) -> Iterator[list[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def blocked_numbers(
    session: Session, tenant_id: int, campaign_id: int | None, numbers: Collection[str]
) -> set[str]:
    """The E.164 numbers among ``numbers`` on the tenant's list or on the campaign's list."""
    scope: ColumnElement[bool] = DncEntry.campaign_id.is_(None)
    if campaign_id is not None:
        scope = or_(scope, DncEntry.campaign_id == campaign_id)
    blocked: set[str] = set()
    for chunk in _chunks(sorted(set(numbers)), LOOKUP_CHUNK):
        stmt = select(DncEntry.e164).where(
            DncEntry.tenant_id == tenant_id, DncEntry.e164.in_(chunk), scope
        )
        blocked.update(session.scalars(stmt))
    return blocked


def is_blocked(session: Session, tenant_id: int, campaign_id: int | None, e164: str) -> bool:
    return bool(blocked_numbers(session, tenant_id, campaign_id, [e164]))

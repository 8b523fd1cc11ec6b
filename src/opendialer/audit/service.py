"""Reading the audit trail, and its retention."""

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select
from sqlalchemy.orm import Session

from opendialer.audit.recorder import AUDITED, purge_before
from opendialer.errors import BadRequest
from opendialer.models import AuditEntry
from opendialer.scoping import Scope, owned


@dataclass(frozen=True)
class AuditFilter:
    entity: str | None = None
    entity_id: str | None = None
    user_id: int | None = None
    api_key_id: int | None = None
    face: str | None = None
    since: datetime | None = None
    until: datetime | None = None


def audit_query(scope: Scope, wanted: AuditFilter) -> Select[Any]:
    """The tenant's audit rows that match every filter given (``since`` inclusive, ``until``
    exclusive)."""
    if wanted.entity is not None and wanted.entity not in AUDITED:
        raise BadRequest(
            f"Unknown entity {wanted.entity!r}; audited: {', '.join(sorted(AUDITED))}",
            code="unknown_entity",
        )
    if wanted.since and wanted.until and wanted.until <= wanted.since:
        raise BadRequest("until must be after since", code="invalid_time_range")
    stmt = owned(AuditEntry, scope)
    for column, value in (
        (AuditEntry.entity, wanted.entity),
        (AuditEntry.entity_id, wanted.entity_id),
        (AuditEntry.user_id, wanted.user_id),
        (AuditEntry.api_key_id, wanted.api_key_id),
        (AuditEntry.face, wanted.face),
    ):
        if value is not None:
            stmt = stmt.where(column == value)
    if wanted.since is not None:
        stmt = stmt.where(AuditEntry.at >= wanted.since)
    if wanted.until is not None:
        stmt = stmt.where(AuditEntry.at < wanted.until)
    return stmt


def purge_expired(session: Session, now: datetime, retention_days: int) -> int:
    """Rows older than the retention go (every tenant's); how many went."""
    return purge_before(session, now - timedelta(days=retention_days))

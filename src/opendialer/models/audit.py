"""The audit trail: one row per change to a tenant's configuration, never updated."""

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from opendialer.models.base import Base, BigId, IdMixin, tenant_fk


class AuditEntry(IdMixin, Base):
    """Who (a user, an API key or a vendor credential) changed what (``entity`` row
    ``entity_id``: ``changes`` maps each field to ``[before, after]``), when, through which face.

    ``user_id`` and ``api_key_id`` are plain ids, not foreign keys: the row outlives the user.
    """

    __tablename__ = "audit_entries"
    __table_args__ = (
        Index("ix_audit_entries_tenant_at", "tenant_id", "at"),
        Index("ix_audit_entries_tenant_entity", "tenant_id", "entity", "entity_id"),
    )

    tenant_id: Mapped[int] = tenant_fk(index=False)
    at: Mapped[datetime]
    face: Mapped[str] = mapped_column(String(20))
    user_id: Mapped[int | None] = mapped_column(BigId)
    api_key_id: Mapped[int | None] = mapped_column(BigId)
    credential: Mapped[str | None] = mapped_column(String(100))
    entity: Mapped[str] = mapped_column(String(40))
    entity_id: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(20))
    changes: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

"""Do-not-call entries: tenant-wide (campaign_id NULL) or for one campaign."""

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column

from opendialer.models.base import Base, BigId, IdMixin, tenant_fk, utcnow


class DncEntry(IdMixin, Base):
    __tablename__ = "dnc_entries"
    __table_args__ = (
        Index("ix_dnc_entries_lookup", "tenant_id", "e164", "campaign_id"),
        Index(
            "uq_dnc_entries_tenant_wide",
            "tenant_id",
            "e164",
            unique=True,
            sqlite_where=text("campaign_id IS NULL"),
            postgresql_where=text("campaign_id IS NULL"),
        ),
        Index("uq_dnc_entries_campaign", "campaign_id", "e164", unique=True),
    )

    tenant_id: Mapped[int] = tenant_fk()
    campaign_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("campaigns.id", ondelete="CASCADE")
    )
    e164: Mapped[str] = mapped_column(String(20))
    source: Mapped[str] = mapped_column(String(50), default="api")
    note: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime | None]  # blocks until then; None: for ever

"""Call-log records posted by a PBX (MiniCRM CallLog format)."""

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, SmallInteger, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from opendialer.models.base import Base, BigId, IdMixin, tenant_fk, utcnow


class CrmCallLog(IdMixin, Base):
    __tablename__ = "crm_call_logs"
    # An exact repeat of an item (same user, number, type, time, duration) is stored once.
    __table_args__ = (UniqueConstraint("tenant_id", "dedupe_key"),)

    tenant_id: Mapped[int] = tenant_fk()
    user_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("users.id", ondelete="SET NULL"))
    contact_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("contacts.id", ondelete="SET NULL"), index=True
    )
    user_extension: Mapped[str] = mapped_column(String(64))
    number: Mapped[str] = mapped_column(String(64))
    e164: Mapped[str | None] = mapped_column(String(20), index=True)
    call_type: Mapped[int] = mapped_column(SmallInteger)
    duration_seconds: Mapped[int] = mapped_column(Integer)
    occurred_at: Mapped[datetime]
    reference_id: Mapped[str | None] = mapped_column(String(255))
    dedupe_key: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

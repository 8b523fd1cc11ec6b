"""ACD events: callbacks, voice mails, tickets routed to an agent group and optionally a user."""

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from opendialer.models.base import Base, BigId, IdMixin, TimestampMixin, tenant_fk

ACD_STATUS_NEW = 20
DEFAULT_ACD_PRIORITY = 50


class AcdEvent(IdMixin, TimestampMixin, Base):
    __tablename__ = "acd_events"
    # The delivery pass reads the open events by status.
    __table_args__ = (Index("ix_acd_events_status_appointment", "status_id", "appointment_at"),)

    tenant_id: Mapped[int] = tenant_fk()
    group_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("agent_groups.id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    contact_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("contacts.id", ondelete="SET NULL")
    )
    campaign_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("campaigns.id", ondelete="SET NULL")
    )
    type_id: Mapped[int] = mapped_column(Integer)
    status_id: Mapped[int] = mapped_column(Integer, default=ACD_STATUS_NEW)
    sender: Mapped[str | None] = mapped_column(String(255))
    receiver: Mapped[str | None] = mapped_column(String(255))
    subject: Mapped[str | None] = mapped_column(String(500))
    body: Mapped[str | None] = mapped_column(Text)
    crm_url: Mapped[str | None] = mapped_column(String(1000))
    user_data: Mapped[str | None] = mapped_column(String(255), index=True)
    priority: Mapped[int] = mapped_column(Integer, default=DEFAULT_ACD_PRIORITY)
    appointment_at: Mapped[datetime | None]
    # Delivery: who the event was offered to and when, and when it was completed.
    offered_user_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    offered_at: Mapped[datetime | None]
    done_at: Mapped[datetime | None]
    # Notes added later, e.g. each duplicate request the group's no-duplicates option folded in.
    comment: Mapped[str | None] = mapped_column(Text)

"""Compliance records: a campaign's caller-ID pool and the consent a contact gave."""

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from opendialer.models.base import Base, BigId, IdMixin, tenant_fk, utcnow


class CallerIdNumber(IdMixin, Base):
    """A number in a campaign's caller-ID pool; a retired one is never presented again."""

    __tablename__ = "caller_id_numbers"
    __table_args__ = (UniqueConstraint("campaign_id", "e164"),)

    tenant_id: Mapped[int] = tenant_fk()
    campaign_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("campaigns.id", ondelete="CASCADE"), index=True
    )
    e164: Mapped[str] = mapped_column(String(20))
    retired_at: Mapped[datetime | None]
    last_used_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Consent(IdMixin, Base):
    """Consent to be called (proof for TCPA / UWG), valid until it expires or is revoked."""

    __tablename__ = "consents"
    __table_args__ = (Index("ix_consents_contact_id", "contact_id", "channel"),)

    tenant_id: Mapped[int] = tenant_fk()
    contact_id: Mapped[int] = mapped_column(BigId, ForeignKey("contacts.id", ondelete="CASCADE"))
    channel: Mapped[str] = mapped_column(String(20), default="phone")
    source: Mapped[str] = mapped_column(String(100))
    given_at: Mapped[datetime]
    text: Mapped[str | None] = mapped_column(String(2000))
    reference: Mapped[str | None] = mapped_column(String(255))
    expires_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

"""Compliance records: a campaign's caller-ID pool, consent, and why a contact was held."""

import enum
from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Table, UniqueConstraint
from sqlalchemy.engine.default import DefaultExecutionContext
from sqlalchemy.orm import Mapped, mapped_column

from opendialer.models.base import Base, BigId, IdMixin, str_enum, tenant_fk, utcnow
from opendialer.phones import area_key


def _area_of_inserted(context: DefaultExecutionContext) -> str | None:
    inserted: dict[str, str] = context.get_current_parameters()  # type: ignore[no-untyped-call]
    return area_key(inserted["e164"])


class CallerIdNumber(IdMixin, Base):
    """A number in a campaign's caller-ID pool; a retired one is never presented again."""

    __tablename__ = "caller_id_numbers"
    __table_args__ = (UniqueConstraint("campaign_id", "e164"),)

    tenant_id: Mapped[int] = tenant_fk()
    campaign_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("campaigns.id", ondelete="CASCADE"), index=True
    )
    e164: Mapped[str] = mapped_column(String(20))
    # Set from e164 on every insert (ORM or Core): local presence picks by it in SQL.
    area: Mapped[str | None] = mapped_column(String(200), default=_area_of_inserted)
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


class HoldReason(enum.StrEnum):
    NUMBER_CAP = "number_cap"
    CONTACT_CAP = "contact_cap"
    CONVERSATION_CAP = "conversation_cap"
    NO_CONSENT = "no_consent"


class ContactHold(IdMixin, Base):
    """A contact's history of compliance holds: why it was parked, and until when."""

    __tablename__ = "contact_holds"
    __table_args__ = (Index("ix_contact_holds_contact_id", "contact_id", "created_at"),)

    tenant_id: Mapped[int] = tenant_fk()
    contact_id: Mapped[int] = mapped_column(BigId, ForeignKey("contacts.id", ondelete="CASCADE"))
    e164: Mapped[str | None] = mapped_column(String(20))
    reason: Mapped[HoldReason] = mapped_column(str_enum(HoldReason))
    until: Mapped[datetime]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


CONTACT_HOLDS: Table = ContactHold.__table__  # type: ignore[assignment]

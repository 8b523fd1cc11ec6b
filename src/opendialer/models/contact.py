"""Contacts (jtel dialler contacts, mmDial leads, Voicenter targets) and their phone numbers."""

import enum
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    Numeric,
    SmallInteger,
    String,
    Table,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from opendialer.models.base import Base, BigId, IdMixin, TimestampMixin, str_enum, utcnow

MAX_PHONES = 6
DIAL_QUEUE_WHERE = text("status = 'pending' AND NOT locked")


class ContactStatus(enum.StrEnum):
    PENDING = "pending"  # waiting to be dialled (when eligible)
    IN_CALL = "in_call"  # claimed by an engine; in exactly one call
    DONE = "done"  # finished: reached, result set, or out of tries


def _index_where_set(name: str, *columns: str) -> Index:
    """An index of the rows whose last column is not NULL."""
    where = text(f"{columns[-1]} IS NOT NULL")
    return Index(name, *columns, sqlite_where=where, postgresql_where=where)


class Contact(IdMixin, TimestampMixin, Base):
    __tablename__ = "contacts"
    # Optional keys are indexed only where set: most contacts have no external id or list, and
    # every look-up names the value (which implies it is not NULL).
    __table_args__ = (
        _index_where_set("ix_contacts_tenant_user_data", "tenant_id", "user_data"),
        _index_where_set("ix_contacts_tenant_external_id", "tenant_id", "external_id"),
        _index_where_set("ix_contacts_list_id", "list_id"),
        Index("ix_contacts_campaign_id", "campaign_id", "id"),
        # One foreign key for campaign and tenant (the tenant's is the campaign's): PostgreSQL
        # checks each key of each new row on its own, and a million-row import spent most of its
        # time in those checks. It also makes a contact in another tenant's campaign impossible.
        ForeignKeyConstraint(
            ["campaign_id", "tenant_id"],
            ["campaigns.id", "campaigns.tenant_id"],
            ondelete="CASCADE",
        ),
        UniqueConstraint("id", "tenant_id", "campaign_id"),  # the phones' one foreign key
    )

    tenant_id: Mapped[int] = mapped_column(BigId)  # indexed with user_data and external_id
    campaign_id: Mapped[int] = mapped_column(BigId)
    list_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("contact_lists.id", ondelete="SET NULL")
    )
    # External keys
    user_data: Mapped[str | None] = mapped_column(String(255))
    user_data2: Mapped[str | None] = mapped_column(String(255))
    user_data3: Mapped[str | None] = mapped_column(String(255))
    external_id: Mapped[str | None] = mapped_column(String(255))
    client: Mapped[str | None] = mapped_column(String(255))
    service: Mapped[str | None] = mapped_column(String(255))
    reference_number: Mapped[str | None] = mapped_column(String(255))
    random_sort_order: Mapped[int | None]
    # Person and address
    salutation: Mapped[str | None] = mapped_column(String(50))
    title: Mapped[str | None] = mapped_column(String(50))
    first_name: Mapped[str | None] = mapped_column(String(255))
    name: Mapped[str | None] = mapped_column(String(255))
    company: Mapped[str | None] = mapped_column(String(255))
    address: Mapped[str | None] = mapped_column(String(255))
    street_number: Mapped[str | None] = mapped_column(String(50))
    address_extra: Mapped[str | None] = mapped_column(String(255))
    postal_code: Mapped[str | None] = mapped_column(String(20))
    city: Mapped[str | None] = mapped_column(String(255))
    country: Mapped[str | None] = mapped_column(String(100))
    region: Mapped[str | None] = mapped_column(String(100))
    birthdate: Mapped[str | None] = mapped_column(String(20))
    email: Mapped[str | None] = mapped_column(String(255))
    website: Mapped[str | None] = mapped_column(String(255))
    fax_number: Mapped[str | None] = mapped_column(String(50))
    comment: Mapped[str | None] = mapped_column(String(4000))
    # Bank
    account_owner: Mapped[str | None] = mapped_column(String(255))
    account_bank: Mapped[str | None] = mapped_column(String(255))
    account_national_bank_code: Mapped[str | None] = mapped_column(String(50))
    account_bic: Mapped[str | None] = mapped_column(String(20))
    account_number: Mapped[str | None] = mapped_column(String(50))
    account_iban: Mapped[str | None] = mapped_column(String(50))
    amount: Mapped[Decimal | None] = mapped_column(Numeric(14, 2))
    # Misc jtel fields
    manufacturer: Mapped[str | None] = mapped_column(String(255))
    model: Mapped[str | None] = mapped_column(String(255))
    tag: Mapped[str | None] = mapped_column(String(255))
    external_system_link: Mapped[str | None] = mapped_column(String(1000))
    custom_data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    form_data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # Dialling
    caller_id: Mapped[str | None] = mapped_column(String(32))
    priority: Mapped[int] = mapped_column(Integer, default=0)
    next_try_at: Mapped[datetime] = mapped_column(default=utcnow)
    originate_is_local: Mapped[bool | None]
    begin_at: Mapped[datetime | None]
    end_at: Mapped[datetime | None]
    locked: Mapped[bool] = mapped_column(default=False)
    ignore_dnc: Mapped[bool] = mapped_column(default=False)
    status: Mapped[ContactStatus] = mapped_column(
        str_enum(ContactStatus), default=ContactStatus.PENDING
    )
    result_code_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("result_codes.id", ondelete="SET NULL")
    )
    last_result_mailbox: Mapped[bool | None]
    reserved_user_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("users.id", ondelete="SET NULL")
    )
    follow_up_user_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("users.id", ondelete="SET NULL")
    )
    follow_up_at: Mapped[datetime | None]
    tries: Mapped[int] = mapped_column(Integer, default=0)
    next_phone_position: Mapped[int] = mapped_column(SmallInteger, default=1)
    last_call_at: Mapped[datetime | None]
    claimed_at: Mapped[datetime | None]
    claimed_by: Mapped[str | None] = mapped_column(String(64))

    phones: Mapped[list["ContactPhone"]] = relationship(
        back_populates="contact",
        primaryjoin="Contact.id == foreign(ContactPhone.contact_id)",
        order_by="ContactPhone.position",
        cascade="all, delete-orphan",
        lazy="selectin",
    )


# The dial queue: the next contact to try is the first row of this index (highest priority,
# earliest next try, oldest), so claiming one does not grow with the table.
Index(
    "ix_contacts_dial_queue",
    Contact.campaign_id,
    Contact.priority.desc(),
    Contact.next_try_at,
    Contact.id,
    sqlite_where=DIAL_QUEUE_WHERE,
    postgresql_where=DIAL_QUEUE_WHERE,
)


class ContactPhone(IdMixin, Base):
    """One of a contact's up to six numbers, with its own try counter and state."""

    __tablename__ = "contact_phones"
    __table_args__ = (
        Index("uq_contact_phones_contact_position", "contact_id", "position", unique=True),
        # Every look-up names the number; tenant and campaign are then checked in the index.
        Index("ix_contact_phones_e164", "e164", "tenant_id", "campaign_id"),
        # One check per new phone instead of three, and the copies cannot disagree with the
        # contact (a contact that moves to another campaign takes its phones along).
        ForeignKeyConstraint(
            ["contact_id", "tenant_id", "campaign_id"],
            ["contacts.id", "contacts.tenant_id", "contacts.campaign_id"],
            ondelete="CASCADE",
            onupdate="CASCADE",
        ),
    )

    contact_id: Mapped[int] = mapped_column(BigId)
    # Denormalised from the contact so phone look-ups and de-duplication use one index.
    tenant_id: Mapped[int] = mapped_column(BigId)
    campaign_id: Mapped[int] = mapped_column(BigId)
    position: Mapped[int] = mapped_column(SmallInteger)
    raw: Mapped[str] = mapped_column(String(64))
    e164: Mapped[str | None] = mapped_column(String(20))
    invalid: Mapped[bool] = mapped_column(default=False)
    tries: Mapped[int] = mapped_column(Integer, default=0)
    last_cause: Mapped[int | None]
    last_end_reason_id: Mapped[int | None]
    last_attempt_at: Mapped[datetime | None]
    abandoned_at: Mapped[datetime | None]

    contact: Mapped[Contact] = relationship(
        back_populates="phones", primaryjoin="Contact.id == foreign(ContactPhone.contact_id)"
    )


# Due personal callbacks (a contact kept for one agent), looked for at every poll of a campaign.
PERSONAL_CALLBACKS_WHERE = text(
    "reserved_user_id IS NOT NULL AND status = 'pending' AND NOT locked"
)
Index(
    "ix_contacts_personal_callbacks",
    Contact.campaign_id,
    Contact.next_try_at,
    sqlite_where=PERSONAL_CALLBACKS_WHERE,
    postgresql_where=PERSONAL_CALLBACKS_WHERE,
)

# Contacts in a call, by the engine that claimed them: recovery frees a dead engine's at once.
IN_CALL_WHERE = text("status = 'in_call'")
Index(
    "ix_contacts_in_call",
    Contact.claimed_by,
    sqlite_where=IN_CALL_WHERE,
    postgresql_where=IN_CALL_WHERE,
)

# The tables, for Core statements where ORM objects would cost more than the work (bulk import,
# the engine's claim).
CONTACTS: Table = Contact.__table__  # type: ignore[assignment]
PHONES: Table = ContactPhone.__table__  # type: ignore[assignment]

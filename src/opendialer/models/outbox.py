"""CRM endpoints a tenant pushes to, and the durable outbox of deliveries to them."""

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from opendialer.models.base import Base, BigId, IdMixin, TimestampMixin, str_enum, tenant_fk, utcnow


class EndpointKind(enum.StrEnum):
    MINICRM_CALLLOG = "minicrm_calllog"  # MiniCRM "POST /Api/CallLog" format
    WEBHOOK = "webhook"  # opendialer's own signed JSON events


class UserExtensionPolicy(enum.StrEnum):
    AGENT = "agent"  # the agent's extension; the endpoint's default when no agent took the call
    FIXED = "fixed"  # always the endpoint's default extension


class OutboxStatus(enum.StrEnum):
    PENDING = "pending"
    DELIVERING = "delivering"
    DELIVERED = "delivered"
    DEAD = "dead"


class CrmEndpoint(IdMixin, TimestampMixin, Base):
    __tablename__ = "crm_endpoints"

    tenant_id: Mapped[int] = tenant_fk()
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[EndpointKind] = mapped_column(str_enum(EndpointKind))
    url: Mapped[str] = mapped_column(String(2000))
    # Sent in the body of MiniCRM requests; it has to be readable, so it is not hashed.
    api_key: Mapped[str | None] = mapped_column(String(255))
    user_extension_policy: Mapped[UserExtensionPolicy] = mapped_column(
        str_enum(UserExtensionPolicy), default=UserExtensionPolicy.AGENT
    )
    default_user_extension: Mapped[str | None] = mapped_column(String(64))
    batch_interval_seconds: Mapped[int] = mapped_column(Integer, default=0)
    recording_url_template: Mapped[str | None] = mapped_column(String(2000))
    # The resolver's token is derived from the tenant's link key (crm/links.py); only tokens
    # made before that are kept, as their SHA-256, so their old templates keep working.
    legacy_recording_token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    secret: Mapped[str] = mapped_column(String(255))  # HMAC-SHA256 key for webhook signatures
    events: Mapped[list[Any]] = mapped_column(JSON, default=list)  # empty: every event
    active: Mapped[bool] = mapped_column(default=True)


class OutboxMessage(IdMixin, Base):
    """One event for one endpoint; written in the transaction that caused it."""

    __tablename__ = "outbox_messages"
    __table_args__ = (
        Index("ix_outbox_messages_due", "status", "next_attempt_at"),
        Index("ix_outbox_messages_endpoint_status", "endpoint_id", "status"),
    )

    tenant_id: Mapped[int] = tenant_fk()
    endpoint_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("crm_endpoints.id", ondelete="CASCADE")
    )
    event_type: Mapped[str] = mapped_column(String(64))
    # call.finished payloads are built at delivery time from the attempt (recordings come later).
    call_attempt_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("call_attempts.id", ondelete="SET NULL")
    )
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    delivery_id: Mapped[str] = mapped_column(String(64), unique=True)
    status: Mapped[OutboxStatus] = mapped_column(
        str_enum(OutboxStatus), default=OutboxStatus.PENDING
    )
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    locked_until: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    last_status_code: Mapped[int | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    delivered_at: Mapped[datetime | None]

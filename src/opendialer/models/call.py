"""Call attempts (the history rows) and recordings."""

import enum
from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, SmallInteger, String, Table, text
from sqlalchemy.orm import Mapped, mapped_column

from opendialer.models.base import Base, BigId, IdMixin, str_enum, tenant_fk, utcnow


class CallOutcome(enum.StrEnum):
    """The one terminal state every attempt ends in."""

    CONNECTED = "connected"
    MACHINE = "machine"
    BUSY = "busy"
    NO_ANSWER = "no_answer"
    FAILED = "failed"
    INVALID_NUMBER = "invalid_number"
    ABANDONED = "abandoned"
    CANCELLED = "cancelled"


OPEN_ATTEMPT = text("outcome IS NULL")


class CallAttempt(IdMixin, Base):
    """One dial of one number (jtel DiallerContactsHistory)."""

    __tablename__ = "call_attempts"
    __table_args__ = (
        Index("ix_call_attempts_campaign_started", "campaign_id", "started_at"),
        Index("ix_call_attempts_contact_started", "contact_id", "started_at"),
        # Frequency caps count a number's attempts across the tenant's campaigns.
        Index("ix_call_attempts_tenant_number_started", "tenant_id", "b_number", "started_at"),
        # Reports and the wallboard read a tenant's attempts by time.
        Index("ix_call_attempts_tenant_started", "tenant_id", "started_at"),
        # Open attempts only (a handful per engine): recovery and take-over find them at once.
        Index(
            "ix_call_attempts_open",
            "engine_id",
            sqlite_where=OPEN_ATTEMPT,
            postgresql_where=OPEN_ATTEMPT,
        ),
    )

    tenant_id: Mapped[int] = tenant_fk()
    campaign_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("campaigns.id", ondelete="SET NULL")
    )
    contact_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("contacts.id", ondelete="SET NULL")
    )
    user_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    result_code_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("result_codes.id", ondelete="SET NULL")
    )
    phone_position: Mapped[int | None] = mapped_column(SmallInteger)
    a_number: Mapped[str | None] = mapped_column(String(32))  # the caller ID presented
    b_number: Mapped[str] = mapped_column(String(32), index=True)
    outbound: Mapped[bool] = mapped_column(default=True)
    test_call: Mapped[bool] = mapped_column(default=False)
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    alerted_at: Mapped[datetime | None]
    answered_at: Mapped[datetime | None]  # the customer picked up
    connected_at: Mapped[datetime | None]  # the customer was joined to an agent
    ended_at: Mapped[datetime | None]
    outcome: Mapped[CallOutcome | None] = mapped_column(str_enum(CallOutcome))
    sip_status: Mapped[int | None] = mapped_column(Integer)
    cause_code: Mapped[int | None] = mapped_column(Integer)
    caller_hangup: Mapped[bool | None]
    answered_by_machine: Mapped[bool | None]
    # The telephony backend's words on the ending ("customer hung up; recording failed: ...").
    end_detail: Mapped[str | None] = mapped_column(String(255))
    engine_id: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Recording(IdMixin, Base):
    __tablename__ = "recordings"

    tenant_id: Mapped[int] = tenant_fk()
    call_attempt_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("call_attempts.id", ondelete="SET NULL"), index=True
    )
    contact_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("contacts.id", ondelete="SET NULL"), index=True
    )
    user_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    voice_id: Mapped[str] = mapped_column(String(64))
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    duration_seconds: Mapped[float]
    size_bytes: Mapped[int]
    path: Mapped[str] = mapped_column(String(500))
    deleted_at: Mapped[datetime | None]


# The table itself, for plain Core statements (the engine's hot path).
ATTEMPTS: Table = CallAttempt.__table__  # type: ignore[assignment]

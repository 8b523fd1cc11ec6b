"""State the dialing engine keeps in the database, so several engine processes can share it."""

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Float, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from opendialer.models.base import Base, BigId, IdMixin, str_enum, tenant_fk, utcnow


class AgentState(enum.StrEnum):
    LOGGED_OUT = "logged_out"
    READY = "ready"
    RESERVED = "reserved"
    PREVIEW = "preview"
    ON_CALL = "on_call"
    WRAP_UP = "wrap_up"
    PAUSED = "paused"


class AgentSession(Base):
    """An agent's live state (one row per agent), driven by the agent API and the engine."""

    __tablename__ = "agent_sessions"
    __table_args__ = (Index("ix_agent_sessions_tenant_state_since", "tenant_id", "state", "since"),)

    user_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    tenant_id: Mapped[int] = tenant_fk()
    state: Mapped[AgentState] = mapped_column(str_enum(AgentState), default=AgentState.LOGGED_OUT)
    since: Mapped[datetime] = mapped_column(default=utcnow)
    pause_reason: Mapped[str | None] = mapped_column(String(100))
    pause_requested: Mapped[str | None] = mapped_column(String(100))
    campaign_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("campaigns.id", ondelete="SET NULL")
    )
    contact_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("contacts.id", ondelete="SET NULL")
    )
    call_attempt_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("call_attempts.id", ondelete="SET NULL")
    )
    logged_in_at: Mapped[datetime | None]
    engine_id: Mapped[str | None] = mapped_column(String(64))


class EngineLease(Base):
    """A running engine's lease: renewed while it lives; once expired, others close its calls."""

    __tablename__ = "engine_leases"

    engine_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    renewed_at: Mapped[datetime] = mapped_column(default=utcnow)
    lease_until: Mapped[datetime] = mapped_column(index=True)


class CampaignLease(Base):
    """Which engine paces a campaign: one holder at a time, renewed while it lives.

    A row per campaign that some engine runs; the primary key makes two holders impossible.
    Another engine takes the row over only once ``lease_until`` has passed.
    """

    __tablename__ = "campaign_leases"

    campaign_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("campaigns.id", ondelete="CASCADE"), primary_key=True
    )
    engine_id: Mapped[str] = mapped_column(String(64), index=True)
    acquired_at: Mapped[datetime] = mapped_column(default=utcnow)
    lease_until: Mapped[datetime]


class PacingDecision(IdMixin, Base):
    """One pacing decision with the estimates behind it, so a supervisor can read why."""

    __tablename__ = "pacing_decisions"
    __table_args__ = (Index("ix_pacing_decisions_campaign_at", "campaign_id", "decided_at"),)

    tenant_id: Mapped[int] = tenant_fk()
    campaign_id: Mapped[int] = mapped_column(BigId, ForeignKey("campaigns.id", ondelete="CASCADE"))
    decided_at: Mapped[datetime] = mapped_column(default=utcnow)
    algorithm: Mapped[str] = mapped_column(String(50))
    dials: Mapped[int] = mapped_column(Integer)
    target_in_flight: Mapped[float] = mapped_column(Float)
    inputs: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    reason: Mapped[str] = mapped_column(String(500))

"""History the reports read: every agent state change, and every number refused for DNC."""

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Table
from sqlalchemy.orm import Mapped, mapped_column

from opendialer.models.base import Base, BigId, IdMixin, str_enum, tenant_fk, utcnow
from opendialer.models.engine import AgentState


class AgentStateChange(IdMixin, Base):
    """An agent entered ``state`` at ``at``; it lasted until their next row (or now)."""

    __tablename__ = "agent_state_changes"
    __table_args__ = (
        Index("ix_agent_state_changes_tenant_at", "tenant_id", "at"),
        Index("ix_agent_state_changes_user_at", "user_id", "at"),
    )

    tenant_id: Mapped[int] = tenant_fk(index=False)
    user_id: Mapped[int] = mapped_column(BigId, ForeignKey("users.id", ondelete="CASCADE"))
    state: Mapped[AgentState] = mapped_column(str_enum(AgentState))
    pause_reason: Mapped[str | None] = mapped_column(String(100))
    campaign_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("campaigns.id", ondelete="SET NULL")
    )
    at: Mapped[datetime] = mapped_column(default=utcnow)


class DncRefusal(IdMixin, Base):
    """The dialer passed over a number of a contact because it is on a do-not-call list."""

    __tablename__ = "dnc_refusals"
    __table_args__ = (Index("ix_dnc_refusals_tenant_at", "tenant_id", "at"),)

    tenant_id: Mapped[int] = tenant_fk(index=False)
    campaign_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("campaigns.id", ondelete="SET NULL")
    )
    contact_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("contacts.id", ondelete="SET NULL")
    )
    e164: Mapped[str] = mapped_column(String(32))
    at: Mapped[datetime] = mapped_column(default=utcnow)


DNC_REFUSALS: Table = DncRefusal.__table__  # type: ignore[assignment]

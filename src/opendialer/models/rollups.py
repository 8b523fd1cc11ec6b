"""What the reports read instead of millions of history rows: per UTC quarter hour, the closed
attempts and the agents' seconds in each state, rolled up past a per-tenant watermark by
``opendialer.reports.rollups`` (never on the engine's path). Everything before the watermark
is here; everything after it is read from the history itself."""

from datetime import datetime

from sqlalchemy import Float, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from opendialer.models.base import Base, BigId, IdMixin, str_enum, tenant_fk
from opendialer.models.engine import AgentState


class ReportWatermark(Base):
    """The tenant's history before ``rolled_until`` (a UTC quarter hour) is in the rollups."""

    __tablename__ = "report_watermarks"

    tenant_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True
    )
    rolled_until: Mapped[datetime]


class AttemptQuarter(IdMixin, Base):
    """Closed attempts of one campaign (and agent, or none) started in one quarter hour.

    Result codes are not rolled up: an agent may set one long after the call ended."""

    __tablename__ = "attempt_quarters"
    __table_args__ = (Index("ix_attempt_quarters_tenant_quarter", "tenant_id", "quarter"),)

    tenant_id: Mapped[int] = tenant_fk(index=False)
    campaign_id: Mapped[int] = mapped_column(BigId, ForeignKey("campaigns.id", ondelete="CASCADE"))
    user_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("users.id", ondelete="SET NULL"))
    quarter: Mapped[datetime]
    attempts: Mapped[int]
    live: Mapped[int]
    machines: Mapped[int]
    abandoned: Mapped[int]
    connects: Mapped[int]
    outside_hours: Mapped[int]  # judged with the campaign's hours when the quarter was rolled


class AgentStateQuarter(IdMixin, Base):
    """Seconds one agent spent logged in, in one state (pause reason, campaign), in one quarter."""

    __tablename__ = "agent_state_quarters"
    __table_args__ = (Index("ix_agent_state_quarters_tenant_quarter", "tenant_id", "quarter"),)

    tenant_id: Mapped[int] = tenant_fk(index=False)
    user_id: Mapped[int] = mapped_column(BigId, ForeignKey("users.id", ondelete="CASCADE"))
    state: Mapped[AgentState] = mapped_column(str_enum(AgentState))
    pause_reason: Mapped[str | None] = mapped_column(String(100))
    campaign_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("campaigns.id", ondelete="SET NULL")
    )
    quarter: Mapped[datetime]
    seconds: Mapped[float] = mapped_column(Float)


class AgentStateMark(Base):
    """The state each agent was in at the tenant's watermark (their last change before it), so
    the history after the watermark is read without walking back through all that before."""

    __tablename__ = "agent_state_marks"

    user_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    tenant_id: Mapped[int] = tenant_fk()
    state: Mapped[AgentState] = mapped_column(str_enum(AgentState))
    pause_reason: Mapped[str | None] = mapped_column(String(100))
    campaign_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("campaigns.id", ondelete="SET NULL")
    )
    at: Mapped[datetime]

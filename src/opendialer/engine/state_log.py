"""The agent state history: one row each time an agent enters a state (the reports' source for
logged-in, ready, talk, wrap-up and pause times), written in the same transaction as the state."""

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from opendialer.models import AgentSession, AgentState, AgentStateChange


def record(session: Session, row: AgentSession, at: datetime) -> None:
    """The agent's row has just entered its current state (or pause reason) at ``at``."""
    session.add(
        AgentStateChange(
            tenant_id=row.tenant_id,
            user_id=row.user_id,
            state=row.state,
            pause_reason=row.pause_reason if row.state is AgentState.PAUSED else None,
            campaign_id=row.campaign_id,
            at=at,
        )
    )


def record_reserved(
    session: Session, user_id: int, state: AgentState, campaign_id: int, at: datetime
) -> None:
    """After a compare-and-set reservation, which left no ORM row at hand."""
    tenant_id = session.scalar(
        select(AgentSession.tenant_id).where(AgentSession.user_id == user_id)
    )
    if tenant_id is not None:
        session.add(
            AgentStateChange(
                tenant_id=tenant_id,
                user_id=user_id,
                state=state,
                campaign_id=campaign_id,
                at=at,
            )
        )

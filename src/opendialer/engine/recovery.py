"""After a crash: nothing stays claimed, and every open attempt gets a terminal state."""

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from opendialer.engine.outcomes import Ending, finish_attempt
from opendialer.models import (
    AgentSession,
    AgentState,
    CallAttempt,
    CallOutcome,
    Campaign,
    Contact,
    ContactStatus,
)

LOST_CALL_CAUSE = 41  # Q.850 temporary failure: the engine lost the call


def recover_engine(session: Session, engine_id: str, now: datetime) -> int:
    """Close this engine's open attempts as failed and free its contacts and agents.

    Returns how many attempts were closed. Safe to run at every start.
    """
    open_attempts = session.scalars(
        select(CallAttempt).where(CallAttempt.engine_id == engine_id, CallAttempt.outcome.is_(None))
    ).all()
    for attempt in open_attempts:
        campaign = session.get(Campaign, attempt.campaign_id) if attempt.campaign_id else None
        if campaign is not None:
            ending = Ending(CallOutcome.FAILED, now, cause_code=LOST_CALL_CAUSE)
            finish_attempt(session, campaign, attempt, ending)
    for contact in session.scalars(
        select(Contact).where(
            Contact.claimed_by == engine_id, Contact.status == ContactStatus.IN_CALL
        )
    ):
        contact.status, contact.claimed_by, contact.claimed_at = ContactStatus.PENDING, None, None
    for row in session.scalars(
        select(AgentSession).where(
            AgentSession.engine_id == engine_id,
            AgentSession.state.in_([AgentState.RESERVED, AgentState.PREVIEW, AgentState.ON_CALL]),
        )
    ):
        row.state, row.since = AgentState.WRAP_UP, now
        row.campaign_id = row.contact_id = row.call_attempt_id = None
    session.flush()
    return len(open_attempts)

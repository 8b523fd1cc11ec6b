"""After a crash: nothing stays claimed, and every open attempt gets a terminal state.

Every engine holds a lease (``engine_leases``) that it renews while it lives. At start an engine
closes what its own previous run left open (same ``engine_id``); while it runs it also closes what
engines whose lease ran out left open. Taking over a dead engine is a conditional delete of its
lease row, so when several engines notice at once exactly one of them does the work.
"""

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from opendialer.engine import state_log
from opendialer.engine.outcomes import Ending, campaign_rules, close
from opendialer.models import (
    AgentSession,
    AgentState,
    CallAttempt,
    CallOutcome,
    CampaignLease,
    Contact,
    ContactStatus,
    EngineLease,
)

log = logging.getLogger(__name__)

LOST_CALL_CAUSE = 41  # Q.850 temporary failure: the engine lost the call
BUSY_STATES = (AgentState.RESERVED, AgentState.PREVIEW, AgentState.ON_CALL)


@dataclass(frozen=True, slots=True)
class FreedAgent:
    tenant_id: int
    user_id: int
    campaign_id: int | None


@dataclass(slots=True)
class Recovered:
    """What one recovery pass closed and freed."""

    attempts: int = 0
    contacts: int = 0
    agents: list[FreedAgent] = field(default_factory=list)

    def add(self, other: "Recovered") -> None:
        self.attempts += other.attempts
        self.contacts += other.contacts
        self.agents.extend(other.agents)


def close_attempt(
    session: Session, attempt_id: int, campaign_id: int | None, ending: Ending
) -> None:
    """Close an attempt, also one whose campaign was deleted meanwhile (no retry rules then)."""
    campaign = campaign_rules(session, campaign_id) if campaign_id is not None else None
    if campaign is not None:
        close(session, campaign, attempt_id, ending)
        return
    session.execute(
        update(CallAttempt)
        .where(CallAttempt.id == attempt_id, CallAttempt.outcome.is_(None))
        .values(outcome=ending.outcome, ended_at=ending.at, cause_code=ending.cause_code)
        .execution_options(synchronize_session=False)
    )


def recover_engine(session: Session, engine_id: str, now: datetime) -> Recovered:
    """Close ``engine_id``'s open attempts as failed and free its contacts and agents.

    Idempotent; rows another transaction is recovering right now are skipped (PostgreSQL's
    ``SKIP LOCKED``; SQLite has one writer at a time anyway).
    """
    done = Recovered()
    open_attempts = session.scalars(
        select(CallAttempt)
        .where(CallAttempt.engine_id == engine_id, CallAttempt.outcome.is_(None))
        .with_for_update(skip_locked=True)
    ).all()
    for attempt in open_attempts:
        ending = Ending(CallOutcome.FAILED, now, cause_code=LOST_CALL_CAUSE)
        close_attempt(session, attempt.id, attempt.campaign_id, ending)
    done.attempts = len(open_attempts)
    for contact in session.scalars(
        select(Contact)
        .where(Contact.claimed_by == engine_id, Contact.status == ContactStatus.IN_CALL)
        .with_for_update(skip_locked=True)
    ):
        contact.status, contact.claimed_by, contact.claimed_at = ContactStatus.PENDING, None, None
        done.contacts += 1
    for row in session.scalars(
        select(AgentSession)
        .where(AgentSession.engine_id == engine_id, AgentSession.state.in_(BUSY_STATES))
        .with_for_update(skip_locked=True)
    ):
        done.agents.append(FreedAgent(row.tenant_id, row.user_id, row.campaign_id))
        row.state, row.since = AgentState.WRAP_UP, now
        row.campaign_id = row.contact_id = row.call_attempt_id = None
        state_log.record(session, row, now)
    # Its campaigns are free at once, not when their leases run out.
    session.execute(delete(CampaignLease).where(CampaignLease.engine_id == engine_id))
    session.flush()
    return done


def renew_lease(session: Session, engine_id: str, now: datetime, seconds: float) -> bool:
    """Extend this engine's lease; False when its row was gone (first start, or taken over)."""
    until = now + timedelta(seconds=seconds)
    renewed = session.execute(
        update(EngineLease)
        .where(EngineLease.engine_id == engine_id)
        .values(renewed_at=now, lease_until=until)
        .execution_options(synchronize_session=False)
    )
    if renewed.rowcount:  # type: ignore[attr-defined]
        return True
    session.add(EngineLease(engine_id=engine_id, started_at=now, renewed_at=now, lease_until=until))
    session.flush()
    return False


def give_up(session: Session, engine_id: str, now: datetime) -> Recovered:
    """A stopping engine: close what it still has open, give back its campaigns (as
    :func:`recover_engine` does) and its lease, so other engines take the campaigns over
    without waiting for a lease to run out."""
    freed = recover_engine(session, engine_id, now)
    session.execute(delete(EngineLease).where(EngineLease.engine_id == engine_id))
    return freed


def dead_engines(session: Session, now: datetime, unleased_too: bool = True) -> list[str]:
    """Engines whose lease ran out, and (``unleased_too``) engines with open work but no lease.

    Engines without a lease come from before leases existed: looking for them reads every open
    attempt, so an engine does it at start, not at each renewal.
    """
    leased = select(EngineLease.engine_id)
    expired = session.scalars(leased.where(EngineLease.lease_until < now)).all()
    if not unleased_too:
        return sorted(expired)
    unleased = (
        select(CallAttempt.engine_id)
        .where(CallAttempt.outcome.is_(None), CallAttempt.engine_id.not_in(leased))
        .union(
            select(Contact.claimed_by).where(
                Contact.status == ContactStatus.IN_CALL, Contact.claimed_by.not_in(leased)
            ),
            select(AgentSession.engine_id).where(
                AgentSession.state.in_(BUSY_STATES), AgentSession.engine_id.not_in(leased)
            ),
        )
    )
    orphans = [e for e in session.scalars(unleased).all() if e is not None]
    return sorted(set(expired) | set(orphans))


def take_over_dead(
    session: Session, engine_id: str, now: datetime, unleased_too: bool = True
) -> Recovered:
    """Close what dead engines left open; each dead lease is taken by one engine only."""
    done = Recovered()
    for dead in dead_engines(session, now, unleased_too):
        if dead == engine_id:
            continue
        row = session.get(EngineLease, dead)
        if row is not None:
            taken = session.execute(
                delete(EngineLease)
                .where(EngineLease.engine_id == dead, EngineLease.lease_until < now)
                .execution_options(synchronize_session=False)
            )
            session.expunge(row)
            if not taken.rowcount:  # type: ignore[attr-defined]
                continue  # renewed meanwhile, or another engine took it first
        freed = recover_engine(session, dead, now)
        log.warning(
            "engine %s took over dead engine %s: %d attempts closed, %d contacts and %d agents "
            "freed",
            engine_id,
            dead,
            freed.attempts,
            freed.contacts,
            len(freed.agents),
        )
        done.add(freed)
    return done

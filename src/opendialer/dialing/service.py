"""Running campaigns: start/stop with a clear state, live counts, rates."""

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, case, func, select
from sqlalchemy.orm import Session

from opendialer.agents.schemas import CallbackBody
from opendialer.agents.sessions import AgentCounts, agent_counts, campaign_agent_counts
from opendialer.contacts.service import require_agents_contact
from opendialer.crm import service as crm
from opendialer.dialing.recent_counts import CampaignCounts, RecentCounts
from opendialer.dialing.schemas import (
    AgentStateCount,
    CallCounts,
    CampaignRunState,
    ContactCounts,
    EngineHealth,
    LiveState,
    Rates,
)
from opendialer.engine.compliance import campaign_window_open, zone
from opendialer.engine.live import Phase
from opendialer.engine.outcomes import set_result_code
from opendialer.engine.runner import Engine
from opendialer.errors import BadRequest, Conflict, NotFound
from opendialer.models import (
    AgentSession,
    AgentState,
    CallAttempt,
    CallOutcome,
    Campaign,
    CampaignMember,
    CampaignStatus,
    Contact,
    ContactStatus,
    ResultCode,
)
from opendialer.scoping import Scope, get_owned, require_self

LIVE_OUTCOMES = (CallOutcome.CONNECTED, CallOutcome.ABANDONED)


def _count(session: Session, stmt: Select[Any]) -> int:
    return int(session.scalar(stmt) or 0)


def run_state(
    session: Session,
    campaign: Campaign,
    now: datetime,
    *,
    agents: AgentCounts | None = None,
    contacts: ContactCounts | None = None,
) -> CampaignRunState:
    """Why the campaign is or is not dialling right now, in one word and one sentence.

    ``agents`` and ``contacts``: counts the caller already has (else they are queried)."""

    def state(name: str, message: str) -> CampaignRunState:
        return CampaignRunState(
            campaign_id=campaign.id, status=campaign.status, state=name, message=message
        )

    if campaign.status is not CampaignStatus.ENABLED:
        return state("disabled", "The campaign is stopped.")
    members = _count(
        session,
        select(func.count())
        .select_from(CampaignMember)
        .where(CampaignMember.campaign_id == campaign.id),
    )
    if members == 0:
        return state("no_members", "Add agents to the campaign: it has no members.")
    if not campaign_window_open(campaign, now):
        return state("outside_hours", "Outside the campaign's dates, days or calling hours.")
    agents = agents if agents is not None else campaign_agent_counts(session, campaign.id)
    if agents.logged_in == 0:
        return state("no_agents_logged_in", "No member is logged in.")
    contacts = contacts if contacts is not None else contact_counts(session, campaign.id, now)
    if contacts.due == 0:
        return state("no_eligible_contacts", "No contact is due to be dialled now.")
    return state("running", "Dialling.")


def set_status(
    session: Session, campaign: Campaign, status: CampaignStatus, now: datetime
) -> CampaignRunState:
    changed = campaign.status is not status
    campaign.status = status
    if changed:
        crm.enqueue_campaign_status(session, campaign, status is CampaignStatus.ENABLED, now)
    session.flush()
    return run_state(session, campaign, now)


def contact_counts(session: Session, campaign_id: int, now: datetime) -> ContactCounts:
    pending = Contact.status == ContactStatus.PENDING
    row = session.execute(
        select(
            func.count(case((pending & Contact.locked.is_(False), 1))),
            func.count(
                case((pending & Contact.locked.is_(False) & (Contact.next_try_at <= now), 1))
            ),
            func.count(case((Contact.status == ContactStatus.IN_CALL, 1))),
            func.count(case((Contact.status == ContactStatus.DONE, 1))),
            func.count(case((Contact.locked.is_(True), 1))),
        ).where(Contact.campaign_id == campaign_id)
    ).one()
    return ContactCounts(pending=row[0], due=row[1], in_call=row[2], done=row[3], locked=row[4])


def rates(session: Session, campaign_id: int, *since: datetime) -> list[Rates]:
    """The rates since each of ``since``, in one query. Abandoned ÷ live answers as FTC/Ofcom
    count it; live = connected or abandoned."""
    columns = []
    for start in since:
        counted = CallAttempt.started_at >= start
        columns += [
            func.count(case((counted, 1))),
            func.count(case((counted & CallAttempt.outcome.in_(LIVE_OUTCOMES), 1))),
            func.count(case((counted & (CallAttempt.outcome == CallOutcome.ABANDONED), 1))),
        ]
    row = session.execute(
        select(*columns).where(
            CallAttempt.campaign_id == campaign_id, CallAttempt.started_at >= min(since)
        )
    ).one()
    return [_rates(int(row[i]), int(row[i + 1]), int(row[i + 2])) for i in range(0, len(row), 3)]


def _rates(attempts: int, live: int, abandoned: int) -> Rates:
    return Rates(
        attempts=attempts,
        live_answers=live,
        abandoned=abandoned,
        answer_rate=live / attempts if attempts else None,
        abandonment=abandoned / live if live else None,
    )


def local_midnight(campaign: Campaign, now: datetime) -> datetime:
    local = now.astimezone(zone(campaign.timezone))
    return local.replace(hour=0, minute=0, second=0, microsecond=0)


def call_counts(engine: Engine | None, campaign_id: int) -> CallCounts | None:
    if engine is None:
        return None
    # list() copies in one step: the loop changes the dict while this runs in a worker thread.
    calls = [c for c in list(engine.calls.values()) if c.campaign_id == campaign_id]
    dialling = [c for c in calls if c.phase is Phase.DIALLING]
    return CallCounts(
        dialling=sum(1 for c in dialling if c.alerted_at is None),
        ringing=sum(1 for c in dialling if c.alerted_at is not None),
        waiting=sum(1 for c in calls if c.phase is Phase.WAITING),
        talking=sum(1 for c in calls if c.phase in (Phase.CONNECTING, Phase.TALKING)),
    )


def engine_health(engine: Engine | None) -> EngineHealth | None:
    if engine is None:
        return None
    lateness = engine.tick_lateness

    def ms(fraction: float) -> float | None:
        seconds = lateness.percentile(fraction)
        return None if seconds is None else round(seconds * 1000, 1)

    return EngineHealth(
        ticks=lateness.ticks,
        tick_lateness_p50_ms=ms(0.50),
        tick_lateness_p99_ms=ms(0.99),
        tick_lateness_max_ms=ms(1.0),
        unwritten_endings=engine.unwritten,
    )


def agent_states(session: Session, campaign_id: int) -> list[AgentStateCount]:
    rows = session.execute(
        select(AgentSession.state, func.count())
        .join(CampaignMember, CampaignMember.user_id == AgentSession.user_id)
        .where(CampaignMember.campaign_id == campaign_id)
        .group_by(AgentSession.state)
        .order_by(AgentSession.state)
    ).all()
    return [AgentStateCount(state=AgentState(s), count=int(n)) for s, n in rows]


def campaign_counts(session: Session, campaign: Campaign, now: datetime) -> CampaignCounts:
    """The live view's counts that read the campaign's every contact and recent attempt."""
    today, last_30_days = rates(
        session, campaign.id, local_midnight(campaign, now), now - timedelta(days=30)
    )
    return CampaignCounts(contact_counts(session, campaign.id, now), today, last_30_days)


def live_state(
    session: Session,
    campaign: Campaign,
    now: datetime,
    engine: Engine | None,
    recent: RecentCounts | None = None,
) -> LiveState:
    """``recent``: the counts of the last moment may be reused (``RecentCounts``); the agents
    and the engine's calls are always read now."""
    agents = agent_states(session, campaign.id)
    counts = agent_counts({row.state: row.count for row in agents})
    figures = (
        campaign_counts(session, campaign, now)
        if recent is None
        else recent.get(campaign.id, lambda: campaign_counts(session, campaign, now))
    )
    return LiveState(
        campaign_id=campaign.id,
        at=now,
        run=run_state(session, campaign, now, agents=counts, contacts=figures.contacts),
        contacts=figures.contacts,
        calls=call_counts(engine, campaign.id),
        engine=engine_health(engine),
        agents=agents,
        occupancy=counts.busy / counts.logged_in if counts.logged_in else None,
        today=figures.today,
        last_30_days=figures.last_30_days,
    )


def set_result(
    session: Session, scope: Scope, *, user_id: int, attempt_id: int, code_id: int, now: datetime
) -> int | None:
    """The agent's result code for one of their calls; it decides the contact's next step.

    Returns the campaign when the code newly says the call reached an answering machine: that
    campaign's pacing counts only people, so it wants to know.
    """
    require_self(scope, user_id)
    attempt = get_owned(session, CallAttempt, scope, attempt_id, "call_attempt")
    if attempt.user_id != user_id:
        raise Conflict("That call was not handled by this agent", code="not_your_call")
    code = session.get(ResultCode, code_id)
    if code is None or code.campaign_id != attempt.campaign_id:
        raise NotFound("result_code", code_id)
    before = session.get(ResultCode, attempt.result_code_id) if attempt.result_code_id else None
    campaign = session.get_one(Campaign, attempt.campaign_id)
    set_result_code(session, campaign, attempt, code, now)
    newly = code.answering_machine and not (before is not None and before.answering_machine)
    return campaign.id if newly else None


def schedule_callback(
    session: Session, scope: Scope, body: CallbackBody, *, user_id: int, now: datetime
) -> Contact:
    """Call the contact back at ``body.at``: for this agent only, or for anyone in the campaign."""
    require_self(scope, user_id)
    contact = get_owned(session, Contact, scope, body.contact_id, "contact")
    require_agents_contact(session, scope, contact.id)
    member = session.get(CampaignMember, (contact.campaign_id, user_id))
    if member is None:
        raise Conflict("The agent is not a member of the contact's campaign", code="not_a_member")
    if contact.status is ContactStatus.IN_CALL:
        raise Conflict("The contact is in a call right now", code="contact_in_call")
    if body.at <= now:
        raise BadRequest("A callback must be in the future", code="callback_in_past")
    contact.status = ContactStatus.PENDING
    contact.next_try_at = contact.follow_up_at = body.at
    contact.follow_up_user_id = user_id
    contact.reserved_user_id = user_id if body.personal else None
    if body.note:
        contact.comment = body.note
    session.flush()
    return contact

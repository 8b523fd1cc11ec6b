"""Delivering due ACD events to agents (the rule the engine applies on its clock).

- Due: status New and no appointment, or an appointment at or before now.
- Order: highest ``priority`` first, then earliest appointment (none first), then oldest.
- Agent: the event's named user if they are a ready member of the event's group, else the
  group's ready member who has been ready longest. An agent holds one offered (Seen) event at
  a time; events nobody can take now wait for the next pass.
- Offering moves the event New -> Seen. A callback with a number (a linked contact, or else the
  ``Sender``, the customer's E.164 number) is dialled for that agent through the engine's
  personal-callback path: the contact gets ``reserved_user_id`` = the agent and is due now, so
  the campaign runner rings the agent first, then the customer. Its event becomes Done when a
  call to it after the offer connects, Error when the contact runs out of tries unreached.
  Events that are not dialled stay Seen until the agent completes them (Done).
"""

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Select, or_, select
from sqlalchemy.orm import Session

from opendialer.acd import service
from opendialer.acd.schemas import AcdEventType, AcdStatus
from opendialer.contacts.schemas import ContactCreate
from opendialer.contacts.service import create_contact
from opendialer.models import (
    AcdEvent,
    AgentGroupMember,
    AgentSession,
    AgentState,
    CallAttempt,
    CallOutcome,
    Campaign,
    CampaignMember,
    Contact,
    ContactStatus,
    Tenant,
)
from opendialer.phones import normalize
from opendialer.scoping import Scope

PASS_LIMIT = 200  # events looked at per pass; the rest wait for the next one


@dataclass(frozen=True, slots=True)
class Offer:
    event_id: int
    user_id: int
    contact_id: int | None  # the contact the engine will dial for the agent, if any


def due_events(session: Session, now: datetime, tenant_ids: set[int]) -> list[AcdEvent]:
    stmt = (
        select(AcdEvent)
        .where(
            AcdEvent.tenant_id.in_(tenant_ids),
            AcdEvent.status_id == int(AcdStatus.NEW),
            or_(AcdEvent.appointment_at.is_(None), AcdEvent.appointment_at <= now),
        )
        .order_by(
            AcdEvent.priority.desc(),
            AcdEvent.appointment_at.asc().nulls_first(),
            AcdEvent.id,
        )
        .limit(PASS_LIMIT)
    )
    return list(session.scalars(stmt))


def _ready_group_members(event: AcdEvent, campaign_id: int | None) -> Select[int]:
    holding = select(AcdEvent.offered_user_id).where(
        AcdEvent.status_id == int(AcdStatus.SEEN), AcdEvent.offered_user_id.is_not(None)
    )
    stmt = (
        select(AgentSession.user_id)
        .join(AgentGroupMember, AgentGroupMember.user_id == AgentSession.user_id)
        .where(
            AgentGroupMember.group_id == event.group_id,
            AgentSession.tenant_id == event.tenant_id,
            AgentSession.state == AgentState.READY,
            AgentSession.user_id.not_in(holding),
        )
    )
    if campaign_id is not None:  # a dialled callback needs an agent the campaign may use
        stmt = stmt.join(CampaignMember, CampaignMember.user_id == AgentSession.user_id).where(
            CampaignMember.campaign_id == campaign_id
        )
    return stmt.order_by(AgentSession.since, AgentSession.user_id)


def pick_agent(session: Session, event: AcdEvent, campaign_id: int | None) -> int | None:
    """The named user if ready, else the longest-ready member of the group; None if nobody."""
    ready = list(session.scalars(_ready_group_members(event, campaign_id)))
    if event.user_id is not None and event.user_id in ready:
        return event.user_id
    return ready[0] if ready else None


def _group_campaign(session: Session, event: AcdEvent, running: set[int]) -> Campaign | None:
    if event.campaign_id is not None and event.campaign_id in running:
        return session.get(Campaign, event.campaign_id)
    stmt = select(Campaign).where(
        Campaign.tenant_id == event.tenant_id,
        Campaign.agent_group_id == event.group_id,
        Campaign.id.in_(running),
    )
    return session.scalars(stmt.order_by(Campaign.id).limit(1)).first()


def dial_campaign(session: Session, event: AcdEvent, running: set[int]) -> Campaign | None:
    """The running campaign that will dial this callback; None: offered without dialling."""
    if event.type_id != AcdEventType.CALLBACK:
        return None
    if event.contact_id is not None:
        contact = session.get(Contact, event.contact_id)
        if contact is None or contact.campaign_id not in running:
            return None
        return session.get(Campaign, contact.campaign_id)
    tenant = session.get_one(Tenant, event.tenant_id)
    if not event.sender or normalize(event.sender, tenant.default_region).e164 is None:
        return None
    return _group_campaign(session, event, running)


def _callback_contact(
    session: Session, event: AcdEvent, campaign: Campaign, user_id: int, now: datetime
) -> Contact:
    """The contact to dial for the agent: the linked one, or a new one for the sender."""
    if event.contact_id is not None:
        contact = session.get_one(Contact, event.contact_id)
        contact.reserved_user_id = contact.follow_up_user_id = user_id
        contact.follow_up_at = contact.next_try_at = now
        if contact.status is ContactStatus.DONE:
            contact.status = ContactStatus.PENDING
        return contact
    data = ContactCreate(
        name=(event.subject or "Callback")[:255],
        user_data=event.user_data,
        phones=[event.sender or ""],
        next_try_at=now,
        reserved_user_id=user_id,
        follow_up_user_id=user_id,
        follow_up_at=now,
    )
    contact = create_contact(session, Scope.system(event.tenant_id), campaign, data)
    event.contact_id, event.campaign_id = contact.id, campaign.id
    return contact


def deliver_due(
    session: Session, now: datetime, tenant_ids: set[int], running: set[int]
) -> list[Offer]:
    """Offer every due event somebody can take now (see the module docstring)."""
    offers: list[Offer] = []
    for event in due_events(session, now, tenant_ids):
        campaign = dial_campaign(session, event, running)
        user_id = pick_agent(session, event, campaign.id if campaign else None)
        if user_id is None:
            continue
        contact_id = None
        if campaign is not None:
            contact_id = _callback_contact(session, event, campaign, user_id, now).id
        service.offer(session, event, user_id, now)
        offers.append(Offer(event.id, user_id, contact_id))
    return offers


def settle_dialled(session: Session, now: datetime, tenant_ids: set[int]) -> int:
    """Close offered callbacks whose calls are over: Done when one connected after the offer,
    Error when the contact is finished without that. Returns how many were closed."""
    stmt = select(AcdEvent).where(
        AcdEvent.tenant_id.in_(tenant_ids),
        AcdEvent.status_id == int(AcdStatus.SEEN),
        AcdEvent.type_id == int(AcdEventType.CALLBACK),
        AcdEvent.contact_id.is_not(None),
        AcdEvent.offered_at.is_not(None),
    )
    closed = 0
    for event in session.scalars(stmt.order_by(AcdEvent.id)).all():
        closed += _settle(session, event, now)
    return closed


def _settle(session: Session, event: AcdEvent, now: datetime) -> int:
    assert event.offered_at is not None
    connected = session.scalars(
        select(CallAttempt.ended_at)
        .where(
            CallAttempt.contact_id == event.contact_id,
            CallAttempt.started_at >= event.offered_at,
            CallAttempt.outcome == CallOutcome.CONNECTED,
            CallAttempt.ended_at.is_not(None),
        )
        .order_by(CallAttempt.id)
        .limit(1)
    ).first()
    if connected is not None:
        service.complete(session, event, connected)
        return 1
    contact = session.get(Contact, event.contact_id) if event.contact_id else None
    if contact is None or contact.status is ContactStatus.DONE:
        service.fail(session, event, now, "callback not reached")
        return 1
    return 0

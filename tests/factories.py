"""One maker for each thing tests build often: campaigns, contacts, agents, call attempts.

Each adds its row through the session given and flushes, so the row has its id; the caller's
transaction decides whether it is committed. Campaigns are made by the campaigns service (its
rules and defaults apply); the others are rows as the engine would have left them."""

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from itertools import count
from typing import Any

from sqlalchemy.orm import Session

from opendialer.agents import sessions as agent_sessions
from opendialer.campaigns.schemas import CampaignCreate
from opendialer.campaigns.service import add_member, create_campaign
from opendialer.engine.agent_state import AgentEvent
from opendialer.models import CallAttempt, Campaign, Contact, ContactPhone, User, UserRole
from opendialer.scoping import Scope

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)  # Monday 11:00 in Berlin
EVERY_DAY = [1, 2, 3, 4, 5, 6, 7]
_usernames = count(1)


def make_campaign(session: Session, tenant_id: int, name: str = "C", **fields: Any) -> Campaign:
    """Enabled, predictive, 09:00-20:00 every day, unless ``fields`` say otherwise."""
    values: dict[str, Any] = {"dial_mode": "predictive", "status": "enabled"}
    values |= {"calling_days": EVERY_DAY, **fields}
    return create_campaign(session, Scope.system(tenant_id), CampaignCreate(name=name, **values))


def make_contact(session: Session, campaign: Campaign, *numbers: str, **fields: object) -> Contact:
    """Due an hour before ``NOW`` unless ``next_try_at`` is given; ``numbers`` in E.164."""
    fields.setdefault("next_try_at", NOW - timedelta(hours=1))
    contact = Contact(tenant_id=campaign.tenant_id, campaign_id=campaign.id, **fields)
    contact.phones = [
        ContactPhone(
            tenant_id=campaign.tenant_id, campaign_id=campaign.id, position=i, raw=n, e164=n
        )
        for i, n in enumerate(numbers, start=1)
    ]
    session.add(contact)
    session.flush()
    return contact


def make_agent(
    session: Session,
    tenant_id: int,
    username: str | None = None,
    *,
    campaigns: Iterable[Campaign] = (),
    ready_at: datetime | None = None,
) -> User:
    """An agent (a unique name unless given), member of ``campaigns``; logged in and ready
    at ``ready_at`` when it is given."""
    user = User(
        tenant_id=tenant_id,
        username=username or f"agent-{next(_usernames)}",
        role=UserRole.AGENT,
    )
    session.add(user)
    session.flush()
    for campaign in campaigns:
        add_member(session, campaign, user.id)
    if ready_at is not None:
        scope = Scope.system(tenant_id)
        for event in (AgentEvent.LOGIN, AgentEvent.READY):
            agent_sessions.act(session, scope, user_id=user.id, event=event, at=ready_at)
    return user


def make_attempt(
    session: Session,
    tenant_id: int,
    *,
    b_number: str = "+4930123456",
    **fields: Any,
) -> CallAttempt:
    """A call attempt with the columns given (campaign, contact, times, outcome, ...)."""
    attempt = CallAttempt(tenant_id=tenant_id, b_number=b_number, **fields)
    session.add(attempt)
    session.flush()
    return attempt

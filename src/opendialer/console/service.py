"""The agent console's rules: what an agent sees of their call, and their actions, through the
same services the native API calls (agents' state machine, result codes, callbacks, contacts).

An agent reaches only their own state and the contact of their own current or previewed call:
every action takes the ids from their agent session, never from the request.
"""

import re
from collections import Counter, defaultdict
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from urllib.parse import quote
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from opendialer.agents import sessions as agent_sessions
from opendialer.agents.schemas import CallbackBody
from opendialer.campaigns.service import list_form_fields, list_result_codes
from opendialer.console.push import Bridged
from opendialer.console.schemas import (
    AgentNow,
    CallbackRequest,
    CallCard,
    CampaignBrief,
    ConsoleState,
    ConsoleUser,
    ContactCard,
    FormFieldCard,
    FormRequest,
    ModuleLink,
    MyDay,
    PastAttempt,
    ResultChoice,
    ResultCount,
)
from opendialer.contacts.schemas import ContactRead, ContactUpdate
from opendialer.contacts.service import update_contact
from opendialer.dialing import service as dialing
from opendialer.engine.agent_state import AgentEvent
from opendialer.errors import BadRequest, Conflict, Forbidden
from opendialer.models import (
    AgentSession,
    AgentState,
    CallAttempt,
    Campaign,
    CampaignMember,
    Contact,
    ResultCode,
    Tenant,
    User,
    UserRole,
)
from opendialer.phones import time_zones
from opendialer.reports.service import state_intervals
from opendialer.scoping import Scope

DEFAULT_PAUSE_REASONS = ("break", "lunch", "training", "meeting")
# The states a bridge leaves for on_call (the engine's write may still be on its way).
_BRIDGEABLE = frozenset({AgentState.RESERVED, AgentState.PREVIEW, AgentState.ON_CALL})
HISTORY_LENGTH = 20
_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
_TEXT_FIELDS = (
    "salutation", "title", "first_name", "name", "company", "address", "street_number",
    "address_extra", "postal_code", "city", "country", "region", "email", "website",
    "external_id", "user_data", "user_data2", "user_data3", "client", "service",
    "reference_number", "tag",
)  # fmt: skip


def agent_id(scope: Scope) -> int:
    """The agent console is an agent's own: a signed-in user with the agent role (403)."""
    if scope.user_id is None or scope.role is not UserRole.AGENT:
        raise Forbidden("The agent console is for a signed-in agent")
    return scope.user_id


def pause_reasons(tenant: Tenant) -> list[str]:
    return list(tenant.pause_reasons or DEFAULT_PAUSE_REASONS)


def fill(template: str, values: Mapping[str, str], escape: Callable[[str], str] = str) -> str:
    """``{field}`` placeholders filled from ``values`` (escaped); unknown ones stay as written."""

    def one(match: re.Match[str]) -> str:
        value = values.get(match.group(1))
        return match.group(0) if value is None else escape(value)

    return _PLACEHOLDER.sub(one, template)


def url_part(value: str) -> str:
    """A contact's value inside a URL template: every reserved character escaped."""
    return quote(value, safe="")


def contact_values(contact: Contact) -> dict[str, str]:
    values = {k: str(v) for k, v in contact.custom_data.items() if v is not None}
    for field in _TEXT_FIELDS:
        value = getattr(contact, field)
        values[field] = "" if value is None else str(value)
    values["id"] = str(contact.id)
    return values


def contact_zone(contact: Contact, campaign: Campaign) -> str:
    """The contact's time zone: their first number's (when it has one), else the campaign's."""
    for phone in sorted(contact.phones, key=lambda p: p.position):
        zones = time_zones(phone.e164) if phone.e164 else ()
        if zones:
            return zones[0]
    return campaign.timezone


def _contact_card(contact: Contact, zone: str) -> ContactCard:
    shown = ContactRead.model_validate(contact).model_dump()
    return ContactCard(**shown, time_zone=zone)


def _history(session: Session, contact_id: int) -> list[PastAttempt]:
    rows = session.execute(
        select(CallAttempt, ResultCode.text_en, User.username)
        .outerjoin(ResultCode, ResultCode.id == CallAttempt.result_code_id)
        .outerjoin(User, User.id == CallAttempt.user_id)
        .where(CallAttempt.contact_id == contact_id)
        .order_by(CallAttempt.started_at.desc(), CallAttempt.id.desc())
        .limit(HISTORY_LENGTH)
    ).all()
    return [
        PastAttempt(
            started_at=a.started_at, number=a.b_number, outcome=a.outcome, result=r, agent=u
        )
        for a, r, u in rows
    ]


def _until(since: datetime, seconds: int | None) -> datetime | None:
    return None if seconds is None else since + timedelta(seconds=seconds)


def call_card(session: Session, row: AgentSession, bridged: Bridged | None) -> CallCard | None:
    """The contact of the agent's current, previewed or wrapped-up call, with what they need."""
    if row.contact_id is None or row.campaign_id is None:
        return None
    contact = session.get_one(Contact, row.contact_id)
    campaign = session.get_one(Campaign, row.campaign_id)
    values = contact_values(contact)
    attempt = session.get(CallAttempt, row.call_attempt_id) if row.call_attempt_id else None
    return CallCard(
        campaign=CampaignBrief.model_validate(campaign),
        call_attempt_id=row.call_attempt_id,
        contact=_contact_card(contact, contact_zone(contact, campaign)),
        script=fill(campaign.script, values) if campaign.script else None,
        modules=[
            ModuleLink(
                name=m["name"],
                url=fill(m["url"], values, url_part),
                open_in=m.get("open_in", "frame"),
            )
            for m in campaign.modules or []
        ],
        form_fields=[FormFieldCard.model_validate(f) for f in list_form_fields(session, campaign)],
        result_codes=[
            ResultChoice(id=c.id, code=c.code, text=c.text_en)
            for c in list_result_codes(session, campaign)
        ],
        result_code_id=attempt.result_code_id if attempt is not None else None,
        history=_history(session, contact.id),
        preview_until=_until(row.since, campaign.preview_seconds)
        if row.state is AgentState.PREVIEW
        else None,
        wrap_up_until=_until(row.since, campaign.wrap_up_seconds)
        if row.state is AgentState.WRAP_UP
        else None,
        bridged_at=bridged.at if bridged is not None else None,
    )


def _state_seconds(
    session: Session, scope: Scope, user_id: int, since: datetime, now: datetime
) -> defaultdict[AgentState, float]:
    """Seconds the agent spent in each state in [since, now), from their state history."""
    seconds: defaultdict[AgentState, float] = defaultdict(float)
    for part in state_intervals(session, scope, since, now, user_id):
        seconds[part.state] += (part.end - part.start).total_seconds()
    return seconds


def my_day(session: Session, scope: Scope, user_id: int, tenant: Tenant, now: datetime) -> MyDay:
    """The agent's day since midnight in the tenant's time zone: connected calls and their
    results, talk time, and from the state history the time waiting (ready) and paused."""
    midnight = now.astimezone(ZoneInfo(tenant.timezone)).replace(
        hour=0, minute=0, second=0, microsecond=0
    )
    rows = session.execute(
        select(CallAttempt.connected_at, CallAttempt.ended_at, ResultCode.text_en)
        .outerjoin(ResultCode, ResultCode.id == CallAttempt.result_code_id)
        .where(
            CallAttempt.user_id == user_id,
            CallAttempt.connected_at.is_not(None),
            CallAttempt.connected_at >= midnight.astimezone(UTC),
        )
    ).all()
    talk = sum(
        ((ended or now) - connected).total_seconds() for connected, ended, _ in rows if connected
    )
    results = Counter(text for _, _, text in rows if text)
    states = _state_seconds(session, scope, user_id, midnight.astimezone(UTC), now)
    return MyDay(
        calls=len(rows),
        talk_seconds=round(talk, 1),
        wait_seconds=round(states[AgentState.READY], 1),
        pause_seconds=round(states[AgentState.PAUSED], 1),
        results=[ResultCount(result=r, count=n) for r, n in sorted(results.items())],
    )


def member_campaigns(session: Session, user_id: int) -> list[CampaignBrief]:
    rows = session.scalars(
        select(Campaign)
        .join(CampaignMember, CampaignMember.campaign_id == Campaign.id)
        .where(CampaignMember.user_id == user_id)
        .order_by(Campaign.name)
    )
    return [CampaignBrief.model_validate(c) for c in rows]


def _on_call(row: AgentSession, bridged: Bridged | None) -> Bridged | None:
    """The agent's bridged call when their row is (or, not written yet, will be) on it."""
    if bridged is None or bridged.attempt_id != row.call_attempt_id:
        return None
    return bridged if row.state in _BRIDGEABLE else None


def _agent_now(row: AgentSession, on_call: Bridged | None) -> AgentNow:
    now = AgentNow.model_validate(row)
    if on_call is None or row.state is AgentState.ON_CALL:
        return now
    return now.model_copy(update={"state": AgentState.ON_CALL, "since": on_call.at})


def console_state(
    session: Session, scope: Scope, now: datetime, bridged: Bridged | None = None
) -> ConsoleState:
    """The agent's console. ``bridged``: their call as the engine knows it in memory, which
    shows them on it before the engine has written it."""
    user_id = agent_id(scope)
    row = agent_sessions.agent_session(session, scope, user_id=user_id)
    on_call = _on_call(row, bridged)
    user = session.get_one(User, user_id)
    tenant = session.get_one(Tenant, scope.tenant_id)
    return ConsoleState(
        now=now,
        user=ConsoleUser.model_validate(user),
        agent=_agent_now(row, on_call),
        campaigns=member_campaigns(session, user_id),
        pause_reasons=pause_reasons(tenant),
        call=call_card(session, row, on_call),
        my_day=my_day(session, scope, user_id, tenant, now),
    )


def change_state(session: Session, scope: Scope, event: AgentEvent, now: datetime) -> None:
    """Log in, ready or log out: the agent state machine's rules (409 when not allowed)."""
    agent_sessions.act(session, scope, event, user_id=agent_id(scope), at=now)


def pause(session: Session, scope: Scope, reason: str, now: datetime) -> None:
    tenant = session.get_one(Tenant, scope.tenant_id)
    allowed = pause_reasons(tenant)
    if reason not in allowed:
        raise BadRequest(
            "Pick one of the tenant's pause reasons",
            code="unknown_pause_reason",
            details={"allowed": allowed},
        )
    agent_sessions.act(
        session, scope, AgentEvent.PAUSE, user_id=agent_id(scope), at=now, reason=reason
    )


def _current(session: Session, scope: Scope) -> AgentSession:
    return agent_sessions.agent_session(session, scope, user_id=agent_id(scope))


def _current_call(session: Session, scope: Scope) -> tuple[AgentSession, int]:
    row = _current(session, scope)
    if row.call_attempt_id is None:
        raise Conflict("You have no call right now", code="no_call")
    return row, row.call_attempt_id


def set_result(session: Session, scope: Scope, code_id: int, now: datetime) -> int | None:
    """The result code of the agent's current or wrapped-up call (see dialing.set_result)."""
    row, attempt_id = _current_call(session, scope)
    return dialing.set_result(
        session, scope, user_id=row.user_id, attempt_id=attempt_id, code_id=code_id, now=now
    )


def _current_contact(session: Session, scope: Scope) -> int:
    contact_id = _current(session, scope).contact_id
    if contact_id is None:
        raise Conflict("You have no contact on screen", code="no_contact")
    return contact_id


def save_form(session: Session, scope: Scope, body: FormRequest) -> None:
    """The order form and notes of the contact on the agent's screen (contacts' own checks)."""
    changes: dict[str, object] = {"form_data": body.form_data}
    if body.notes is not None:
        changes["comment"] = body.notes
    update = ContactUpdate.model_validate(changes)
    update_contact(session, scope, _current_contact(session, scope), update)


def schedule_callback(
    session: Session, scope: Scope, body: CallbackRequest, now: datetime
) -> datetime:
    """A callback at the date and time the agent gave, read in the contact's time zone."""
    contact = session.get_one(Contact, _current_contact(session, scope))
    campaign = session.get_one(Campaign, contact.campaign_id)
    at = datetime.combine(body.date, body.time, ZoneInfo(contact_zone(contact, campaign)))
    callback = CallbackBody(
        contact_id=contact.id, at=at, personal=body.personal, note=body.note or None
    )
    dialing.schedule_callback(session, scope, callback, user_id=agent_id(scope), now=now)
    return at

"""The ACD rules: creation, no-duplicates, the delivery order, the agent choice, settling."""

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.orm import Session

from opendialer.accounts.service import NewTenant
from opendialer.acd import delivery, service
from opendialer.acd.schemas import AcdEventCreate, AcdEventType, AcdStatus
from opendialer.agents import sessions as agent_sessions
from opendialer.campaigns.schemas import CampaignCreate
from opendialer.campaigns.service import add_member, create_campaign
from opendialer.engine.agent_state import AgentEvent
from opendialer.errors import Conflict, NotFound
from opendialer.models import (
    AcdEvent,
    AgentGroup,
    AgentGroupMember,
    CallOutcome,
    Campaign,
    Contact,
    ContactStatus,
    User,
    UserRole,
)
from opendialer.scoping import Scope
from tests.factories import make_attempt

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)


def _group(session: Session, tenant: NewTenant, name: str = "G", **kw: bool) -> AgentGroup:
    group = AgentGroup(tenant_id=tenant.tenant.id, name=name, **kw)
    session.add(group)
    session.flush()
    return group


def _agent(
    session: Session, tenant: NewTenant, group: AgentGroup, name: str, ready_since: datetime | None
) -> int:
    """An agent in ``group``; ready since ``ready_since``, or logged in but paused."""
    user = User(tenant_id=tenant.tenant.id, username=name, role=UserRole.AGENT)
    session.add(user)
    session.flush()
    session.add(AgentGroupMember(group_id=group.id, user_id=user.id))
    agent_sessions.act(
        session,
        Scope.system(tenant.tenant.id),
        user_id=user.id,
        event=AgentEvent.LOGIN,
        at=NOW - timedelta(hours=1),
    )
    if ready_since is not None:
        agent_sessions.act(
            session,
            Scope.system(tenant.tenant.id),
            user_id=user.id,
            event=AgentEvent.READY,
            at=ready_since,
        )
    return user.id


def _event(session: Session, tenant: NewTenant, group: AgentGroup, **kw: object) -> AcdEvent:
    values: dict[str, object] = {
        "type_id": AcdEventType.TICKET,
        "group_id": group.id,
        "sender": "customer@example.com",
        "subject": "Something",
    }
    values.update(kw)
    event, _ = service.create_event(
        session, Scope.system(tenant.tenant.id), AcdEventCreate(**values), NOW
    )
    return event


def _deliver(session: Session, tenant: NewTenant, running: set[int] | None = None) -> list[int]:
    offers = delivery.deliver_due(session, NOW, {tenant.tenant.id}, running or set())
    return [o.event_id for o in offers]


def test_higher_priority_first_then_earlier_appointment(
    session: Session, tenant: NewTenant
) -> None:
    group = _group(session, tenant)
    _agent(session, tenant, group, "only", NOW - timedelta(minutes=5))
    low = _event(session, tenant, group, priority=10)
    late = _event(session, tenant, group, priority=90, appointment_at=NOW - timedelta(minutes=1))
    early = _event(session, tenant, group, priority=90, appointment_at=NOW - timedelta(hours=1))
    _event(session, tenant, group, priority=200, appointment_at=NOW + timedelta(minutes=1))
    # one agent holds one offered event at a time: they come one per completion
    order = []
    for _ in range(3):
        (offered,) = _deliver(session, tenant)
        order.append(offered)
        service.complete(session, session.get_one(AcdEvent, offered), NOW)
    assert order == [early.id, late.id, low.id]
    assert _deliver(session, tenant) == []  # the top-priority one is not due yet


def test_named_user_if_ready_else_longest_ready_member(session: Session, tenant: NewTenant) -> None:
    group = _group(session, tenant)
    veteran = _agent(session, tenant, group, "veteran", NOW - timedelta(minutes=30))
    named = _agent(session, tenant, group, "named", NOW - timedelta(minutes=1))
    paused = _agent(session, tenant, group, "paused", None)
    for_named = _event(session, tenant, group, user_id=named, priority=60)
    for_paused = _event(session, tenant, group, user_id=paused, priority=50)
    assert _deliver(session, tenant) == [for_named.id, for_paused.id]
    assert session.get_one(AcdEvent, for_named.id).offered_user_id == named
    assert session.get_one(AcdEvent, for_paused.id).offered_user_id == veteran
    assert session.get_one(AcdEvent, for_named.id).status_id == AcdStatus.SEEN


def test_agents_of_other_groups_and_tenants_are_not_used(
    session: Session, tenant: NewTenant, other_tenant: NewTenant
) -> None:
    group, elsewhere = _group(session, tenant, "G"), _group(session, tenant, "H")
    _agent(session, tenant, elsewhere, "elsewhere", NOW - timedelta(minutes=5))
    foreign_group = _group(session, other_tenant, "G")
    _agent(session, other_tenant, foreign_group, "foreign", NOW - timedelta(minutes=5))
    event = _event(session, tenant, group)
    assert _deliver(session, tenant) == []
    assert session.get_one(AcdEvent, event.id).status_id == AcdStatus.NEW


def test_no_duplicates_folds_a_repeat_into_the_open_event(
    session: Session, tenant: NewTenant
) -> None:
    group = _group(session, tenant, no_duplicate_events=True)
    first = _event(session, tenant, group, subject="first")
    data = AcdEventCreate(
        type_id=AcdEventType.TICKET, group_id=group.id, sender="customer@example.com", subject="2nd"
    )
    again, created = service.create_event(session, Scope.system(tenant.tenant.id), data, NOW)
    assert not created and again.id == first.id and "2nd" in (again.comment or "")
    service.complete(session, first, NOW)
    fresh, created = service.create_event(session, Scope.system(tenant.tenant.id), data, NOW)
    assert created and fresh.id != first.id  # a done event is no longer a duplicate


def test_status_transitions(session: Session, tenant: NewTenant) -> None:
    group = _group(session, tenant)
    event = _event(session, tenant, group)
    assert event.status_id == AcdStatus.NEW
    service.offer(session, event, _agent(session, tenant, group, "a", NOW), NOW)
    assert event.status_id == AcdStatus.SEEN
    service.complete_event(session, Scope.system(tenant.tenant.id), event.id, NOW)
    assert event.status_id == AcdStatus.DONE and event.done_at == NOW
    service.complete_event(
        session, Scope.system(tenant.tenant.id), event.id, NOW + timedelta(hours=1)
    )
    assert event.done_at == NOW  # idempotent
    failed = _event(session, tenant, group)
    service.fail(session, failed, NOW, "gave up")
    with pytest.raises(Conflict):
        service.complete(session, failed, NOW)
    with pytest.raises(NotFound):
        service.complete_event(session, Scope.system(tenant.tenant.id + 1000), event.id, NOW)


def _campaign_with(
    session: Session, tenant: NewTenant, group: AgentGroup, user_id: int
) -> Campaign:
    data = CampaignCreate(name="C", dial_mode="progressive", status="enabled")
    campaign = create_campaign(session, Scope.system(tenant.tenant.id), data)
    campaign.agent_group_id = group.id
    add_member(session, campaign, user_id)
    return campaign


def test_a_callback_with_a_number_becomes_a_personal_callback_contact(
    session: Session, tenant: NewTenant
) -> None:
    group = _group(session, tenant)
    agent = _agent(session, tenant, group, "a", NOW - timedelta(minutes=5))
    campaign = _campaign_with(session, tenant, group, agent)
    callback = _event(
        session, tenant, group, type_id=AcdEventType.CALLBACK, sender="030 12345678", user_data="X"
    )
    no_number = _event(session, tenant, group, type_id=AcdEventType.CALLBACK, sender="anonymous")
    # not running here: offered, not dialled
    assert _deliver(session, tenant) == [callback.id]
    assert callback.contact_id is None
    service.complete(session, callback, NOW)
    second = _event(
        session, tenant, group, type_id=AcdEventType.CALLBACK, sender="030 12345679", priority=99
    )
    offers = delivery.deliver_due(session, NOW, {tenant.tenant.id}, {campaign.id})
    assert [(o.event_id, o.user_id) for o in offers] == [(second.id, agent)]
    contact = session.get_one(Contact, offers[0].contact_id)
    assert contact.campaign_id == campaign.id and contact.reserved_user_id == agent
    assert contact.next_try_at == NOW and contact.phones[0].e164 == "+493012345679"
    assert session.get_one(AcdEvent, no_number.id).status_id == AcdStatus.NEW

    # settling: a connected call after the offer closes it, a finished contact fails it
    make_attempt(
        session,
        tenant.tenant.id,
        campaign_id=campaign.id,
        contact_id=contact.id,
        b_number="+493012345679",
        started_at=NOW + timedelta(seconds=1),
        ended_at=NOW + timedelta(seconds=90),
        outcome=CallOutcome.CONNECTED,
    )
    assert delivery.settle_dialled(session, NOW, {tenant.tenant.id}) == 1
    assert second.status_id == AcdStatus.DONE and second.done_at == NOW + timedelta(seconds=90)


def test_an_unreached_callback_fails_when_its_contact_is_finished(
    session: Session, tenant: NewTenant
) -> None:
    group = _group(session, tenant)
    agent = _agent(session, tenant, group, "a", NOW - timedelta(minutes=5))
    campaign = _campaign_with(session, tenant, group, agent)
    event = _event(session, tenant, group, type_id=AcdEventType.CALLBACK, sender="030 12345678")
    (offer,) = delivery.deliver_due(session, NOW, {tenant.tenant.id}, {campaign.id})
    assert delivery.settle_dialled(session, NOW, {tenant.tenant.id}) == 0  # not dialled yet
    session.get_one(Contact, offer.contact_id).status = ContactStatus.DONE
    session.flush()
    assert delivery.settle_dialled(session, NOW, {tenant.tenant.id}) == 1
    assert event.status_id == AcdStatus.ERROR

"""Native API: running campaigns, live state, pacing log and the agent state machine."""

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import event
from sqlalchemy.orm import Session

from opendialer.accounts.service import NewTenant
from opendialer.dialing.router import wall_clock
from opendialer.models import (
    AgentSession,
    AgentState,
    CallAttempt,
    CallOutcome,
    Campaign,
    Contact,
    ContactPhone,
    ContactStatus,
    PacingDecision,
    ResultAction,
    ResultCode,
    User,
)
from opendialer.web.state import state_of
from tests.factories import make_agent, make_attempt

NOW = datetime(2026, 6, 3, 10, 0, tzinfo=UTC)
"""A Wednesday morning: far from any midnight, so "today" and calling hours never flicker."""


@pytest.fixture(autouse=True)
def pinned_clock(app: FastAPI) -> Iterator[None]:
    app.dependency_overrides[wall_clock] = lambda: lambda: NOW
    yield
    app.dependency_overrides.pop(wall_clock)


def _campaign(api: TestClient, **fields: object) -> dict[str, object]:
    body = {
        "name": "Run",
        "dial_mode": "predictive",
        "calling_days": [1, 2, 3, 4, 5, 6, 7],
        "calling_hours_start": "00:00:00",
        "calling_hours_end": "23:59:59",
        **fields,
    }
    response = api.post("/api/v1/campaigns", json=body)
    assert response.status_code == 201, response.text
    data: dict[str, object] = response.json()
    return data


def _agent(session: Session, tenant: NewTenant, campaign_id: int | None = None) -> User:
    campaigns = [] if campaign_id is None else [session.get_one(Campaign, campaign_id)]
    user = make_agent(session, tenant.tenant.id, campaigns=campaigns)
    session.commit()
    return user


def _contact(session: Session, campaign_id: int, tenant: NewTenant, **fields: object) -> Contact:
    contact = Contact(
        tenant_id=tenant.tenant.id,
        campaign_id=campaign_id,
        next_try_at=NOW - timedelta(minutes=1),
        custom_data={},
        form_data={},
        **fields,
    )
    contact.phones = [
        ContactPhone(
            tenant_id=tenant.tenant.id,
            campaign_id=campaign_id,
            position=1,
            raw="+4930123456",
            e164="+4930123456",
        )
    ]
    session.add(contact)
    session.commit()
    return contact


def test_start_reports_why_it_cannot_dial(
    api: TestClient, session: Session, tenant: NewTenant
) -> None:
    campaign = _campaign(api)
    url = f"/api/v1/campaigns/{campaign['id']}"
    assert api.post(f"{url}:start").json()["state"] == "no_members"
    user = _agent(session, tenant, int(str(campaign["id"])))
    assert api.post(f"{url}:start").json()["state"] == "no_agents_logged_in"
    api.post(f"/api/v1/agents/{user.id}:login")
    assert api.post(f"{url}:start").json()["state"] == "no_eligible_contacts"
    _contact(session, int(str(campaign["id"])), tenant)
    started = api.post(f"{url}:start").json()
    assert (started["state"], started["status"]) == ("running", "enabled")
    stopped = api.post(f"{url}:stop").json()
    assert (stopped["state"], stopped["status"]) == ("disabled", "disabled")


def test_outside_hours_is_a_state(api: TestClient, session: Session, tenant: NewTenant) -> None:
    campaign = _campaign(api, calling_days=[])
    _agent(session, tenant, int(str(campaign["id"])))
    assert api.post(f"/api/v1/campaigns/{campaign['id']}:start").json()["state"] == "outside_hours"


def test_agent_state_machine_over_http(
    api: TestClient, session: Session, tenant: NewTenant
) -> None:
    user = _agent(session, tenant)
    base = f"/api/v1/agents/{user.id}"
    assert api.get(f"{base}/session").json()["state"] == "logged_out"
    refused = api.post(f"{base}:ready")
    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "invalid_agent_transition"
    assert api.post(f"{base}:login").json()["state"] == "paused"
    assert api.post(f"{base}:ready").json()["state"] == "ready"
    paused = api.post(f"{base}:pause", json={"reason": "coffee"}).json()
    assert (paused["state"], paused["pause_reason"]) == ("paused", "coffee")
    assert api.post(f"{base}:logout").json()["state"] == "logged_out"


def test_force_logout_frees_an_agent_stuck_on_a_call(
    api: TestClient, other_api: TestClient, session: Session, tenant: NewTenant
) -> None:
    """An agent on a call no engine knows (its engine died) can be forced out by an admin."""
    user = _agent(session, tenant)
    base = f"/api/v1/agents/{user.id}"
    api.post(f"{base}:login")
    api.post(f"{base}:ready")
    row = session.get_one(AgentSession, user.id)
    row.state, row.engine_id = AgentState.ON_CALL, "dead-engine"
    session.commit()
    refused = api.post(f"{base}:logout")
    assert refused.status_code == 409
    assert refused.json()["error"]["details"] == {"state": "on_call", "event": "logout"}
    assert other_api.post(f"{base}:logout", json={"force": True}).status_code == 404
    assert api.post(f"{base}:logout", json={"force": False}).status_code == 409
    forced = api.post(f"{base}:logout", json={"force": True})
    assert forced.status_code == 200, forced.text
    assert forced.json()["state"] == "logged_out"
    session.expire_all()
    assert session.get_one(AgentSession, user.id).engine_id is None
    assert api.post(f"{base}:login").json()["state"] == "paused"  # usable again
    assert api.post(f"{base}:logout", json={"forced": True}).status_code == 422


def test_agents_of_other_tenants_are_invisible(
    api: TestClient, other_api: TestClient, session: Session, tenant: NewTenant
) -> None:
    user = _agent(session, tenant)
    assert other_api.post(f"/api/v1/agents/{user.id}:login").status_code == 404
    assert other_api.get(f"/api/v1/agents/{user.id}/session").status_code == 404
    assert api.post(f"/api/v1/agents/{user.id}:login").status_code == 200


def test_engine_actions_need_the_engine(
    api: TestClient, session: Session, tenant: NewTenant
) -> None:
    user = _agent(session, tenant)
    response = api.post(f"/api/v1/agents/{user.id}:hangup")
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "engine_not_here"


def test_result_code_decides_the_contact(
    api: TestClient, session: Session, tenant: NewTenant
) -> None:
    campaign = _campaign(api)
    cid = int(str(campaign["id"]))
    user = _agent(session, tenant, cid)
    contact = _contact(session, cid, tenant, status=ContactStatus.DONE)
    code = ResultCode(
        tenant_id=tenant.tenant.id,
        campaign_id=cid,
        code="CB",
        text_en="Again",
        text_de="Nochmal",
        action=ResultAction.RETRY,
        retry_delay_seconds=600,
    )
    session.add(code)
    attempt = make_attempt(
        session,
        tenant.tenant.id,
        campaign_id=cid,
        contact_id=contact.id,
        user_id=user.id,
        phone_position=1,
        started_at=NOW,
        ended_at=NOW,
        outcome=CallOutcome.CONNECTED,
    )
    session.commit()
    body = {"call_attempt_id": attempt.id, "result_code_id": code.id}
    assert api.post(f"/api/v1/agents/{user.id}:result", json=body).status_code == 204
    session.expire_all()
    refreshed = session.get_one(Contact, contact.id)
    assert refreshed.status is ContactStatus.PENDING and refreshed.result_code_id == code.id
    other = _agent(session, tenant, cid)
    assert api.post(f"/api/v1/agents/{other.id}:result", json=body).status_code == 409


def test_callback_personal_and_validation(
    api: TestClient, session: Session, tenant: NewTenant
) -> None:
    campaign = _campaign(api)
    cid = int(str(campaign["id"]))
    user = _agent(session, tenant, cid)
    contact = _contact(session, cid, tenant)
    at = (NOW + timedelta(hours=2)).isoformat()
    ok = api.post(f"/api/v1/agents/{user.id}:callback", json={"contact_id": contact.id, "at": at})
    assert ok.status_code == 204
    session.expire_all()
    refreshed = session.get_one(Contact, contact.id)
    assert refreshed.reserved_user_id == user.id
    assert refreshed.next_try_at == datetime.fromisoformat(at)
    past = (NOW - timedelta(hours=2)).isoformat()
    late = api.post(
        f"/api/v1/agents/{user.id}:callback", json={"contact_id": contact.id, "at": past}
    )
    assert late.status_code == 400
    stranger = _agent(session, tenant)
    assert (
        api.post(
            f"/api/v1/agents/{stranger.id}:callback", json={"contact_id": contact.id, "at": at}
        ).status_code
        == 409
    )


def _attempt(
    tenant: NewTenant, campaign_id: int, outcome: CallOutcome, started_at: datetime = NOW
) -> CallAttempt:
    return CallAttempt(
        tenant_id=tenant.tenant.id,
        campaign_id=campaign_id,
        b_number="+4930123456",
        started_at=started_at,
        ended_at=started_at,
        outcome=outcome,
    )


def test_live_state_and_stream(api: TestClient, session: Session, tenant: NewTenant) -> None:
    campaign = _campaign(api)
    cid = int(str(campaign["id"]))
    _contact(session, cid, tenant)
    _contact(session, cid, tenant, locked=True)
    for outcome in (
        CallOutcome.CONNECTED,
        CallOutcome.CONNECTED,
        CallOutcome.ABANDONED,
        CallOutcome.NO_ANSWER,
    ):
        session.add(_attempt(tenant, cid, outcome))
    session.commit()
    state = api.get(f"/api/v1/campaigns/{cid}/live").json()
    assert state["contacts"]["pending"] == 1 and state["contacts"]["locked"] == 1
    assert state["today"]["live_answers"] == 3 and state["today"]["abandoned"] == 1
    assert abs(state["last_30_days"]["abandonment"] - 1 / 3) < 1e-9
    assert state["calls"] is None
    with api.stream(
        "GET", f"/api/v1/campaigns/{cid}/live/stream", params={"limit": 2, "interval": 0.2}
    ) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        events = [line for line in response.iter_lines() if line.startswith("data: ")]
    assert len(events) == 2
    assert json.loads(events[0][6:])["campaign_id"] == cid


def test_live_state_counts_each_figure_once(
    api: TestClient, app: FastAPI, session: Session, tenant: NewTenant
) -> None:
    """Every client polls the live view: one query per figure (both windows of rates in one),
    and the windows still differ."""
    cid = int(str(_campaign(api, status="enabled")["id"]))
    for started_at in (NOW, NOW - timedelta(days=10), NOW - timedelta(days=40)):
        session.add(_attempt(tenant, cid, CallOutcome.CONNECTED, started_at))
    session.commit()
    statements: list[str] = []
    engine = state_of(app).db_engine
    record = lambda *args: statements.append(args[2])  # noqa: E731
    # (SQLite's BEGIN is a statement of its own; PostgreSQL's is not counted here)
    event.listen(engine, "before_cursor_execute", record)
    try:
        state = api.get(f"/api/v1/campaigns/{cid}/live").json()
    finally:
        event.remove(engine, "before_cursor_execute", record)
    assert state["today"]["attempts"] == 1 and state["last_30_days"]["attempts"] == 2
    # the campaign, its members, agents by state (twice: counts and list), contacts, rates
    # (and the API key's, unless this process verified it within the last second)
    queries = [s for s in statements if not s.startswith("BEGIN") and "FROM api_keys" not in s]
    assert len(queries) == 6, "\n".join(queries)


def test_pacing_log_pages(
    api: TestClient, other_api: TestClient, session: Session, tenant: NewTenant
) -> None:
    campaign = _campaign(api)
    cid = int(str(campaign["id"]))
    for i in range(3):
        session.add(
            PacingDecision(
                tenant_id=tenant.tenant.id,
                campaign_id=cid,
                decided_at=NOW,
                algorithm="predictive",
                dials=i,
                target_in_flight=2.5,
                inputs={"p_live": 0.2},
                reason=f"decision {i}",
            )
        )
    session.commit()
    page = api.get(f"/api/v1/campaigns/{cid}/pacing-log", params={"limit": 2}).json()
    assert [d["dials"] for d in page["items"]] == [0, 1]
    assert page["items"][0]["inputs"] == {"p_live": 0.2}
    assert other_api.get(f"/api/v1/campaigns/{cid}/pacing-log").status_code == 404

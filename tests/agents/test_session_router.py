"""Native API: the agent's live session over HTTP (the state machine, forced logout, other
tenants' agents), the engine's agent actions and the agent's wrap-up (result code, callback)."""

from datetime import datetime, timedelta

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from opendialer.accounts.service import NewTenant
from opendialer.models import (
    AgentSession,
    AgentState,
    CallOutcome,
    Contact,
    ContactStatus,
    ResultAction,
    ResultCode,
)
from tests.dialing.test_router import NOW, new_agent, new_campaign, new_contact, pinned_clock
from tests.factories import make_attempt

__all__ = ["pinned_clock"]  # the pinned wall clock, autouse here as well


def test_agent_state_machine_over_http(
    api: TestClient, session: Session, tenant: NewTenant
) -> None:
    user = new_agent(session, tenant)
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
    user = new_agent(session, tenant)
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
    user = new_agent(session, tenant)
    assert other_api.post(f"/api/v1/agents/{user.id}:login").status_code == 404
    assert other_api.get(f"/api/v1/agents/{user.id}/session").status_code == 404
    assert api.post(f"/api/v1/agents/{user.id}:login").status_code == 200


def test_engine_actions_need_the_engine(
    api: TestClient, session: Session, tenant: NewTenant
) -> None:
    user = new_agent(session, tenant)
    response = api.post(f"/api/v1/agents/{user.id}:hangup")
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "engine_not_here"


def test_result_code_decides_the_contact(
    api: TestClient, session: Session, tenant: NewTenant
) -> None:
    campaign = new_campaign(api)
    cid = int(str(campaign["id"]))
    user = new_agent(session, tenant, cid)
    contact = new_contact(session, cid, tenant, status=ContactStatus.DONE)
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
    other = new_agent(session, tenant, cid)
    assert api.post(f"/api/v1/agents/{other.id}:result", json=body).status_code == 409


def test_callback_personal_and_validation(
    api: TestClient, session: Session, tenant: NewTenant
) -> None:
    campaign = new_campaign(api)
    cid = int(str(campaign["id"]))
    user = new_agent(session, tenant, cid)
    contact = new_contact(session, cid, tenant)
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
    stranger = new_agent(session, tenant)
    assert (
        api.post(
            f"/api/v1/agents/{stranger.id}:callback", json={"contact_id": contact.id, "at": at}
        ).status_code
        == 409
    )
